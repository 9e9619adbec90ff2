"""The rollup table is for people: costs rounded half to even to the currency's minor unit
(ISO 4217: USD 2 decimals, JPY 0, KWD 3), ``—`` for a group with no priced receipt, never 0;
CSV and JSON keep exact amounts and give such a group no cost (spec §8).
"""

from __future__ import annotations

import csv
import io
import json
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from verifier.cli import COMMANDS
from verifier.edge import command_line
from verifier.minor_units import EXPONENTS, NO_MINOR_UNIT, display_amount, minor_unit_exponent
from verifier.rollup import Rollup, RollupSpec
from verifier.rollup_view import NO_COST, render_csv, render_json, render_table

main = command_line("receipt", "The offline verifier alone (no service).", COMMANDS)

VECTORS = Path(__file__).resolve().parents[2] / "spec" / "vectors"
LEDGER = str(VECTORS / "valid" / "ledger.cbor")


def run(*args: str) -> str:
    result = CliRunner().invoke(main, ["rollup", LEDGER, *args])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize(("cost", "currency", "shown"), [
    (5_000_000_000, "USD", "0.00"),        # 0.005: half, to the even 0
    (15_000_000_000, "USD", "0.02"),       # 0.015: half, to the even 2
    (25_000_000_000, "USD", "0.02"),
    (5_000_000_001, "USD", "0.01"),        # just over half
    (4_999_999_999, "USD", "0.00"),
    (0, "USD", "0.00"),
    (18_446_744_073_709_551_615, "USD", "18446744.07"),
    (500_000_000_000, "JPY", "0"), (1_500_000_000_000, "JPY", "2"),
    (2_500_000_000_000, "JPY", "2"), (1_234_567_000_000_000, "JPY", "1235"),
    (500_000_000, "KWD", "0.000"), (1_500_000_000, "KWD", "0.002"),
    (123_456_789, "CLF", "0.0001"),
    (1, "XAU", "0.000000000001"),          # no minor unit in ISO 4217: exact
    (7_125_000_000, "ZZZ", "0.01"),        # a code ISO 4217 does not list: 2 decimals
])
def test_amounts_round_half_even_to_the_minor_unit(cost: int, currency: str, shown: str) -> None:
    assert display_amount(cost, currency) == shown


CURRENCIES = st.sampled_from(["USD", "EUR", "GBP", "ZZZ", *EXPONENTS, *NO_MINOR_UNIT])


@given(st.integers(min_value=0, max_value=2**64 - 1), CURRENCIES)
def test_rounding_agrees_with_decimal_half_even(cost: int, currency: str) -> None:
    exponent = minor_unit_exponent(currency)
    exact = Decimal(cost).scaleb(-12)
    assert Decimal(display_amount(cost, currency)) == exact.quantize(
        Decimal(1).scaleb(-exponent), rounding=ROUND_HALF_EVEN)
    assert len(display_amount(cost, currency).partition(".")[2]) == exponent


def _table_rows(out: str) -> dict[str, dict[str, str]]:
    lines = [line for line in out.split("\n\n")[0].splitlines() if line.strip()]
    header = lines[0].split()
    return {cells[0]: dict(zip(header, cells, strict=True))
            for cells in (line.split() for line in lines[1:])}


def test_a_group_without_a_priced_receipt_has_no_cost_in_any_format() -> None:
    table = run("--by", "model")
    assert "0.000000000000" not in table
    rows = _table_rows(table)
    assert rows["mystery-model"]["cost"] == NO_COST and rows["llama-3.1-70b"]["cost"] == NO_COST
    assert rows["gpt-4o"]["cost"] == "0.01"  # 0.00575 USD
    assert f"{NO_COST} in cost: no priced receipt in the group" in table
    as_json = {r["model"]: r for r in json.loads(run("--by", "model", "--format", "json"))}
    assert as_json["mystery-model"]["cost"] is None and as_json["llama-3.1-70b"]["cost"] is None
    assert as_json["gpt-4o"]["cost"] == "0.005750000000"
    as_csv = {r["model"]: r for r in csv.DictReader(io.StringIO(
        run("--by", "model", "--format", "csv")))}
    assert as_csv["mystery-model"]["cost"] == "" and as_csv["gpt-4o"]["cost"] == "0.005750000000"


@pytest.mark.parametrize("currency", ["native", "reporting"])
def test_table_amounts_are_the_exact_ones_rounded(currency: str) -> None:
    exact = {r["team"]: r for r in json.loads(run("--by", "team", "--currency", currency,
                                                  "--format", "json"))}
    table = run("--by", "team", "--currency", currency)
    assert "Costs are rounded to each currency's minor unit" in table
    for team, row in _table_rows(table).items():
        want = Decimal(exact[team]["cost"]).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
        assert row["cost"] == str(want) and row["currency"] == exact[team]["currency"]


def _receipt(team: str, currency: str, cost: int | None) -> dict[str, Any]:
    return {"tags": {"team": team}, "issued_at": 1_764_547_200_000, "currency": currency,
            "cost": cost, "fx": None, "cost_reporting": None, "usage": {"input": 10}}


def test_each_row_is_rounded_to_its_own_currency() -> None:
    rollup = Rollup(RollupSpec(("team",)))
    for receipt in (_receipt("a", "JPY", 1_234_567_000_000_000),
                    _receipt("b", "KWD", 1_500_000_000), _receipt("c", "USD", 25_000_000_000),
                    _receipt("d", "EUR", None)):
        rollup.add(receipt)
    rows = _table_rows(render_table(rollup))
    assert {team: row["cost"] for team, row in rows.items()} == {
        "a": "1235", "b": "0.002", "c": "0.02", "d": NO_COST}
    assert [r["cost"] for r in json.loads(render_json(rollup))] == [
        "1234.567000000000", "0.025000000000", "0.001500000000", None]
    assert "1234.567000000000" in render_csv(rollup)
