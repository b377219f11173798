"""Leadflow platform library: the plumbing every service shares. Importing it connects to nothing."""
