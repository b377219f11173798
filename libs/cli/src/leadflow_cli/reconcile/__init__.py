"""`leadflow reconcile`: leadflow's belief (its topics) against Salesforce (paged SOQL), difference by lead."""
