"""Leadflow route: scored leads → an owner (policies as data, weighted round-robin) and an SLA due time."""
