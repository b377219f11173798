"""Predictive lead scoring trained on the org's own history."""
