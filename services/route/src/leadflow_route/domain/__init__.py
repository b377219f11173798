"""Pure routing domain: roster values, routing configuration, policies, round-robin ledger, SLA targets."""
