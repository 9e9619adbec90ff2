"""The HTTP routes, one module per audience: receipts (agents), admin, and the public ledger."""
