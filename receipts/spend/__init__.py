"""Spend aggregates kept with the ledger, and the queries over them (``GET /v1/spend``)."""
