"""Where a statement's usage records come from: a verified ledger file, or a deployment.

From a ledger the verifier checks the whole file first (every signature, chain link, price
and FX conversion, against the pinned key) and totals it with its own rollup, by the tenant
tag, provider, model and UTC day, in the statement's currency. A second read of the same
file lists the tenant's receipts (their ids are what the rollup does not keep); their totals,
recomputed with the verifier's :class:`~verifier.rollup.Rollup`, must equal the verified ones
group for group, or nothing is printed: a file changed between the two reads is refused,
never half-trusted.

From a deployment the month's receipts are read from its database (the signed items, decoded
as the ledger's are; the month by the ``issued_at`` index), the tenant's picked by their tag.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from receipts.errors import LedgerInvalid
from receipts.statements.records import Ask, UsageRecord, record_of
from verifier import cose
from verifier.encoding import decode_strict, split_sequence
from verifier.errors import EncodingError, VerifierError
from verifier.keys import PublicKey
from verifier.rollup import Rollup, RollupSpec
from verifier.verify import VerifyOptions, audit_ledger_file, read_chunks

PAGE = 2000


@dataclass(frozen=True)
class Usage:
    """The tenant's usage records of the month and where they came from."""

    records: tuple[UsageRecord, ...]
    source: str
    receipts_verified: int | None = None


def _spec(ask: Ask) -> RollupSpec:
    return RollupSpec((ask.tag, "provider", "model"), "day", ask.mode)


def _payloads(path: Path) -> Iterator[dict[str, Any]]:
    try:
        for _, item in split_sequence(read_chunks(path)):
            env = cose.parse(item)
            if env.content_type == cose.RECEIPT:
                yield decode_strict(env.payload)
    except (VerifierError, EncodingError, OSError) as e:
        raise LedgerInvalid(f"{path}: unreadable on the second read ({e}): no statement "
                            "made") from e


def from_ledger(path: Path, keys: tuple[PublicKey, ...], ask: Ask, workers: int = 0) -> Usage:
    """Verify ``path`` against ``keys``, then list the tenant's receipts of the month."""
    if not path.is_file():
        raise LedgerInvalid(f"{path}: " + ("not a regular file" if path.exists()
                                           else "no such file"))
    spec = _spec(ask)
    report = audit_ledger_file(path, VerifyOptions(trusted_keys=keys, rollup=spec,
                                                   workers=workers))
    if not report.valid or report.rollup is None:
        raise LedgerInvalid(f"{path} is INVALID, no statement made: {report.failure}")
    verified = {key: group for key, group in report.rollup.groups.items()
                if key[0] == ask.tenant and (key[3] or "")[:7] == ask.month}
    listed = Rollup(spec)
    records = []
    for payload in _payloads(path):
        if ask.wants(payload):
            listed.add(payload)
            records.append(record_of(payload, ask))
    if listed.groups != verified:
        raise LedgerInvalid(f"{path} changed while it was read: its receipts no longer add "
                            "up to what was verified; no statement made")
    return Usage(tuple(records), str(path), report.receipts)


def from_database(conn: Connection, ask: Ask, source: str) -> Usage:
    """The tenant's receipts of the month, from the deployment's database."""
    from receipts.storage.tables import ReceiptRow, table

    receipts = table(ReceiptRow)
    low, high = ask.window_ms
    query = (sa.select(receipts.c.item)
             .where(receipts.c.issued_at >= low, receipts.c.issued_at < high)
             .order_by(receipts.c.issued_at, receipts.c.id)
             .execution_options(yield_per=PAGE))
    records = []
    for row in conn.execute(query):
        payload = decode_strict(cose.parse(bytes(row.item)).payload)
        if ask.wants(payload):
            records.append(record_of(payload, ask))
    return Usage(tuple(records), source)
