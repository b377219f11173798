"""Web layer: pages, JSON APIs, server-sent events, auth."""
