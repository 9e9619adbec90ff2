"""The monthly report's allocations section: from the ledger alone it gives the numbers of the
report made from the database (the same set, the same verified spend, the verifier's
arithmetic), its parts add up to the invoice total, and every format shows it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.receipts.allocations.test_service import CHARGED, FILE, export, issue, on, receipt
from tests.receipts.conftest import (
    BOTH_DATABASES,
    Deployment,
    made_on,
    make_deployment,
)


@dataclass
class Made:
    dep: Deployment
    ledger: Path
    month: str
    spent: Decimal


@pytest.fixture(scope="module", params=BOTH_DATABASES)
def made(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Made]:
    yield from made_on(request, tmp_path_factory.mktemp("allocation-report"), _make)


def _make(tmp: Path, url: str | None) -> Made:
    dep = make_deployment(tmp, url)
    spent = issue(dep)
    rules = tmp / "allocations.toml"
    rules.write_text(FILE)
    assert receipt("allocations", "set", str(rules), *on(dep)).exit_code == 0
    # a later correction for a month still to come: not in force now, and kept
    rules.write_text(FILE.replace('"2000-01"', '"9998-01"').replace('"30.00"', '"99.00"'))
    assert receipt("allocations", "set", str(rules), *on(dep)).exit_code == 0
    ledger = export(dep, tmp / "ledger.cbor")
    from receipts.clock import now_ms
    from verifier.jsonview import iso_ms

    return Made(dep, ledger, iso_ms(now_ms())[:7], spent)


def _report(m: Made, fmt: str, source: str) -> str:
    where = (["--ledger", str(m.ledger), "--key", str(m.dep.made.public_key), "--workers", "1"]
             if source == "ledger" else on(m.dep))
    result = receipt("report", "--month", m.month, "--format", fmt, *where)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_ledger_and_database_give_the_same_allocations(made: Made) -> None:
    ledger = json.loads(_report(made, "json", "ledger"))["allocations"]
    data = json.loads(_report(made, "json", "data"))["allocations"]
    assert ledger == data
    assert ledger["set"]["effective_from"] == "2000-01"
    groups = {g["group"]: g for g in ledger["groups"]}
    assert set(groups) == {"search", "ads"}
    assert sum(Decimal(g["receipts_cost"]) for g in groups.values()) == made.spent
    invoice = Decimal(ledger["invoice_total"])
    assert invoice == made.spent + CHARGED
    assert sum(Decimal(g["total"]) for g in groups.values()) == invoice
    rules = {r["name"]: Decimal(r["total"]) for r in ledger["rules"]}
    assert rules == {"Seat licences": 480, "Shared bot": 0, "Discount": -1, "Vector DB": 100}
    for g in groups.values():
        assert Decimal(g["total"]) == Decimal(g["receipts_cost"]) + sum(
            (Decimal(v) for v in g["lines"].values()), Decimal(0))


def test_every_format_shows_the_section(made: Made) -> None:
    html = _report(made, "html", "ledger")
    assert '<section id="allocations">' in html and "Invoice total" in html
    assert "Seat licences" in html and "360.00" in html
    csv_text = _report(made, "csv", "data")
    assert "allocation,search,line:Seat licences,360.000000000000,USD" in csv_text
    assert "allocation_rule,Vector DB,total,100.000000000000,USD" in csv_text


def test_a_team_sees_its_own_group_without_the_others(made: Made) -> None:
    _, ads = made.dep.role_token("team", "ads")
    with made.dep.client() as client:
        answer = client.get(f"/v1/reports/{made.month}", headers=ads)
    assert answer.status_code == 200, answer.text
    section: dict[str, Any] = answer.json()["allocations"]
    assert [g["group"] for g in section["groups"]] == ["ads"]
    assert section["invoice_total"] is None
    assert all(r["total"] is None for r in section["rules"])


def test_no_section_without_a_set_in_force(tmp_path: Path) -> None:
    dep = make_deployment(tmp_path)
    issue(dep)
    ledger = export(dep, tmp_path / "plain.cbor")
    month = json.loads(receipt("report", "--month", "2000-01", "--format", "json",
                               *on(dep)).stdout)
    assert month["allocations"] is None
    from_ledger = receipt("report", "--month", "2000-01", "--format", "json", "--ledger",
                          str(ledger), "--key", str(dep.made.public_key), "--workers", "1")
    assert json.loads(from_ledger.stdout)["allocations"] is None


def test_the_pdf_has_the_section(made: Made, tmp_path: Path) -> None:
    pytest.importorskip("fpdf")
    out = tmp_path / "report.pdf"
    result = receipt("report", "--month", made.month, "--format", "pdf", "-o", str(out),
                     *on(made.dep))
    assert result.exit_code == 0, result.output
    pdf = out.read_bytes()
    assert b"Allocations" in pdf and b"FY26 chargeback" in pdf and b"Invoice total" in pdf


def test_the_section_is_what_rollup_with_allocations_gives(made: Made) -> None:
    section = json.loads(_report(made, "json", "ledger"))["allocations"]
    rolled = receipt("rollup", str(made.ledger), "--with-allocations", "--month", made.month,
                     "--format", "json", "--key", str(made.dep.made.public_key),
                     "--workers", "1")
    assert rolled.exit_code == 0, rolled.output
    assert {r["team"]: (r["receipts_cost"], r["lines"], r["total"])
            for r in json.loads(rolled.stdout)} == {
        g["group"]: (g["receipts_cost"], g["lines"], g["total"]) for g in section["groups"]}


def test_a_changed_set_makes_no_report(made: Made, tmp_path: Path) -> None:
    data = made.ledger.read_bytes()
    assert data.count(b"FY26 chargeback") == 2  # the set and its correction
    changed = tmp_path / "changed.cbor"
    changed.write_bytes(data.replace(b"FY26 chargeback", b"FY27 chargeback", 1))
    result = receipt("report", "--month", made.month, "--format", "json", "--ledger",
                     str(changed), "--key", str(made.dep.made.public_key), "--workers", "1")
    assert result.exit_code == 1 and "INVALID" in result.stderr and not result.stdout
