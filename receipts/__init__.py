"""The receipts service: prices LLM calls, signs and chains receipts, exports ledgers.

Built on the format core in ``verifier`` (which never imports this package). The signing core
(``signing``, ``builder``, ``ledger``) needs only the base install; the HTTP service, database
and pricing from ``genai-prices`` need the ``server`` extra.

``receipts.tags`` is :func:`receipts.client.context.tags` (the agent side, ``client`` extra):
``with receipts.tags(project="ranker"):`` tags every receipt recorded inside the block.
"""

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """``receipts.tags``, imported when first used (the service never needs the client)."""
    if name == "tags":
        from receipts.client.context import tags

        return tags
    raise AttributeError(f"module 'receipts' has no attribute {name!r}")
