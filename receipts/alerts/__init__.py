"""Alerts: raised inside the caller's transaction, delivered later through an outbox."""
