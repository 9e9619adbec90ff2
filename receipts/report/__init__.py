"""The monthly spend report: facts from a verified ledger or the spend API, one structure,
four formats (``receipt report``, ``GET /v1/reports/{month}``)."""
