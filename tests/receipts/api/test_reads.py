"""Reading receipts: access rules, filters, cursor pagination, the CSV export."""

from __future__ import annotations

import base64
import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from receipts.cli.main import main
from tests.receipts.conftest import Deployment, call


def _seed(deployment: Deployment) -> tuple[dict[str, str], dict[str, str], str]:
    search_id, search = deployment.agent("search")
    _, support = deployment.agent("support")
    with deployment.client() as client:
        for i in range(7):
            model = "gpt-4o" if i % 2 else "gpt-4o-mini"
            assert client.post("/v1/receipts", json=call(f"s{i}", model=model),
                               headers=search).status_code == 201
        for i in range(3):
            body = call(f"p{i}", provider="anthropic", model="claude-sonnet-4",
                        tags={"project": "triage", "environment": "prod"})
            assert client.post("/v1/receipts", json=body, headers=support).status_code == 201
    return search, support, search_id


def test_agents_read_only_their_own(deployment: Deployment) -> None:
    search, support, search_id = _seed(deployment)
    with deployment.client() as client:
        mine = client.get("/v1/receipts", headers=search).json()["receipts"]
        theirs = client.get("/v1/receipts", headers=support).json()["receipts"]
        everything = client.get("/v1/receipts", headers=deployment.admin).json()["receipts"]
        other_agent = client.get(f"/v1/receipts?agent={search_id}", headers=support)
        one = mine[0]["receipt"]["id"]
        own = client.get(f"/v1/receipts/{one}", headers=search)
        foreign = client.get(f"/v1/receipts/{one}", headers=support)
        admin_one = client.get(f"/v1/receipts/{one}", headers=deployment.admin)
        nothing = client.get("/v1/receipts/nope", headers=deployment.admin)
    assert len(mine) == 7 and len(theirs) == 3 and len(everything) == 10
    assert {r["receipt"]["agent"] for r in mine} == {search_id}
    assert other_agent.status_code == 403
    assert own.status_code == 200 and own.json()["receipt"]["id"] == one
    assert foreign.status_code == 404
    assert admin_one.status_code == 200 and nothing.status_code == 404


def test_filters(deployment: Deployment) -> None:
    _seed(deployment)
    with deployment.client() as client:
        def ids(query: str) -> int:
            r = client.get(f"/v1/receipts?{query}", headers=deployment.admin)
            assert r.status_code == 200, r.text
            return len(r.json()["receipts"])

        assert ids("team=support") == 3
        assert ids("project=triage") == 3
        assert ids("provider=openai") == 7
        assert ids("model=gpt-4o-mini") == 4
        assert ids("provider=openai&model=gpt-4o") == 3
        assert ids("since=2000-01-01T00:00:00Z") == 10
        assert ids("until=2000-01-01T00:00:00Z") == 0
        assert ids("since=4102444800000") == 0
        assert ids("until=253402300799999") == 10  # the latest time a receipt may carry
        assert ids("since=0000000000000000000000000") == 10  # leading zeros are still 0
        assert ids("until=000") == 0
        bad = client.get("/v1/receipts?since=soon", headers=deployment.admin)
        bad_limit = client.get("/v1/receipts?limit=0", headers=deployment.admin)
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "since"
    assert bad_limit.status_code == 422
    assert bad_limit.json()["error"]["fields"][0]["field"] == "limit"


def test_cursor_pagination_visits_everything_once(deployment: Deployment) -> None:
    _seed(deployment)
    seen: list[str] = []
    with deployment.client() as client:
        cursor = None
        pages = 0
        while True:
            query = "/v1/receipts?limit=3" + (f"&cursor={cursor}" if cursor else "")
            page = client.get(query, headers=deployment.admin).json()
            seen += [r["receipt"]["id"] for r in page["receipts"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        bad = client.get("/v1/receipts?cursor=garbage", headers=deployment.admin)
    assert len(seen) == len(set(seen)) == 10
    assert pages == 4
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "cursor"


@pytest.mark.parametrize(("query", "field"), [
    ("since=18446744073709551616", "since"),           # past SQLite's and PostgreSQL's integers
    ("until=1180591620717411303424", "until"),
    ("until=253402300800000", "until"),                # 10000-01-01: after the latest receipt time
    ("since=" + "9" * 5000, "since"),                  # past int()'s digit limit
    ("since=%C2%B2", "since"),                         # "²": str.isdigit() says yes, int() no
    ("cursor=" + base64.urlsafe_b64encode(b"[18446744073709551616, \"x\"]").decode(), "cursor"),
    ("cursor=" + base64.urlsafe_b64encode(b"[-1, \"x\"]").decode(), "cursor"),
    ("cursor=" + base64.urlsafe_b64encode(b"[" * 5_000).decode(), "cursor"),  # RecursionError
])
def test_out_of_range_filters_are_422_not_500(deployment: Deployment, query: str,
                                              field: str) -> None:
    with deployment.client() as client:
        r = client.get(f"/v1/receipts?{query}", headers=deployment.admin)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["fields"][0]["field"] == field


def test_csv_export(deployment: Deployment) -> None:
    search, _, _ = _seed(deployment)
    with deployment.client() as client:
        r = client.get("/v1/receipts?format=csv", headers=deployment.admin)
        mine = client.get("/v1/receipts?format=csv", headers=search)
        as_json = client.get("/v1/receipts?limit=1000", headers=deployment.admin).json()
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 10 and len(list(csv.DictReader(io.StringIO(mine.text)))) == 7
    by_id = {x["receipt"]["id"]: x["receipt"] for x in as_json["receipts"]}
    for row in rows:
        receipt = by_id[row["id"]]
        assert row["chain"] == receipt["chain"] and int(row["seq"]) == receipt["seq"]
        assert row["cost"] == receipt["cost"]
        assert row["cost_reporting"] == receipt["cost_reporting"]
        assert row["tag_team"] == receipt["tags"]["team"]
        assert row["tokens_input"] == str(receipt["usage"]["input"])
        assert row["unit_price_input"] == receipt["unit_prices"]["input"]
        assert row["fx_rate"] == receipt["fx"]["rate"]
    assert {"tag_project", "tag_environment", "tags", "tokens_output", "unit_price_output",
            "currency", "fx_currency", "fx_date", "price_book"} <= set(rows[0])
    total = sum(int(row["cost"].replace(".", "")) for row in rows)  # exact, in 10^-12 units
    assert total > 0


def test_csv_cells_a_spreadsheet_would_run_are_defused_in_both_csvs(
        deployment: Deployment, tmp_path: Path) -> None:
    """Agents choose request ids and tag values; finance opens the CSVs in spreadsheets. Text
    starting like a formula gets a leading ' in the service's CSV and in the verifier's rollup
    CSV alike; JSON keeps every value as sent."""
    _, auth = deployment.agent()
    formula = '=HYPERLINK("http://example.com/x","click")'
    with deployment.client() as client:
        posted = client.post("/v1/receipts", headers=auth, json=call(
            "@SUM(1)", tags={"project": formula, "environment": "-1"}))
        export = client.get("/v1/receipts?format=csv", headers=deployment.admin).text
        as_json = client.get("/v1/receipts", headers=deployment.admin).json()["receipts"]
        ledger = client.get("/v1/ledger", headers=deployment.admin).content
    assert posted.status_code == 201
    row = next(csv.DictReader(io.StringIO(export)))
    assert row["request_id"] == "'@SUM(1)"
    assert row["tag_project"] == "'" + formula and row["tag_environment"] == "'-1"
    assert as_json[0]["receipt"]["request_id"] == "@SUM(1)"
    assert as_json[0]["receipt"]["tags"]["project"] == formula
    path = tmp_path / "ledger.cbor"
    path.write_bytes(ledger)
    rollup = CliRunner().invoke(main, ["rollup", str(path), "--by", "project", "--format", "csv"])
    assert rollup.exit_code == 0, rollup.output
    assert next(csv.DictReader(io.StringIO(rollup.stdout)))["project"] == "'" + formula
    as_rows = CliRunner().invoke(main, ["rollup", str(path), "--by", "project", "--format",
                                       "json"])
    assert json.loads(as_rows.stdout)[0]["project"] == formula


def test_spreadsheet_safe_touches_only_formula_text() -> None:
    from verifier.csvcell import spreadsheet_safe

    assert [spreadsheet_safe(c) for c in ("=1+1", "+1", "-x", "@a", "\tx", "\rx")] == \
        ["'=1+1", "'+1", "'-x", "'@a", "'\tx", "'\rx"]
    assert [spreadsheet_safe(c) for c in ("ranker", "0.004000", "", 7, None, "a=b")] == \
        ["ranker", "0.004000", "", 7, None, "a=b"]
