"""Pure intake domain: parsing, normalisation, consent, signatures. No I/O, no clock, no logging."""
