"""crm-changes: the Salesforce change feed (SystemModstamp polling → ``crm.changes``)."""
