"""List import for marketing-ops people: CSV/XLSX → leads.inbound, with a rejects file."""
