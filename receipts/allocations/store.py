"""Recording allocation sets (signed at ``set`` time) and reading them back.

``record`` is what ``receipt allocations set`` and ``POST /v1/allocations`` both run: the
document becomes a spec §7.8 payload stamped with the reporting currency and a ``created_at``
at which the service key is valid, is checked with the verifier's rules, signed, and stored
beside every earlier version. Exports write the stored items as they were signed, so the
ledger carries the very bytes that were recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from receipts.allocations.source import checked, to_payload, unit_text
from receipts.allocations.tables import AllocationSetRow
from receipts.clock import now_ms
from receipts.deployment.runtime import Runtime
from receipts.errors import Conflict, NotFound
from receipts.storage.tables import table
from verifier import cose
from verifier.allocation import AllocationSet
from verifier.encoding import decode_strict, encode
from verifier.jsonview import iso_ms
from verifier.minor_units import minor_unit_exponent

SET = table(AllocationSetRow)
MONEY_FIELDS = ("unit_price", "amount", "unit")


@dataclass(frozen=True)
class StoredSet:
    """One recorded set: the verifier's reading of it, its payload bytes and signed item."""

    aset: AllocationSet
    payload: bytes
    item: bytes
    source_format: str


def record(runtime: Runtime, data: Any, source_format: str) -> StoredSet:
    """Check, sign and store the decoded allocation document ``data`` as a new version."""
    facts = runtime.facts
    created_at = max(now_ms(), facts.key_valid_from)
    payload = to_payload(data, facts.reporting_currency, created_at)
    payload_bytes = encode(payload)
    aset = checked(payload)
    item = runtime.signer.sign_payload_bytes(cose.ALLOCATION_SET, payload_bytes)
    with runtime.db.write() as conn:
        if conn.execute(sa.select(SET.c.id).where(SET.c.id == aset.id)).first() is not None:
            raise Conflict("this allocation set is already stored")
        conn.execute(sa.insert(SET).values(
            id=aset.id, name=aset.name, effective_from=aset.effective_from,
            created_at=aset.created_at, source_format=source_format, payload=payload_bytes,
            item=item))
    return StoredSet(aset, payload_bytes, item, source_format)


def _stored(row: Any) -> StoredSet:
    payload = bytes(row.payload)
    return StoredSet(AllocationSet.from_payload(decode_strict(payload), payload), payload,
                     bytes(row.item), row.source_format)


def stored_sets(conn: Connection) -> list[StoredSet]:
    """Every recorded set, in the order a ledger lists them (month, time, id)."""
    rows = conn.execute(sa.select(SET).order_by(SET.c.effective_from, SET.c.created_at,
                                                SET.c.id))
    return [_stored(r) for r in rows]


def set_items(conn: Connection) -> list[bytes]:
    """The signed items of every set, in :func:`stored_sets` order (what an export writes)."""
    rows = conn.execute(sa.select(SET.c.item).order_by(SET.c.effective_from,
                                                       SET.c.created_at, SET.c.id))
    return [bytes(i) for i in rows.scalars()]


def find(conn: Connection, set_id: str) -> StoredSet:
    """One set by its id (64 hex digits, or a unique prefix of at least 8)."""
    wanted = set_id.lower()
    found = [s for s in stored_sets(conn) if s.aset.id.hex().startswith(wanted)]
    if len(wanted) < 8 or len(found) != 1:
        raise NotFound(f"no allocation set {set_id!r}" + (
            " (the prefix names several)" if len(found) > 1 and len(wanted) >= 8 else ""))
    return found[0]


def _money(value: Any, places: int) -> Any:
    return (unit_text(value, places) if isinstance(value, int) and not isinstance(value, bool)
            else value)


def set_json(stored: StoredSet, *, rules: bool = True) -> dict[str, Any]:
    """A set as the CLI and the API show it: amounts as decimal strings of the currency."""
    aset = stored.aset
    out: dict[str, Any] = {
        "id": aset.id.hex(), "name": aset.name, "effective_from": aset.effective_from,
        "created_at": iso_ms(aset.created_at), "currency": aset.currency, "by": aset.by,
        "rule_count": len(aset.rules)}
    if rules:
        payload = decode_strict(stored.payload)
        places = minor_unit_exponent(aset.currency)
        out["rules"] = [{k: _money(v, places) if k in MONEY_FIELDS else v
                         for k, v in r.items()} for r in payload["rules"]]
    return out


def summary(stored: StoredSet) -> str:
    """One line per rule under the set's id (what ``allocations set`` prints)."""
    data = set_json(stored)
    lines = [f"allocation set {data['id']} stored: {data['name']!r}, from "
             f"{data['effective_from']}, by {data['by']}, {data['currency']}, "
             f"{data['rule_count']} rule(s)"]
    for rule in data["rules"]:
        if rule["kind"] == "fixed":
            detail = (f"{rule['unit_price']} x " + ", ".join(
                f"{g} {q}" for g, q in rule["quantities"].items()))
        elif rule["kind"] == "distribute":
            key = rule["key"] if rule["key"] == "spend" else ", ".join(
                f"{g} {w}" for g, w in rule["key"].items())
            detail = f"{rule['amount']} by {key} in steps of {rule['unit']}"
            if rule["scope"]:
                detail += " (scope " + ", ".join(f"{k}={v}" for k, v in
                                                 rule["scope"].items()) + ")"
        else:
            detail = (", ".join(f"{k}={v}" for k, v in rule["match"].items()) + " split "
                      + ":".join(str(r) for r in rule["ratios"].values()) + " ("
                      + ", ".join(rule["ratios"]) + f") in steps of {rule['unit']}")
        credit = " credit" if rule.get("credit") else ""
        lines.append(f"  {rule['kind']}{credit} {rule['name']!r} [{rule['category']}]: "
                     f"{detail}")
    return "\n".join(lines)
