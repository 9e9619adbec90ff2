"""Rollups count retries (receipts with ``retry_of``) and can leave them out (spec §8).

A retry is billed spend, so by default it is in every total and counted in ``retries``; with
``--exclude-retries`` the rollup shows first attempts only and says how many it left out.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.verifier.resign import VECTORS, receipts, resigned
from verifier.cli import COMMANDS
from verifier.edge import command_line
from verifier.rollup import Rollup, RollupSpec

main = command_line("receipt", "The offline verifier alone (no service).", COMMANDS)

IDS = [r["id"] for r in receipts((VECTORS / "valid" / "ledger.cbor").read_bytes())]


def _with_retries(index: int, payload: dict[str, Any]) -> None:
    # receipt 4 (gpt-4o-mini, search) retries receipt 0; receipt 5 (llama, research, not
    # metered: unpriced) retries receipt 1
    if index in (4, 5):
        payload["retry_of"] = IDS[index - 4]


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("retries") / "ledger.cbor"
    path.write_bytes(resigned(_with_retries))
    return path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout


def _rows(ledger: Path, *args: str) -> dict[str, dict[str, Any]]:
    code, out = run("rollup", str(ledger), "--key", str(VECTORS / "test-key.pub.pem"), "--by",
                    "team", "--format", "json", *args)
    assert code == 0, out
    return {row["team"]: row for row in json.loads(out)}


def test_retries_are_counted_and_stay_in_every_total(ledger: Path) -> None:
    rows = _rows(ledger)
    assert {t: (r["receipts"], r["retries"], r["unpriced"], r["cost"]) for t, r in rows.items()} \
        == {"search": (2, 1, 0, "0.007574000000"), "research": (2, 1, 1, "0.638500000000"),
            "support": (2, 0, 1, "0.007200000000")}


def test_exclude_retries_leaves_them_out_of_every_total(ledger: Path) -> None:
    rows = _rows(ledger, "--exclude-retries")
    assert {t: (r["receipts"], r["retries"], r["unpriced"], r["cost"]) for t, r in rows.items()} \
        == {"search": (1, 0, 0, "0.005750000000"), "research": (1, 0, 0, "0.638500000000"),
            "support": (2, 0, 1, "0.007200000000")}
    assert rows["search"]["tokens"] == {"cache_read": 200, "input": 1000, "output": 300}


def test_the_table_and_csv_have_a_retries_column_and_the_table_says_what_was_left_out(
        ledger: Path) -> None:
    code, out = run("rollup", str(ledger), "--by", "team", "--format", "csv")
    assert code == 0
    assert {r["team"]: r["retries"] for r in csv.DictReader(io.StringIO(out))} == {
        "search": "1", "research": "1", "support": "0"}
    code, out = run("rollup", str(ledger), "--by", "team")
    header = out.splitlines()[0].split()
    assert code == 0 and header[header.index("unpriced") + 1] == "retries"
    assert "left out" not in out
    code, out = run("rollup", str(ledger), "--by", "team", "--exclude-retries")
    assert code == 0 and "2 retry receipt(s) left out (--exclude-retries)." in out


def test_partial_rollups_merge_retries_and_what_was_left_out(ledger: Path) -> None:
    payloads = receipts(ledger.read_bytes())
    for exclude in (False, True):
        spec = RollupSpec(("team",), exclude_retries=exclude)
        whole, left, right = Rollup(spec), Rollup(spec), Rollup(spec)
        for i, payload in enumerate(payloads):
            whole.add(payload)
            (left if i % 2 else right).add(payload)
        left.merge(right)
        assert left.excluded_retries == whole.excluded_retries == (2 if exclude else 0)
        assert {k: (g.receipts, g.retries, g.cost) for k, g in left.groups.items()} == {
            k: (g.receipts, g.retries, g.cost) for k, g in whole.groups.items()}
        assert sum(g.retries for g in whole.groups.values()) == (0 if exclude else 2)
