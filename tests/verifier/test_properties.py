"""Property tests: encoder, strict decoder, money arithmetic, rollups, tampering (single bytes,
spans)."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verifier import VerifyOptions, audit_ledger
from verifier.encoding import decode_strict, encode
from verifier.errors import EncodingError
from verifier.money import FX_ONE, convert, cost_of, format_amount, parse_amount
from verifier.rollup import Rollup, RollupSpec

from .strategies import texts, values


@given(values)
def test_encode_then_strict_decode_round_trips(value: Any) -> None:
    data = encode(value)
    assert decode_strict(data) == value
    assert encode(decode_strict(data)) == data


@given(st.dictionaries(texts, st.integers(min_value=0, max_value=2**32), min_size=2, max_size=6))
def test_any_other_key_order_is_rejected(mapping: dict[str, int]) -> None:
    deterministic = encode(mapping)
    reordered = bytes(cbor2.dumps(dict(reversed(list(decode_strict(deterministic).items())))))
    if reordered != deterministic:
        with pytest.raises(EncodingError):
            decode_strict(reordered)


@given(st.integers(min_value=0, max_value=23))
def test_non_shortest_integers_are_rejected(n: int) -> None:
    assert decode_strict(bytes([n])) == n
    with pytest.raises(EncodingError):
        decode_strict(bytes([0x18, n]))


def test_duplicates_indefinite_floats_trailing_are_rejected() -> None:
    for bad in (b"\xa2\x61a\x01\x61a\x02", b"\xbf\x61a\x01\xff", b"\xf9\x3e\x00",
                b"\xfb\x3f\xf8\x00\x00\x00\x00\x00\x00", b"\x01\x00", b"\x9f\xff"):
        with pytest.raises(EncodingError):
            decode_strict(bad)
    with pytest.raises(EncodingError):
        encode({"cost": 1.5})


usage_maps = st.dictionaries(st.sampled_from(["input", "cache_read", "cache_write", "output"]),
                             st.integers(min_value=0, max_value=10**8), min_size=1)


@given(usage_maps, st.integers(min_value=0, max_value=10**11))
def test_cost_is_exact_decimal_arithmetic(usage: dict[str, int], price: int) -> None:
    prices = dict.fromkeys(usage, price)
    exact = sum(Decimal(n) * Decimal(price).scaleb(-6) / Decimal(10**6) for n in usage.values())
    assert Decimal(cost_of(usage, prices)).scaleb(-12) == exact


@given(st.integers(min_value=0, max_value=10**20), st.integers(min_value=1, max_value=10**12))
def test_fx_conversion_is_round_half_even(cost: int, rate: int) -> None:
    exact = Decimal(cost) * Decimal(rate) / Decimal(FX_ONE)
    assert convert(cost, rate) == int(exact.to_integral_value(rounding=ROUND_HALF_EVEN))


@given(st.integers(min_value=-(10**30), max_value=10**30), st.sampled_from([0, 6, 9, 12]))
def test_amount_text_round_trips(amount: int, scale: int) -> None:
    assert parse_amount(format_amount(amount, scale), scale) == amount


receipts_strategy = st.lists(
    st.fixed_dictionaries({
        "tags": st.dictionaries(st.sampled_from(["team", "project"]),
                                st.sampled_from(["a", "b", "c"])),
        "issued_at": st.integers(min_value=0, max_value=2 * 10**12),
        "currency": st.sampled_from(["USD", "EUR"]),
        "cost": st.one_of(st.none(), st.integers(min_value=0, max_value=10**15)),
        "usage": usage_maps,
        "provider": st.sampled_from(["openai", "google"]),
    }),
    max_size=40,
)


@given(receipts_strategy, st.sampled_from([None, "day", "month"]))
def test_rollup_groups_sum_to_the_receipts_exactly(receipts: list[dict[str, Any]],
                                                    period: str | None) -> None:
    rollup = Rollup(RollupSpec(("team", "provider"), period))
    halves = Rollup(RollupSpec(("team", "provider"), period)), Rollup(RollupSpec(("team",
                                                                                 "provider"),
                                                                                period))
    for i, receipt in enumerate(receipts):
        rollup.add(receipt)
        halves[i % 2].add(receipt)
    halves[0].merge(halves[1])
    for currency in ("USD", "EUR"):
        want = sum(r["cost"] or 0 for r in receipts if r["currency"] == currency)
        got = sum(g.cost for k, g in rollup.groups.items() if k[-1] == currency)
        assert got == want
    assert sum(g.receipts for g in rollup.groups.values()) == len(receipts)
    assert sum(g.unpriced for g in rollup.groups.values()) == sum(
        r["cost"] is None for r in receipts)
    assert {k: (g.cost, g.receipts, g.tokens) for k, g in rollup.groups.items()} == {
        k: (g.cost, g.receipts, g.tokens) for k, g in halves[0].groups.items()}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_single_byte_change_is_rejected(vectors: Path, data: st.DataObject) -> None:
    ledger = (vectors / "valid/ledger.cbor").read_bytes()
    offset = data.draw(st.integers(min_value=0, max_value=len(ledger) - 1), label="offset")
    new = data.draw(st.integers(min_value=0, max_value=255).filter(lambda b: b != ledger[offset]),
                    label="byte")
    tampered = ledger[:offset] + bytes([new]) + ledger[offset + 1 :]
    report = audit_ledger([tampered], VerifyOptions(workers=1))
    assert not report.valid
    assert report.failure is not None


@st.composite
def span_edits(draw: st.DrawFn, ledger: bytes) -> bytes:
    """The ledger with one span edited: deleted, inserted (random bytes, or a copy of another
    span of the ledger, as a splice of real items would be), or the tail cut off."""
    start = draw(st.integers(min_value=0, max_value=len(ledger) - 1), label="start")
    length = draw(st.integers(min_value=1, max_value=600), label="length")
    kind = draw(st.sampled_from(["delete", "insert", "copy", "truncate"]), label="kind")
    if kind == "delete":
        return ledger[:start] + ledger[start + length :]
    if kind == "truncate":
        return ledger[:start]
    if kind == "insert":
        inserted = draw(st.binary(min_size=1, max_size=length), label="inserted")
    else:
        source = draw(st.integers(min_value=0, max_value=len(ledger) - 1), label="source")
        inserted = ledger[source : source + length]
    return ledger[:start] + inserted + ledger[start:]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_span_edit_is_rejected_without_raising(vectors: Path, data: st.DataObject) -> None:
    """Deleting, inserting, splicing or cutting bytes anywhere gives an invalid report with a
    failure (the reporting API never raises, whatever the bytes)."""
    ledger = (vectors / "valid/ledger.cbor").read_bytes()
    tampered = data.draw(span_edits(ledger), label="tampered")
    report = audit_ledger([tampered], VerifyOptions(workers=1))
    assert not report.valid
    assert report.failure is not None
