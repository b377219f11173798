"""Leadflow ops console."""
