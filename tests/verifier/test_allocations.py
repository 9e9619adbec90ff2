"""Allocation sets (spec §7.8, §8.1): signed items of their own, checked in step 2f, applied to
the verified totals so that every group's amount is reproducible and the parts add up to the
invoice exactly; shares follow the largest-remainder rule.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.verifier.signer import START_MS, Signer, sample_ledger
from verifier.allocate import Cell, allocate, allocation_spec, invoice_total, share_out
from verifier.allocation import AllocationSet, Distribute, Fixed, Split, in_force
from verifier.cli import COMMANDS
from verifier.edge import command_line
from verifier.encoding import encode
from verifier.errors import SchemaError
from verifier.rollup import Rollup
from verifier.verify import VerifyOptions, audit_ledger

main = command_line("receipt", "The offline verifier alone (no service).", COMMANDS)
CENT = 10**10
UNIT = 10**12
SEATS = {"kind": "fixed", "name": "Seat licences", "category": "seat_licences",
         "unit_price": 30 * UNIT, "quantities": {"search": 12, "support": 3}, "credit": False}
DISCOUNT = {"kind": "distribute", "name": "Invoice discount", "category": "discount",
            "amount": 1 * UNIT, "unit": CENT, "credit": True, "key": "spend",
            "scope": {"provider": "openai"}}
TOOLS = {"kind": "distribute", "name": "Vector DB", "category": "tools",
         "amount": 100 * UNIT, "unit": CENT, "credit": False,
         "key": {"search": 2, "research": 1}, "scope": {}}
SHARED = {"kind": "split", "name": "Shared support bot", "category": "shared_agent",
          "match": {"agent": "agent-support"}, "ratios": {"search": 60, "research": 40},
          "unit": CENT}


def rule_set(*rules: dict[str, Any], month: str = "2025-12", created: int = START_MS,
             currency: str = "GBP") -> dict[str, Any]:
    return {"v": 1, "name": "FY26 chargeback", "effective_from": month, "created_at": created,
            "currency": currency, "by": "team", "rules": list(rules)}


def parsed(payload: dict[str, Any]) -> AllocationSet:
    return AllocationSet.from_payload(payload, encode(payload))


# -- the largest-remainder rule ---------------------------------------------------------------

@settings(max_examples=300)
@given(pool=st.integers(0, 10**18), unit=st.integers(1, 10**12),
       weights=st.dictionaries(st.text("abcdef", min_size=1, max_size=3),
                               st.integers(0, 10**9), min_size=1, max_size=8))
def test_share_out_hands_out_the_whole_pool_within_one_unit_of_each_share(
        pool: int, unit: int, weights: dict[str, int]) -> None:
    parts = share_out(pool, weights, unit)
    total = sum(weights.values())
    if total == 0 or pool == 0:
        assert parts == {}
        return
    assert sum(parts.values()) == pool
    for group, part in parts.items():
        exact = Fraction(pool * weights[group], total)
        assert abs(part - exact) <= unit
        assert weights[group] > 0
    if pool % unit == 0:
        assert all(part % unit == 0 for part in parts.values())


def test_share_out_ties_go_in_group_order() -> None:
    # 1.00 in cents among three equal weights: 0.34 to the first in group order
    assert share_out(100 * CENT, {"b": 1, "a": 1, "c": 1}, CENT) == {
        "a": 34 * CENT, "b": 33 * CENT, "c": 33 * CENT}
    assert share_out(100 * CENT, {None: 1, "a": 1, "c": 1}, CENT)[None] == 34 * CENT
    # a pool below one unit: all of it to the first group in remainder order
    assert share_out(7, {"a": 1, "b": 3}, CENT) == {"a": 0, "b": 7}


# -- the rules, checked -------------------------------------------------------------------------

def test_a_set_reads_into_typed_rules() -> None:
    aset = parsed(rule_set(SEATS, DISCOUNT, TOOLS, SHARED))
    fixed, discount, tools, split = aset.rules
    assert isinstance(fixed, Fixed) and fixed.quantities["search"] == 12
    assert isinstance(discount, Distribute) and discount.weights is None and discount.credit
    assert isinstance(tools, Distribute) and tools.weights == {"search": 2, "research": 1}
    assert isinstance(split, Split) and split.match == {"agent": "agent-support"}
    assert aset.names == ("team", "provider", "agent")


@pytest.mark.parametrize(("change", "field"), [
    ({"effective_from": "2025-13"}, "effective_from"),
    ({"rules": []}, "rules"),
    ({"rules": [{**SEATS, "kind": "bonus"}]}, "kind"),
    ({"rules": [{**SEATS, "extra": 1}]}, "unknown field"),
    ({"rules": [{**DISCOUNT, "amount": CENT + 1}]}, "whole number of units"),
    ({"rules": [{**DISCOUNT, "unit": 0}]}, "unit"),
    ({"rules": [{**TOOLS, "key": {"search": 0}}]}, "at least one weight"),
    ({"rules": [{**TOOLS, "scope": {"provider": "openai"}}]}, "scope"),
    ({"rules": [{**SHARED, "ratios": {"search": 0}}]}, "ratios.search"),
    ({"rules": [{**SHARED, "match": {}}]}, "match"),
    ({"rules": [SEATS, SEATS]}, "distinct"),
    ({"rules": [{**SEATS, "credit": 1}]}, "credit"),
    ({"by": ""}, "by"),
])
def test_a_broken_rule_is_a_schema_error_naming_it(change: dict[str, Any], field: str) -> None:
    with pytest.raises(SchemaError, match=field):
        parsed({**rule_set(SEATS), **change})


def test_the_set_in_force_is_the_latest_for_the_month() -> None:
    first = parsed(rule_set(SEATS, month="2025-11", created=START_MS))
    correction = parsed(rule_set(TOOLS, month="2025-11", created=START_MS + 1))
    january = parsed(rule_set(SHARED, month="2026-01"))
    sets = [january, correction, first]
    assert in_force(sets, "2025-10") is None
    assert in_force(sets, "2025-12") is correction
    assert in_force(sets, "2026-02") is january


# -- applying a set: the parts add up to the invoice --------------------------------------------

def cell(team: str | None, agent: str, provider: str, cost: int) -> Cell:
    return Cell({"team": team, "agent": agent, "provider": provider}, 1, 0, cost)


def test_a_month_allocated_by_hand() -> None:
    aset = parsed(rule_set(SEATS, DISCOUNT, TOOLS, SHARED))
    rollup = Rollup(aset_spec := allocation_spec([aset]))
    for team, agent, provider, cost in [("search", "a1", "openai", 3 * UNIT),
                                        ("support", "agent-support", "anthropic", 10 * UNIT),
                                        (None, "a2", "openai", 1 * UNIT)]:
        rollup.add({"tags": {"team": team} if team else {}, "agent": agent,
                    "provider": provider, "issued_at": START_MS, "fx": {"currency": "GBP"},
                    "cost_reporting": cost, "usage": {}, "cost": cost, "currency": "USD"})
    assert aset_spec.by == ("team", "provider", "agent")
    rows = {r.group: r for r in allocate(rollup, [aset])}
    search, support, research, none = (rows["search"], rows["support"], rows["research"],
                                       rows[None])
    assert support.lines["Shared support bot"] == -10 * UNIT
    assert search.lines["Shared support bot"] == 6 * UNIT
    assert research.lines["Shared support bot"] == 4 * UNIT
    assert search.lines["Seat licences"] == 360 * UNIT
    assert support.lines["Seat licences"] == 90 * UNIT
    # the discount follows OpenAI spend after splits: search 3, unattributed 1 (of 4)
    assert search.lines["Invoice discount"] == -75 * CENT
    assert none.lines["Invoice discount"] == -25 * CENT
    assert search.lines["Vector DB"] == 6667 * CENT  # 66.666... the larger remainder
    assert research.lines["Vector DB"] == 3333 * CENT
    assert invoice_total(rows.values()) == (14 + 450 - 1 + 100) * UNIT
    assert support.total == 90 * UNIT  # its receipts moved out; its seats stay


RULES = st.sampled_from([SEATS, DISCOUNT, TOOLS, SHARED,
                         {**SHARED, "name": "Platform", "match": {"team": "platform"},
                          "ratios": {"search": 1, "support": 2, "ads": 7}, "unit": 1},
                         {**TOOLS, "name": "Credit", "credit": True, "amount": 7 * CENT}])
CELLS = st.lists(st.tuples(st.sampled_from(["search", "support", "platform", None]),
                           st.sampled_from(["agent-support", "a1"]),
                           st.sampled_from(["openai", "anthropic"]),
                           st.integers(0, 10**15)), max_size=12)


@settings(max_examples=200)
@given(rules=st.lists(RULES, min_size=1, max_size=6, unique_by=lambda r: r["name"]),
       cells=CELLS)
def test_the_groups_add_up_to_the_invoice_exactly(rules: list[dict[str, Any]],
                                                  cells: list[tuple[Any, ...]]) -> None:
    aset = parsed(rule_set(*rules))
    rollup = Rollup(allocation_spec([aset]))
    for team, agent, provider, cost in cells:
        rollup.add({"tags": {"team": team} if team else {}, "agent": agent,
                    "provider": provider, "issued_at": START_MS, "fx": {"currency": "GBP"},
                    "cost_reporting": cost, "usage": {}, "cost": cost, "currency": "USD"})
    rows = allocate(rollup, [aset])
    charged = sum(q * r["unit_price"] * (-1 if r["credit"] else 1)
                  for r in rules if r["kind"] == "fixed" for q in r["quantities"].values())
    charged += sum(r["amount"] * (-1 if r["credit"] else 1)
                   for r in rules if r["kind"] == "distribute")
    if cells:
        assert invoice_total(rows) == sum(c[3] for c in cells) + charged
    for rule in rules:
        if rule["kind"] == "split":
            assert sum(r.lines.get(rule["name"], 0) for r in rows) == 0
        if rule["kind"] == "distribute" and cells:
            lines = [r.lines[rule["name"]] for r in rows if rule["name"] in r.lines]
            assert all(line % rule["unit"] == 0 for line in lines)


# -- in a ledger: step 2f and `receipt rollup --with-allocations` -------------------------------

@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer(b"\x07" * 32)


def test_a_ledger_with_allocation_sets_verifies_and_rolls_up(signer: Signer,
                                                            tmp_path: Path) -> None:
    sets = [rule_set(SEATS, SHARED, month="2025-11"), rule_set(SEATS, TOOLS, DISCOUNT)]
    path = tmp_path / "ledger.cbor"
    path.write_bytes(sample_ledger(signer, 120, chains=2, allocation_sets=sets))
    report = audit_ledger([path.read_bytes()], VerifyOptions(workers=1))
    assert report.valid, report.failure
    assert {a.effective_from for a in report.allocation_sets} == {"2025-11", "2025-12"}

    result = CliRunner().invoke(main, ["rollup", str(path), "--with-allocations",
                                       "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert {r["period"] for r in rows} == {"2025-12"}
    newest = parsed(sets[1]).id.hex()
    assert all(r["allocation_set"] == newest for r in rows)
    plain = CliRunner().invoke(main, ["rollup", str(path), "--by", "team", "--currency",
                                      "reporting", "--format", "json"])
    spend = sum(int(r["cost"].replace(".", "")) for r in json.loads(plain.stdout))
    total = sum(int(r["total"].replace(".", "")) for r in rows)
    assert total == spend + 450 * UNIT + 100 * UNIT - 1 * UNIT
    table = CliRunner().invoke(main, ["rollup", str(path), "--with-allocations"])
    assert table.exit_code == 0 and "invoice total" in table.stdout
    csv_out = CliRunner().invoke(main, ["rollup", str(path), "--with-allocations",
                                        "--format", "csv"])
    assert "line:Invoice discount" in csv_out.stdout.splitlines()[0]
    assert "'-" not in csv_out.stdout  # a credit is a number, not defused text


def test_month_keeps_one_months_rows(signer: Signer, tmp_path: Path) -> None:
    path = tmp_path / "ledger.cbor"
    path.write_bytes(sample_ledger(signer, 40, allocation_sets=[rule_set(SEATS)]))
    every = CliRunner().invoke(main, ["rollup", str(path), "--with-allocations", "--format",
                                      "json"])
    months = {r["period"] for r in json.loads(every.stdout)}
    assert months
    for month in months:
        one = CliRunner().invoke(main, ["rollup", str(path), "--with-allocations", "--month",
                                        month, "--format", "json"])
        assert one.exit_code == 0, one.output
        assert json.loads(one.stdout) == [r for r in json.loads(every.stdout)
                                          if r["period"] == month]
    for bad in (["--month", "2025-13", "--with-allocations"], ["--month", "2025-12", "--by",
                                                                "team"]):
        assert CliRunner().invoke(main, ["rollup", str(path), *bad]).exit_code == 2


def test_with_allocations_refuses_by_and_a_ledger_without_sets(signer: Signer,
                                                               tmp_path: Path) -> None:
    path = tmp_path / "plain.cbor"
    path.write_bytes(sample_ledger(signer, 5))
    mixed = CliRunner().invoke(main, ["rollup", str(path), "--with-allocations", "--by", "x"])
    assert mixed.exit_code == 2
    none = CliRunner().invoke(main, ["rollup", str(path), "--with-allocations"])
    assert none.exit_code == 2 and "no allocation set" in none.stderr
    assert CliRunner().invoke(main, ["rollup", str(path)]).exit_code == 2


def failure(data: bytes) -> tuple[str, int]:
    report = audit_ledger([data], VerifyOptions(workers=1))
    assert report.failure is not None and report.failure.position is not None
    return report.failure.code, report.failure.position.item


def test_step_2f_failures(signer: Signer) -> None:
    other = Signer(b"\x09" * 32)
    good = rule_set(SEATS)
    assert failure(sample_ledger(signer, 3, allocation_sets=[
        {**good, "currency": "USD"}])) == ("schema_violation", 4)
    assert failure(sample_ledger(signer, 3, allocation_sets=[good, good])) == (
        "duplicate_item", 5)
    assert failure(sample_ledger(signer, 3, allocation_sets=[
        {**good, "rules": [{**SEATS, "unit_price": -1}]}])) == ("schema_violation", 4)
    assert failure(sample_ledger(signer, 3, allocation_sets=[
        {**good, "created_at": START_MS - 2 * 86_400_000}])) == ("key_not_valid", 4)
    data = bytearray(sample_ledger(signer, 3, allocation_sets=[good]))
    foreign = other.sign("application/vnd.receipts.allocation-set+cbor", good)
    mine = signer.sign("application/vnd.receipts.allocation-set+cbor", good)
    assert failure(bytes(data).replace(mine, foreign)) == ("untrusted_key", 4)
    flipped = mine[:-1] + bytes([mine[-1] ^ 1])
    assert failure(bytes(data).replace(mine, flipped))[0] in ("bad_signature",
                                                             "non_canonical_signature")
