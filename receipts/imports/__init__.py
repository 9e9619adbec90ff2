"""Backfilling receipts from usage logs (``receipt import``, ``POST /v1/import``)."""
