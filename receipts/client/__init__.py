"""The agent side: request a signed receipt per LLM call (``pip install 'receipts[client]'``).

Needs only ``httpx`` beside the verifier's base install: never the server's packages.
"""

from receipts.client.clients import AsyncReceiptsClient, ReceiptsClient
from receipts.client.context import current_tags, tags
from receipts.client.spool import Spool
from receipts.client.wire import Decision, Recorded

__all__ = ["AsyncReceiptsClient", "Decision", "ReceiptsClient", "Recorded", "Spool",
           "current_tags", "tags"]
