"""Salesforce gateway (port + simple-salesforce adapter) and the SQL repository."""
