"""``receipt audit``: is an existing usage log attribution-ready? Grouped spend and warnings,
from any log :mod:`receipts.logs` reads, priced with a price book; no service, nothing signed."""
