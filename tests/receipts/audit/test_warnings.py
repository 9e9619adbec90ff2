"""``receipt audit``: each of the seven warning codes on a log made to show it, the JSON shape of
a warning, the verdict and the exit codes (0 ready, 1 not ready, 2 unreadable input).

Prices come from a fixed book (the shipped list prices plus ``gpt-4o`` billed by Azure too), so
every amount below is exact: gpt-4o is $2.50 input, $1.25 cache read, $10 output per 1M tokens.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from receipts.cli.main import main
from tests.receipts.audit.conftest import line


def audit(book: Path, tmp_path: Path, lines: list[str], *options: str) -> Result:
    log = tmp_path / "calls.jsonl"
    log.write_text("\n".join(lines) + "\n")
    return CliRunner().invoke(main, ["audit", str(log), "--book", str(book), *options])


def report(book: Path, tmp_path: Path, lines: list[str], *options: str) -> tuple[int, Any]:
    done = audit(book, tmp_path, lines, "--format", "json", *options)
    return done.exit_code, json.loads(done.output)


def warnings(doc: Any) -> dict[str, dict[str, Any]]:
    return {w["code"]: w for w in doc["warnings"]}


def test_a_clean_log_is_ready_exit_0_with_no_warning(book: Path, tmp_path: Path) -> None:
    code, doc = report(book, tmp_path, [line("a", cost="0.0035"), line("b")])
    assert code == 0 and doc["ready"] and doc["verdict"] == "attribution-ready"
    assert doc["warnings"] == [] and doc["total_spend"] == "0.007000000000"
    assert doc["attributable_share"] == "100.00"


def test_unattributed_names_the_calls_missing_a_required_tag(book: Path, tmp_path: Path
                                                             ) -> None:
    code, doc = report(book, tmp_path, [line("a"), line("b", tags={"team": "search"})])
    assert code == 1 and not doc["ready"]
    assert warnings(doc) == {"unattributed": {"code": "unattributed", "count": 1,
                                              "cost": "0.003500000000",
                                              "lines": [f"{tmp_path}/calls.jsonl:2"]}}
    assert doc["attributable_share"] == "50.00"
    # the bar and the required tags are options
    code, doc = report(book, tmp_path, [line("a"), line("b", tags={"team": "search"})],
                       "--require", "team")
    assert code == 0 and doc["warnings"] == []
    code, _ = report(book, tmp_path, [line("a"), line("b", tags={"team": "search"})],
                     "--min-share", "50")
    assert code == 0


def test_duplicate_request_ids_are_counted_once_and_make_the_log_not_ready(
        book: Path, tmp_path: Path) -> None:
    code, doc = report(book, tmp_path, [line("a"), line("b"), line("a")])
    assert code == 1 and doc["total_spend"] == "0.007000000000"  # the repeat is not added
    assert warnings(doc)["duplicate"] == {"code": "duplicate", "count": 1,
                                          "cost": "0.003500000000",
                                          "lines": [f"{tmp_path}/calls.jsonl:3"]}


def test_alias_drift_several_names_of_one_billed_model_and_latest_aliases(
        book: Path, tmp_path: Path) -> None:
    code, doc = report(book, tmp_path, [
        line("a"), line("b"), line("c", model="gpt-4o-2024-08-06"),
        line("d", model="openai/gpt-4o"), line("e", model="chatgpt-4o-latest")])
    drift = warnings(doc)["alias_drift"]
    where = f"{tmp_path}/calls.jsonl"
    assert drift["count"] == 3
    assert sorted(drift["lines"]) == [f"{where}:3", f"{where}:4", f"{where}:5"]
    assert code == 0  # drift is a warning, not a reason to refuse chargeback


def test_pricing_mismatch_beyond_the_tolerance_with_what_the_log_overstates(
        book: Path, tmp_path: Path) -> None:
    lines = [line("a", cost="0.0050"), line("b", cost="0.00351")]
    code, doc = report(book, tmp_path, lines)
    assert warnings(doc)["pricing_mismatch"] == {
        "code": "pricing_mismatch", "count": 1, "cost": "0.001500000000",
        "lines": [f"{tmp_path}/calls.jsonl:1"]}  # 0.00351 is within 1%
    _, strict = report(book, tmp_path, lines, "--tolerance", "0.1%")
    assert warnings(strict)["pricing_mismatch"]["count"] == 2
    assert code == 0


def test_cache_as_input_a_logged_cost_that_priced_cached_tokens_as_input(
        book: Path, tmp_path: Path) -> None:
    # 200 input + 800 cached + 100 output = $0.0025; all 1000 as input = $0.0035
    code, doc = report(book, tmp_path, [line("a", cached=800, cost="0.0035"),
                                        line("b", cached=800, cost="0.0025")])
    found = warnings(doc)
    assert found["cache_as_input"] == {"code": "cache_as_input", "count": 1,
                                       "cost": "0.001000000000",
                                       "lines": [f"{tmp_path}/calls.jsonl:1"]}
    assert "pricing_mismatch" not in found and code == 0


def test_unknown_model_is_priced_by_its_logged_cost_else_counted_unpriced(
        book: Path, tmp_path: Path) -> None:
    code, doc = report(book, tmp_path, [line("a"), line("b", model="mystery-9", cost="0.25"),
                                        line("c", model="mystery-9")])
    assert warnings(doc)["unknown_model"] == {
        "code": "unknown_model", "count": 2, "cost": "0.250000000000",
        "lines": [f"{tmp_path}/calls.jsonl:2", f"{tmp_path}/calls.jsonl:3"]}
    (group,) = doc["groups"]
    assert group["unpriced_calls"] == 1 and doc["total_spend"] == "0.253500000000"
    assert code == 0


def test_mixed_providers_one_model_billed_by_several(book: Path, tmp_path: Path) -> None:
    code, doc = report(book, tmp_path, [line("a"), line("b"), line("c", provider="azure")])
    assert warnings(doc) == {"mixed_providers": {"code": "mixed_providers", "count": 1,
                                                 "cost": "0.003500000000",
                                                 "lines": [f"{tmp_path}/calls.jsonl:3"]}}
    assert code == 0


def test_every_code_in_one_log_in_csv_and_table(book: Path, tmp_path: Path) -> None:
    lines = [line("a"), line("b"), line("a"), line("c", tags={}),
             line("d", model="gpt-4o-latest"), line("e", cost="0.01"),
             line("f", cached=800, cost="0.0035"), line("g", model="nope"),
             line("h", provider="azure")]
    code, doc = report(book, tmp_path, lines)
    assert code == 1
    assert [w["code"] for w in doc["warnings"]] == [
        "unattributed", "duplicate", "alias_drift", "pricing_mismatch", "cache_as_input",
        "unknown_model", "mixed_providers"]
    csv_out = audit(book, tmp_path, lines, "--format", "csv").output
    assert csv_out.startswith("section,team,calls,spend")
    assert sum(row.startswith("warning,") for row in csv_out.splitlines()) == 7
    table = audit(book, tmp_path, lines).output
    assert "mixed_providers" in table and "not attribution-ready" in table


def test_stdin_is_read_with_a_dash(book: Path) -> None:
    done = CliRunner().invoke(main, ["audit", "-", "--book", str(book), "--format", "json"],
                              input=line("a") + "\n" + line("b") + "\n")
    assert done.exit_code == 0 and json.loads(done.output)["records"] == 2


@pytest.mark.parametrize(("lines", "message"), [
    ([line("a"), "{oops"], "calls.jsonl:2: not JSON"),
    ([line("a"), '{"hello": 1}'], "calls.jsonl:2: no known shape"),
    ([line("a", prompt=10, cached=20)], "calls.jsonl:1: usage.prompt_tokens_details"),
])
def test_unreadable_input_exits_2_with_the_line_and_why(book: Path, tmp_path: Path,
                                                       lines: list[str], message: str) -> None:
    done = audit(book, tmp_path, lines)
    assert done.exit_code == 2
    (only,) = done.output.strip().splitlines()
    assert only.startswith("error: ") and message in only


def test_a_missing_file_exits_2(book: Path, tmp_path: Path) -> None:
    done = CliRunner().invoke(main, ["audit", str(tmp_path / "nope.jsonl"), "--book",
                                     str(book)])
    assert done.exit_code == 2 and "nope.jsonl" in done.output
