"""A tag value spelled ``(unattributed)`` is a value like any other: it never merges with the
receipts that have no such tag (spec §8). JSON gives the missing tag as null; CSV and the table
as an empty cell (no tag value is empty: an empty value counts as missing), and the table says
what an empty cell means.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.verifier.resign import resigned
from verifier.cli import COMMANDS
from verifier.edge import command_line

main = command_line("receipt", "The offline verifier alone (no service).", COMMANDS)

COST_CENTERS = {0: "(unattributed)", 1: "ops", 2: "(unattributed)", 3: ""}
"""Receipt index -> its cost_center tag ("" is an empty value); receipts 4 and 5 have none."""


def _tag(index: int, payload: dict[str, Any]) -> None:
    if index in COST_CENTERS:
        payload["tags"]["cost_center"] = COST_CENTERS[index]


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("unattributed") / "ledger.cbor"
    path.write_bytes(resigned(_tag))
    return path


def run(ledger: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["rollup", str(ledger), "--by", "cost_center", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_json_keeps_the_value_and_gives_a_missing_tag_as_null(ledger: Path) -> None:
    rows = json.loads(run(ledger, "--format", "json"))
    assert {r["cost_center"]: r["receipts"] for r in rows} == {
        "(unattributed)": 2, "ops": 1, None: 3}


def test_csv_shows_a_missing_tag_as_an_empty_cell(ledger: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(run(ledger, "--format", "csv"))))
    assert sorted((r["cost_center"], r["receipts"]) for r in rows) == [
        ("", "3"), ("(unattributed)", "2"), ("ops", "1")]


def test_the_table_shows_them_apart_and_says_what_an_empty_cell_is(ledger: Path) -> None:
    out = run(ledger)
    lines = out.splitlines()
    body = [line for line in lines[1:] if line.strip() and "USD" in line]
    assert len(body) == 3
    assert sum(line.startswith("(unattributed) ") for line in body) == 1
    assert sum(line.startswith(" ") for line in body) == 1  # the empty cell: no such tag
    assert "An empty cost_center cell (unattributed): receipts without that tag, or with an " \
        "empty value." in out


def test_no_note_when_every_receipt_has_the_tag(ledger: Path) -> None:
    result = CliRunner().invoke(main, ["rollup", str(ledger), "--by", "team"])
    assert result.exit_code == 0 and "An empty" not in result.stdout
