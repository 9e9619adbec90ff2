"""What the writer hands back: one request's calls (a job) and each call's outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from receipts.errors import (
    ReceiptsError,
)
from receipts.issuing.prepare import Prepared
from verifier import cose
from verifier.encoding import decode_strict
from verifier.jsonview import receipt_json


@dataclass
class Outcome:
    """One appended (201) or replayed (200) receipt, or the error for that item.

    A replay of a call first seen in the same group points at that call's outcome
    (``source``), which is filled when the group is signed.
    """

    status: int
    item: bytes | None = None
    payload: dict[str, Any] | None = None
    error: ReceiptsError | None = None
    view: dict[str, Any] | None = None
    source: Outcome | None = None

    def signed_item(self) -> bytes | None:
        """The COSE bytes of the receipt (None until the group is signed)."""
        return self.source.signed_item() if self.source is not None else self.item

    def json_view(self) -> dict[str, Any]:
        """The receipt payload as JSON (money as decimal strings)."""
        if self.source is not None:
            return self.source.json_view()
        if self.view is None:
            if self.payload is None:
                assert self.item is not None
                self.payload = decode_strict(cose.parse(self.item).payload)
            self.view = receipt_json(self.payload)
        return self.view


@dataclass
class Job:
    """One request's calls; ``atomic`` jobs are all appended or none."""

    calls: list[Prepared]
    atomic: bool = True
    outcomes: list[Outcome] = field(default_factory=list)
    error: ReceiptsError | None = None


