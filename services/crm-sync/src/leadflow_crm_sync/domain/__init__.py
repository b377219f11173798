"""Pure decisions: Salesforce payloads, write classification, API budget, retries, conversion. No I/O."""
