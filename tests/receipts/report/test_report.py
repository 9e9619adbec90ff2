"""``receipt report`` and ``GET /v1/reports/{month}``: the same numbers from the ledger alone
and from the deployment, every format, exact money, a team's report limited to its team."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
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

PROD = {"environment": "prod"}
CALLS: list[tuple[str, dict[str, Any]]] = [
    ("search", call("s1", tags={**PROD, "project": "ranker", "cost_center": "eng"})),
    ("search", call("s2", model="gpt-4o-mini", tags={**PROD, "project": "ranker",
                                                     "cost_center": "eng"})),
    ("search", call("s3", tags={**PROD, "project": "crawler", "cost_center": "eng"})),
    ("ads", call("a1", provider="anthropic", model="claude-sonnet-4",
                 tags={**PROD, "project": "bidder", "cost_center": "marketing"})),
    ("ads", call("a2", tags={**PROD, "project": "bidder"})),
]
BUDGET = "0.01"


def receipt(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


@dataclass
class Made:
    dep: Deployment
    ledger: Path
    key: Path
    month: str
    costs: dict[str, Decimal]
    """Exact cost per team, as the service answered each receipt."""
    ads_token: dict[str, str]


@pytest.fixture(scope="module", params=BOTH_DATABASES)
def made(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Made]:
    yield from made_on(request, tmp_path_factory.mktemp("report"), _make)


def _make(tmp: Path, db_url: str | None) -> Made:
    dep = make_deployment(tmp, db_url)
    agents = {"search": dep.agent("search")[1], "ads": dep.agent("ads")[1]}
    _, ads_lead = dep.role_token("team", "ads")
    costs: dict[str, Decimal] = {}
    month = ""
    with dep.client() as client:
        r = client.post("/v1/budgets", headers=dep.admin, json={
            "name": "eng", "scope": {"cost_center": "eng"}, "period": "month",
            "limit": BUDGET})
        assert r.status_code in (200, 201), r.text
        for team, body in CALLS:
            answer = client.post("/v1/receipts", json=body, headers=agents[team])
            assert answer.status_code == 201, answer.text
            got = answer.json()["receipt"]
            month = got["issued_at"][:7]
            costs[team] = costs.get(team, Decimal(0)) + Decimal(got["cost_reporting"])
        ledger = tmp / "ledger.cbor"
        ledger.write_bytes(client.get("/v1/ledger", headers=dep.admin).content)
    return Made(dep, ledger, dep.made.public_key, month, costs, ads_lead)


def _from_ledger(m: Made, fmt: str, *extra: str) -> Result:
    return receipt("report", "--month", m.month, "--ledger", str(m.ledger), "--key",
                   str(m.key), "--format", fmt, "--workers", "1", *extra)


def _from_data(m: Made, fmt: str) -> Result:
    return receipt("report", "--month", m.month, "--data", str(m.dep.settings.data_dir),
                   "--db", m.dep.settings.db_url, "--format", fmt)


def _numbers(body: dict[str, Any]) -> dict[str, Any]:
    """What must agree between the two sources (source, budgets and alerts aside)."""
    out = {k: body[k] for k in ("month", "currency", "summary", "teams", "forecast",
                                "unallocated", "attribution", "daily")}
    out["cost_centers"] = [{k: v for k, v in c.items() if k not in ("budget", "remaining",
                                                                   "used")}
                           for c in body["cost_centers"]]
    return out


def test_ledger_alone_gives_the_numbers_of_the_deployment(made: Made) -> None:
    ledger = _from_ledger(made, "json")
    assert ledger.exit_code == 0, ledger.output
    data = _from_data(made, "json")
    assert data.exit_code == 0, data.output
    a, b = json.loads(ledger.stdout), json.loads(data.stdout)
    assert _numbers(a) == _numbers(b)
    assert a["receipts_verified"] == len(CALLS)
    assert a["anomalies"] is None and b["anomalies"] is not None
    total = sum(made.costs.values(), Decimal(0))
    assert Decimal(a["summary"]["cost"]) == total
    assert {t["team"]: Decimal(t["cost"]) for t in a["teams"]} == made.costs
    # exact: 12 decimals, never rounded
    assert all(len(t["cost"].split(".")[1]) == 12 for t in a["teams"])
    centers = {c["cost_center"]: c for c in b["cost_centers"]}
    assert set(centers) == {"eng", "marketing", None}
    eng = centers["eng"]
    assert eng["budget"] == "0.010000000000"
    # the budget crossed its thresholds: the month's alerts are in the anomaly review
    kinds = {(a["kind"], a["scope"]) for a in b["anomalies"]}
    assert ("budget_threshold", "cost_center=eng") in kinds
    assert all(a["created_at"].startswith(made.month) for a in b["anomalies"])
    assert Decimal(eng["remaining"]) == Decimal(BUDGET) - Decimal(eng["cost"])
    assert Decimal(eng["cost"]) == made.costs["search"]
    assert {c["cost_center"]: c["budget"] for c in a["cost_centers"]}["eng"] is None
    # the required tag (team) is on every receipt; cost_center is missing on one
    assert a["attribution"]["confidence"] == "1.000000"
    assert a["unallocated"]["cost"] == "0.000000000000"
    assert len(a["summary"]["top_drivers"]) == 3
    drivers = [Decimal(d["cost"]) for d in a["summary"]["top_drivers"]]
    assert drivers == sorted(drivers, reverse=True)


def test_json_is_deterministic_and_require_changes_confidence(made: Made) -> None:
    first, second = _from_ledger(made, "json"), _from_ledger(made, "json")
    assert first.stdout_bytes == second.stdout_bytes
    both = json.loads(_from_ledger(made, "json", "--require", "team,cost_center").stdout)
    a2 = next(Decimal(t["cost"]) for t in json.loads(first.stdout)["teams"]
              if t["team"] == "ads")
    ads_cc = next(Decimal(c["cost"]) for c in both["cost_centers"]
                  if c["cost_center"] == "marketing")
    total = sum(made.costs.values(), Decimal(0))
    assert Decimal(both["attribution"]["attributed"]) == total - (a2 - ads_cc)
    assert both["attribution"]["required_tags"] == ["team", "cost_center"]


def test_csv_is_exact(made: Made) -> None:
    out = _from_ledger(made, "csv")
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    assert lines[0] == "section,name,metric,value,currency"
    team_costs = {line.split(",")[1]: Decimal(line.split(",")[3]) for line in lines
                  if line.startswith("team,") and ",cost," in line}
    assert team_costs == made.costs
    sections = {line.split(",")[0] for line in lines[1:]}
    assert {"summary", "driver", "cost_center", "team", "project", "model", "forecast",
            "unallocated", "attribution", "daily"} <= sections


def test_html_has_every_section_and_rounded_amounts(made: Made, tmp_path: Path) -> None:
    target = tmp_path / "r.html"
    out = _from_ledger(made, "html", "-o", str(target))
    assert out.exit_code == 0, out.output
    page = target.read_text()
    for section in ("summary", "cost-centers", "teams", "anomalies", "forecast",
                    "unallocated", "attribution"):
        assert f'<section id="{section}">' in page
    assert page.count("<svg") == 2 and "<script" not in page
    from verifier.minor_units import display_amount
    from verifier.money import COST_SCALE, parse_amount

    for cost in made.costs.values():
        shown = display_amount(parse_amount(f"{cost:f}", COST_SCALE), "USD")
        assert f">{shown}<" in page
    assert f"{next(iter(made.costs.values())):f}" not in page  # the exact form is not shown


def test_pdf_is_a_pdf_with_the_totals(made: Made) -> None:
    out = _from_ledger(made, "pdf")
    assert out.exit_code == 0, out.output
    data = out.stdout_bytes
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert _from_ledger(made, "pdf").stdout_bytes == data
    total = json.loads(_from_ledger(made, "json").stdout)["summary"]["cost"]
    from receipts.report.build import rounded

    assert f"({rounded(total, 'USD')})".encode() in data  # the total, as a person reads it
    for heading in (b"Executive summary", b"Cost centers", b"Teams and projects",
                    b"Anomaly review", b"Forecast for", b"Unallocated", b"Attribution"):
        assert heading in data


def test_a_tampered_ledger_makes_no_report(made: Made, tmp_path: Path) -> None:
    bad = tmp_path / "bad.cbor"
    raw = bytearray(made.ledger.read_bytes())
    raw[-10] ^= 1
    bad.write_bytes(bytes(raw))
    out = receipt("report", "--month", made.month, "--ledger", str(bad), "--key",
                  str(made.key), "--format", "json", "--workers", "1")
    assert out.exit_code != 0 and "INVALID" in out.stderr and not out.stdout
    assert "Traceback" not in out.stderr


def test_bad_month_and_missing_key_are_one_line(made: Made) -> None:
    out = receipt("report", "--month", "2026-13", "--ledger", str(made.ledger), "--key",
                  str(made.key))
    assert out.exit_code != 0 and "month" in out.stderr and len(out.stderr.splitlines()) == 1
    out = receipt("report", "--month", made.month, "--ledger", str(made.ledger))
    assert out.exit_code != 0 and "--key" in out.stderr


def test_the_api_serves_every_format_and_scopes_a_team(made: Made) -> None:
    with made.dep.client() as client:
        whole = client.get(f"/v1/reports/{made.month}", headers=made.dep.admin)
        assert whole.status_code == 200, whole.text
        cli = json.loads(_from_data(made, "json").stdout)
        assert _numbers(whole.json()) == _numbers(cli)
        team = client.get(f"/v1/reports/{made.month}", headers=made.ads_token).json()
        assert [t["team"] for t in team["teams"]] == ["ads"]
        assert Decimal(team["summary"]["cost"]) == made.costs["ads"]
        assert all(c["budget"] is None for c in team["cost_centers"])  # eng is not theirs
        assert team["anomalies"] == []  # the eng budget's alerts name no team of theirs
        assert whole.json()["anomalies"]
        for fmt, media in (("csv", "text/csv"), ("html", "text/html"),
                           ("pdf", "application/pdf")):
            r = client.get(f"/v1/reports/{made.month}?format={fmt}", headers=made.dep.admin)
            assert r.status_code == 200 and r.headers["content-type"].startswith(media)
        bad = client.get("/v1/reports/2026-13", headers=made.dep.admin)
        assert bad.status_code == 422 and "month" in bad.text
        agent = client.get(f"/v1/reports/{made.month}",
                           headers=made.dep.agent("search")[1])
        assert agent.status_code == 403
