"""crm-sync: routed leads, SLA status and conversions into Salesforce; ``crm.synced`` out."""
