"""Leadflow intake: leads from Kafka and HTTP in, ``leads.accepted`` / ``leads.rejected`` out."""
