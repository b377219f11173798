"""I/O: Salesforce (one session per simulated rep) and the plan store."""
