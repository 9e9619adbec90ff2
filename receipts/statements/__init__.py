"""Per-tenant statements: what one customer of a platform used in a month, by model and day,
with the receipts behind every line (``receipt statement``, ``GET /v1/statements``)."""
