"""The receipts service: prices LLM calls, signs and chains receipts, exports ledgers.

Built on the format core in ``verifier`` (which never imports this package). The signing core
(``signing``, ``builder``, ``ledger``) needs only the base install; the HTTP service, database
and pricing from ``genai-prices`` need the ``server`` extra.
"""

__version__ = "0.1.0"
