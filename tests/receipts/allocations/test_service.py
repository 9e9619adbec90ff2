"""Allocation sets from the service: ``receipt allocations set FILE`` signs and stores every
version, ``POST``/``GET /v1/allocations`` do the same over HTTP, and an exported ledger carries
the sets so that ``receipt verify`` checks them and ``receipt rollup --with-allocations``
applies them: the groups' totals add up to the receipts plus every fixed and distributed
amount, to the 10^-12 unit."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from receipts.cli.main import main
from tests.receipts.conftest import (
    BOTH_DATABASES,
    Deployment,
    call,
    made_on,
    make_deployment,
)
from verifier import cose
from verifier.encoding import decode_strict, split_sequence
from verifier.verify import read_chunks

FILE = """
name = "FY26 chargeback"
effective_from = "2000-01"
by = "team"

[[rules]]
kind = "fixed"
name = "Seat licences"
category = "seat_licences"
unit_price = "30.00"
quantities = { search = 12, ads = 4 }

[[rules]]
kind = "split"
name = "Shared bot"
category = "shared_agent"
match = { project = "bot" }
ratios = { search = 2, ads = 1 }

[[rules]]
kind = "distribute"
name = "Discount"
category = "discount"
amount = "-1.00"
scope = { provider = "openai" }

[[rules]]
kind = "distribute"
name = "Vector DB"
category = "tools"
amount = "100.00"
key = { search = 2, ads = 1 }
"""
CHARGED = Decimal("30.00") * 16 - Decimal("1.00") + Decimal("100.00")
"""What the file adds to the receipts: seats, minus the credit, plus the tools bill."""


def receipt(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def on(dep: Deployment) -> list[str]:
    return ["--data", str(dep.settings.data_dir), "--db", dep.settings.db_url]


def issue(dep: Deployment) -> Decimal:
    """Receipts of two teams, one of them the shared bot's; their reporting cost."""
    agents = {"search": dep.agent("search")[1], "ads": dep.agent("ads")[1]}
    total = Decimal(0)
    with dep.client() as client:
        for i, (team, tags, provider, model) in enumerate([
                ("search", {"project": "ranker"}, "openai", "gpt-4o"),
                ("search", {"project": "bot"}, "openai", "gpt-4o-mini"),
                ("ads", {"project": "bidder"}, "anthropic", "claude-sonnet-4"),
                ("ads", {"project": "bot"}, "openai", "gpt-4o")]):
            answer = client.post("/v1/receipts", headers=agents[team], json=call(
                f"r{i}", provider=provider, model=model,
                tags={**tags, "environment": "prod"}))
            assert answer.status_code == 201, answer.text
            total += Decimal(answer.json()["receipt"]["cost_reporting"])
    return total


def export(dep: Deployment, path: Path) -> Path:
    result = receipt("export", *on(dep), "-o", str(path))
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture(params=BOTH_DATABASES)
def dep(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    yield from made_on(request, tmp_path, make_deployment)


def test_set_file_export_verify_and_rollup_add_up(dep: Deployment, tmp_path: Path) -> None:
    spent = issue(dep)
    rules = tmp_path / "allocations.toml"
    rules.write_text(FILE)
    stored = receipt("allocations", "set", str(rules), *on(dep))
    assert stored.exit_code == 0, stored.output
    set_id = stored.stdout.split()[2]
    assert len(set_id) == 64 and "4 rule(s)" in stored.stdout
    assert "fixed 'Seat licences' [seat_licences]: 30.00 x ads 4, search 12" in stored.stdout

    ledger = export(dep, tmp_path / "ledger.cbor")
    key = str(dep.made.public_key)
    verified = receipt("verify", str(ledger), "--key", key)
    assert verified.exit_code == 0, verified.output
    rolled = receipt("rollup", str(ledger), "--with-allocations", "--format", "json",
                     "--key", key, "--workers", "1")
    assert rolled.exit_code == 0, rolled.output
    rows = json.loads(rolled.stdout)
    assert {r["allocation_set"] for r in rows} == {set_id}
    by_team = {r["team"]: r for r in rows}
    assert set(by_team) == {"search", "ads"}
    assert sum(Decimal(r["receipts_cost"]) for r in rows) == spent
    assert sum(Decimal(r["total"]) for r in rows) == spent + CHARGED
    # the split moved the bot's receipts out and shared them 2:1; its lines sum to zero
    assert sum(Decimal(r["lines"]["Shared bot"]) for r in rows) == 0
    assert Decimal(by_team["search"]["lines"]["Seat licences"]) == 360
    assert Decimal(by_team["ads"]["lines"]["Vector DB"]) == Decimal("33.33")
    assert Decimal(by_team["search"]["lines"]["Vector DB"]) == Decimal("66.67")
    discount = [Decimal(r["lines"]["Discount"]) for r in rows if "Discount" in r["lines"]]
    assert sum(discount) == -1 and all(d == d.quantize(Decimal("0.01")) for d in discount)


def test_versions_are_kept_and_the_ledger_lists_them_all(dep: Deployment,
                                                         tmp_path: Path) -> None:
    rules = tmp_path / "a.toml"
    rules.write_text(FILE)
    first = receipt("allocations", "set", str(rules), *on(dep)).stdout.split()[2]
    rules.write_text(FILE.replace('"30.00"', '"35.00"'))
    second = receipt("allocations", "set", str(rules), *on(dep)).stdout.split()[2]
    assert first != second
    listed = receipt("allocations", "list", *on(dep), "--format", "json")
    assert [s["id"] for s in json.loads(listed.stdout)] == [first, second]
    shown = json.loads(receipt("allocations", "show", second[:12], *on(dep)).stdout)
    assert shown["rules"][0]["unit_price"] == "35.00"
    ledger = export(dep, tmp_path / "after.cbor")
    _, item = next(iter(split_sequence(read_chunks(ledger))))
    counts = _header(item)["counts"]
    assert counts["allocations"] == 2
    assert receipt("verify", str(ledger), "--key", str(dep.made.public_key)).exit_code == 0


def _header(item: bytes) -> dict[str, Any]:
    header: dict[str, Any] = decode_strict(cose.parse(item).payload)
    return header


def test_a_ledger_without_sets_has_no_allocations_count(dep: Deployment,
                                                       tmp_path: Path) -> None:
    ledger = export(dep, tmp_path / "plain.cbor")
    _, item = next(iter(split_sequence(read_chunks(ledger))))
    assert set(_header(item)["counts"]) == {"keys", "price_books", "fx_rates"}


@pytest.mark.parametrize(("text", "field"), [
    (FILE.replace('"30.00"', '"30.001"'), "rules.0.unit_price"),
    (FILE.replace('"30.00"', "30.0"), "rules.0.unit_price"),
    (FILE.replace('amount = "-1.00"', 'amount = "-1.00"\ncredit = true'), "rules.2.amount"),
    (FILE.replace('by = "team"', 'by = "chain"'), "by"),
    (FILE.replace('"2000-01"', '"2000-13"'), "effective_from"),
    (FILE.replace("ratios = { search = 2, ads = 1 }", "ratios = { search = 0 }"),
     "rules.1.ratios.search"),
    (FILE.replace('kind = "split"', 'kind = "share"'), "rules.1.kind"),
    (FILE + "\nbogus = 1\n", "rules.3.bogus"),
])
def test_a_bad_file_is_one_line_naming_the_field(dep: Deployment, tmp_path: Path, text: str,
                                                 field: str) -> None:
    rules = tmp_path / "bad.toml"
    rules.write_text(text)
    result = receipt("allocations", "set", str(rules), *on(dep))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: allocations: ") and field in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert receipt("allocations", "list", *on(dep)).stdout.strip() == "(no allocation set)"


def test_http_post_and_get(dep: Deployment) -> None:
    import tomllib

    body = tomllib.loads(FILE)
    _, finance = dep.role_token("finance")
    _, team = dep.role_token("team", "ads")
    with dep.client() as client:
        made = client.post("/v1/allocations", headers=dep.admin, json=body)
        assert made.status_code == 201, made.text
        assert made.json()["rules"][3]["amount"] == "100.00"
        assert client.post("/v1/allocations", headers=finance, json=body).status_code == 403
        bad = client.post("/v1/allocations", headers=dep.admin, json={
            **body, "rules": [{**body["rules"][0], "unit_price": 30.5}]})
        assert bad.status_code == 422
        assert bad.json()["error"]["fields"][0]["field"] == "rules.0.unit_price"
        listed = client.get("/v1/allocations", headers=finance)
        assert listed.status_code == 200
        assert [s["id"] for s in listed.json()["allocation_sets"]] == [made.json()["id"]]
        assert client.get("/v1/allocations", headers=team).status_code == 403
        assert client.get("/v1/allocations").status_code == 401


def test_the_example_file_is_a_valid_set(dep: Deployment) -> None:
    example = Path(__file__).resolve().parents[3] / "examples" / "allocations.toml"
    result = receipt("allocations", "set", str(example), *on(dep))
    assert result.exit_code == 0, result.output
    assert "from 2026-11, by team, USD, 4 rule(s)" in result.stdout
    assert "distribute credit 'OpenAI volume discount' [discount]: 5.00 by spend" in \
        result.stdout
