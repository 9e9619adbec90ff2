"""Spend anomaly detection: a pure function over cost per minute (detector)."""
