"""telesales-sim: simulated reps working their Salesforce queues for the demo."""
