"""I/O: the database (cursors, record snapshots, lease) and the Salesforce gateway."""
