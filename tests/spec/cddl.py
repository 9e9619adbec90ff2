"""spec/receipt.cddl checked by a stock CDDL tool (pycddl, the Rust crate cddl underneath).

Used by tests/spec (vectors) and tests/receipts (exported ledgers). Items are split and read
with cbor2, not with the verifier, so the CDDL is checked independently of our own decoder.
The tool's defects are worked around as spec/receipt.cddl says: an item is checked by parts (the
envelope against ``signed-item``, the protected header against the content type's
``*-protected`` rule, the payload against that content type's rule), because pycddl 0.6.4
applies ``.cbor`` on an array element to the whole array; and a receipt is checked against
``receipt`` and against each of the three maps of ``receipt-shape`` (it must match exactly
one), because the tool's choice between those maps accepts too much.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import cbor2
import pycddl

CDDL = Path(__file__).resolve().parents[2] / "spec" / "receipt.cddl"
KINDS = ("receipt", "ledger-header", "public-key", "price-book", "fx-rate", "allocation-set",
         "checkpoint")
RULE_OF_CONTENT_TYPE = {f"application/vnd.receipts.{kind}+cbor": kind for kind in KINDS}
"""Content type -> the CDDL rule of its payload (and ``<rule>-protected`` for its header)."""


@cache
def schema(rule: str) -> pycddl.Schema:
    """The CDDL with ``rule`` as its root (pycddl validates against a schema's first rule)."""
    return pycddl.Schema(f"cddl-test-root = {rule}\n" + CDDL.read_text())


def problem(rule: str, data: bytes) -> str | None:
    """None if ``data`` (one encoded CBOR item) matches ``rule``, else the tool's reason."""
    try:
        schema(rule).validate_cbor(data)
    except pycddl.ValidationError as e:
        return str(e)
    return None


RECEIPT_SHAPES = ("priced-receipt", "priced-receipt-without-fx", "unpriced-receipt")
RULE_KINDS = ("fixed-rule", "distribute-rule", "split-rule")


def payload_problem(rule: str, payload: bytes) -> str | None:
    """None if ``payload`` matches ``rule`` (for a receipt: and exactly one receipt shape)."""
    if (reason := problem(rule, payload)) is not None:
        return reason
    if rule == "receipt":
        shapes = [shape for shape in RECEIPT_SHAPES if problem(shape, payload) is None]
        if len(shapes) != 1:
            return f"matches {len(shapes)} of the receipt shapes, not exactly one: {shapes}"
    if rule == "allocation-set":
        for index, rule_value in enumerate(cbor2.loads(payload)["rules"]):
            encoded = cbor2.dumps(rule_value)
            kinds = [kind for kind in RULE_KINDS if problem(kind, encoded) is None]
            if len(kinds) != 1:
                return f"rules[{index}] matches {len(kinds)} of the rule maps, not one: {kinds}"
    return None


def items(ledger: bytes) -> Iterator[tuple[bytes, object]]:
    """The items of a CBOR sequence: (exact bytes, decoded value)."""
    stream = io.BytesIO(ledger)
    decoder = cbor2.CBORDecoder(stream)
    while stream.tell() < len(ledger):
        start = stream.tell()
        value = decoder.decode()
        yield ledger[start:stream.tell()], value


def item_problem(item: bytes, value: object) -> tuple[str, str] | None:
    """None if the item matches spec/receipt.cddl part by part, else (part, reason); the
    payload rule is chosen by the item's content type."""
    if (reason := problem("signed-item", item)) is not None:
        return "envelope", reason
    assert isinstance(value, cbor2.CBORTag)
    protected, _, payload, _ = value.value
    if (reason := problem("protected-header", protected)) is not None:
        return "protected", reason
    rule = RULE_OF_CONTENT_TYPE[cbor2.loads(protected)[3]]
    if (reason := problem(f"{rule}-protected", protected)) is not None:
        return "protected", reason
    if (reason := payload_problem(rule, payload)) is not None:
        return rule, reason
    return None


def ledger_problems(ledger: bytes) -> dict[int, tuple[str, str]]:
    """Item index -> (part, reason) for every item of ``ledger`` the CDDL refuses."""
    found = {}
    for index, (item, value) in enumerate(items(ledger)):
        if (bad := item_problem(item, value)) is not None:
            found[index] = bad
    return found


def kinds(ledger: bytes) -> list[str]:
    """The payload rule of every item, in order (to show which rules a ledger exercised)."""
    return [RULE_OF_CONTENT_TYPE[cbor2.loads(v.value[0])[3]] for _, v in items(ledger)
            if isinstance(v, cbor2.CBORTag)]
