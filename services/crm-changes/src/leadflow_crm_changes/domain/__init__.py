"""Pure code: feed configuration and SOQL, cursor arithmetic, change classification. No I/O."""
