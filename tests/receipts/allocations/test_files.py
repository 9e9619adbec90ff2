"""Allocation files to payloads: decimal strings become exact 10^-12 units (and come back the
same), an amount finer than the rounding is refused naming its field, and for any generated
rule file the groups' totals add up to the invoice to the cent: the receipts plus every fixed
and distributed amount the file states."""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from receipts.allocations.source import (
    AllocationError,
    checked,
    default_rounding,
    read_file,
    to_payload,
    unit_text,
)
from receipts.policies.rules import PolicyError
from verifier.allocate import allocate, allocation_spec, invoice_total
from verifier.rollup import Group, Rollup
from verifier.schema import MAX_UINT

UNIT = 10**12
CENT = 10**10
GROUPS = ("ads", "search", "support")
MONTH = "2026-11"


def document(*rules: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"name": "FY26", "effective_from": MONTH, "by": "team", "rules": list(rules),
            **fields}


SEATS = {"kind": "fixed", "name": "Seats", "category": "seat_licences", "unit_price": "30.00",
         "quantities": {"search": 12}}


def test_amounts_are_exact_and_a_negative_amount_is_a_credit() -> None:
    payload = to_payload(document(SEATS, {
        "kind": "distribute", "name": "Discount", "category": "discount", "amount": "-500.00",
        "scope": {"provider": "openai"}}), "USD", 5)
    seats, discount = payload["rules"]
    assert seats == {"kind": "fixed", "name": "Seats", "category": "seat_licences",
                     "unit_price": 30 * UNIT, "credit": False, "quantities": {"search": 12}}
    assert discount["amount"] == 500 * UNIT and discount["credit"] is True
    assert discount["unit"] == CENT and discount["key"] == "spend"
    assert payload["created_at"] == 5 and payload["currency"] == "USD"
    assert default_rounding("JPY") == UNIT and default_rounding("KWD") == UNIT // 1000


@pytest.mark.parametrize(("change", "field"), [
    ({"unit_price": "30.005"}, "rules.0.unit_price"),
    ({"unit_price": 30.0}, "rules.0.unit_price"),
    ({"unit_price": "3e1"}, "rules.0.unit_price"),
    ({"unit_price": "30.00", "credit": "yes"}, "rules.0.credit"),
    ({"quantities": {"search": -1}}, "rules.0.quantities.search"),
    ({"quantities": {"search": True}}, "rules.0.quantities.search"),
    ({"quantities": {}}, "rules.0.quantities"),
    ({"unit": 5}, "rules.0.unit"),
    ({"category": "x" * 65}, "rules.0.category"),
    ({"kind": ["fixed"]}, "rules.0.kind"),
    ({"name": "a\x00b"}, "rules.0.name"),
])
def test_a_bad_rule_names_its_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(AllocationError) as caught:
        to_payload(document({**SEATS, **change}), "USD", 0)
    assert caught.value.fields[0].field == field


@pytest.mark.parametrize(("fields", "field"), [
    ({"currency": "EUR"}, "currency"), ({"rounding": "0"}, "rounding"),
    ({"effective_from": "2026-1"}, "effective_from"), ({"by": "status"}, "by"),
    ({"rules": []}, "rules"), ({"extra": 1}, "extra"),
])
def test_a_bad_set_field_is_named(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(AllocationError) as caught:
        to_payload({**document(SEATS), **fields}, "USD", 0)
    assert caught.value.fields[0].field == field


def test_the_verifiers_refusals_name_the_field_too() -> None:
    with pytest.raises(AllocationError, match="distinct") as caught:
        to_payload(document(SEATS, SEATS), "USD", 0)
    assert caught.value.fields[0].field == "rules"
    with pytest.raises(AllocationError, match="exceeds a uint") as caught:
        to_payload(document({**SEATS, "quantities": {"ads": 10**9}}), "USD", 0)
    assert caught.value.fields[0].field == "rules.0.quantities.ads"


def test_json_and_toml_files_read_the_same(tmp_path: Path) -> None:
    as_json = tmp_path / "a.json"
    as_json.write_text(json.dumps(document(SEATS)))
    as_toml = tmp_path / "a.toml"
    as_toml.write_text('name = "FY26"\neffective_from = "2026-11"\nby = "team"\n[[rules]]\n'
                       'kind = "fixed"\nname = "Seats"\ncategory = "seat_licences"\n'
                       'unit_price = "30.00"\nquantities = { search = 12 }\n')
    assert to_payload(read_file(as_json)[1], "USD", 0) == to_payload(
        read_file(as_toml)[1], "USD", 0)
    (tmp_path / "b.toml").write_text("name = ")
    with pytest.raises(PolicyError, match="allocation file is not valid TOML"):
        read_file(tmp_path / "b.toml")


# -- properties ---------------------------------------------------------------------------------

steps = st.sampled_from(["0.01", "0.05", "1", "0.001", "0.000000000001"])


def decimal_text(units: int, step: str, zeros: int) -> str:
    """``units`` 10^-12 units written as a person might, with ``zeros`` trailing zeros."""
    text = unit_text(units)
    places = max(len(step.split(".")[1]) if "." in step else 0,
                 len(text.split(".")[1]) if "." in text else 0)
    whole = Decimal(units).scaleb(-12)
    return f"{whole:.{places + zeros}f}"


@settings(max_examples=300, deadline=None)
@given(step=steps, fraction=st.fractions(-1, 1), zeros=st.integers(0, 3))
def test_decimal_strings_round_trip_exactly(step: str, fraction: Fraction, zeros: int) -> None:
    unit = int(Decimal(step).scaleb(12))
    multiple = int(fraction * (MAX_UINT // unit))  # any amount a uint holds
    text = decimal_text(multiple * unit, step, zeros)
    pool = {"kind": "distribute", "name": "Pool", "category": "tools", "amount": text,
            "key": {"search": 1}}
    payload = to_payload({**document(pool), "rounding": step}, "USD", 0)
    rule = payload["rules"][0]
    assert rule["amount"] == abs(multiple) * unit and rule["credit"] == (multiple < 0)
    if multiple:  # and an amount finer than the step is refused, naming the field
        finer = decimal_text(multiple * unit + (1 if unit > 1 else 0), "0.000000000001", 0)
        if unit > 1:
            with pytest.raises(AllocationError, match=r"rules\.0\.amount"):
                to_payload({**document({**pool, "amount": finer}), "rounding": step}, "USD", 0)
    assert rule["unit"] == unit
    assert Decimal(unit_text(rule["amount"])) == abs(Decimal(text))
    assert Decimal(unit_text(unit)) == Decimal(step)


groups = st.sampled_from(GROUPS)
weights = st.dictionaries(groups, st.integers(0, 50), min_size=1).filter(
    lambda w: any(w.values()))
money_text = st.integers(-10**7, 10**7).map(lambda cents: f"{Decimal(cents).scaleb(-2):.2f}")


@st.composite
def rule_files(draw: st.DrawFn) -> dict[str, Any]:
    rules: list[dict[str, Any]] = []
    for i in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["fixed", "distribute", "split"]))
        rule: dict[str, Any] = {"kind": kind, "name": f"r{i}", "category": kind}
        if kind == "fixed":
            rule.update(unit_price=draw(money_text),
                        quantities=draw(st.dictionaries(groups, st.integers(0, 40),
                                                        min_size=1)))
        elif kind == "distribute":
            rule.update(amount=draw(money_text), key=draw(st.one_of(st.just("spend"),
                                                                    weights)))
            if rule["key"] == "spend" and draw(st.booleans()):
                rule["scope"] = {"provider": draw(st.sampled_from(["openai", "google"]))}
        else:
            rule.update(match={"agent": draw(st.sampled_from(["bot", "crawler"]))},
                        ratios=draw(weights.map(lambda w: {g: v for g, v in w.items()
                                                           if v} or {"ads": 1})))
        rules.append(rule)
    return document(*rules)


cells = st.lists(st.tuples(st.sampled_from((*GROUPS, None)), st.sampled_from(
    ["openai", "google"]), st.sampled_from(["bot", "crawler", "ranker"]),
    st.integers(0, 10**13)), max_size=12)


@settings(max_examples=300, deadline=None)
@given(data=rule_files(), spend=cells)
def test_generated_files_add_up_to_the_invoice_to_the_cent(
        data: dict[str, Any], spend: list[tuple[str | None, str, str, int]]) -> None:
    aset = checked(to_payload(data, "USD", 0))
    rollup = Rollup(allocation_spec([aset]))
    for team, provider, agent, cost in spend:
        values = {"team": team, "provider": provider, "agent": agent}
        key = (*(values[n] for n in rollup.spec.by), MONTH, "USD")
        group = rollup.groups.setdefault(key, Group())
        group.receipts += 1
        group.priced += 1
        group.cost += cost
    rows = allocate(rollup, [aset])
    if not spend:
        assert rows == []
        return
    stated = sum((Decimal(r["unit_price"]) * q for r in data["rules"] if r["kind"] == "fixed"
                  for q in r["quantities"].values()), Decimal(0))
    stated += sum((Decimal(r["amount"]) for r in data["rules"] if r["kind"] == "distribute"),
                  Decimal(0))
    receipts = sum(c[3] for c in spend)
    assert invoice_total(rows) == receipts + int(stated.scaleb(12))
    for rule in data["rules"]:
        lines = [r.lines[rule["name"]] for r in rows if rule["name"] in r.lines]
        if rule["kind"] == "split":
            assert sum(lines) == 0
        else:  # every fixed and distributed line is whole cents
            assert all(line % CENT == 0 for line in lines)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=8) | st.sampled_from(["fixed", "distribute", "split", "spend", "0.01",
                                             "-1.00", "team"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(
        ["kind", "name", "category", "unit_price", "quantities", "amount", "key", "scope",
         "match", "ratios", "rounding", "credit", "search", "ads", "provider", "x"]),
        inner, max_size=6), max_leaves=20)


@settings(max_examples=400, deadline=None)
@given(rules=st.lists(json_values, min_size=1, max_size=3),
       rounding=st.sampled_from(["0.01", "0.05"]) | json_values)
def test_any_document_is_a_payload_or_an_allocation_error(rules: list[Any],
                                                           rounding: Any) -> None:
    """Whatever a body holds, the answer is a checked payload or a 422 naming a field (never
    another exception, which would be a 500)."""
    data = {**document(*rules), "rounding": rounding}
    payload: dict[str, Any] | None = None
    refused: AllocationError | None = None
    try:
        payload = to_payload(data, "USD", 0)
    except AllocationError as e:
        refused = e
    if refused is not None:
        assert refused.fields and refused.fields[0].field
    else:
        assert payload is not None and checked(payload).rules


def test_a_yaml_file_reads_like_toml_and_its_floats_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text('name: FY26\neffective_from: "2026-11"\nby: team\nrules:\n'
                    '  - {kind: fixed, name: Seats, category: seat_licences, '
                    'unit_price: "30.00", quantities: {search: 12}}\n')
    assert to_payload(read_file(path)[1], "USD", 0) == to_payload(document(SEATS), "USD", 0)
    path.write_text(path.read_text().replace('"30.00"', "30.00"))
    with pytest.raises(AllocationError, match="a float is not exact") as caught:
        to_payload(read_file(path)[1], "USD", 0)
    assert caught.value.fields[0].field == "rules.0.unit_price"
