"""Pure SLA logic: timers and their state machine, and what a CRM change means for them."""
