"""``receipt statement`` and ``GET /v1/statements/{tenant}/{month}``: the same statement from
the ledger alone and from the deployment, lines by day and model with their receipts, exact
money, stable CSV columns, finance-only over HTTP."""

from __future__ import annotations

import csv
import io
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

PROD = {"environment": "prod", "project": "ranker"}
ACME = {**PROD, "tenant_id": "acme"}
CALLS: list[dict[str, Any]] = [
    call("c1", tags=ACME),
    call("c2", tags=ACME),
    call("c3", model="gpt-4o-mini", tags=ACME),
    call("c4", provider="anthropic", model="claude-sonnet-4", tags=ACME),
    call("c5", model="no-such-model", tags=ACME),            # unpriced
    call("g1", tags={**PROD, "tenant_id": "globex"}),         # another tenant
    call("n1", tags=PROD),                                    # no tenant
    call("o1", tags={**PROD, "customer": "acme"}),            # another tag names acme
]


def receipt(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


@dataclass
class Made:
    dep: Deployment
    ledger: Path
    key: Path
    month: str
    answered: dict[str, dict[str, Any]]
    """request id -> the receipt the service answered."""


@pytest.fixture(scope="module", params=BOTH_DATABASES)
def made(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Made]:
    yield from made_on(request, tmp_path_factory.mktemp("statement"), _make)


def _make(tmp: Path, db_url: str | None) -> Made:
    dep = make_deployment(tmp, db_url)
    agent = dep.agent("search")[1]
    answered = {}
    with dep.client() as client:
        for body in CALLS:
            answer = client.post("/v1/receipts", json=body, headers=agent)
            assert answer.status_code == 201, answer.text
            answered[body["request_id"]] = answer.json()["receipt"]
        ledger = tmp / "ledger.cbor"
        ledger.write_bytes(client.get("/v1/ledger", headers=dep.admin).content)
    month = answered["c1"]["issued_at"][:7]
    return Made(dep, ledger, dep.made.public_key, month, answered)


def _ledger(m: Made, fmt: str, *extra: str) -> Result:
    return receipt("statement", "--tenant", "acme", "--month", m.month, "--ledger",
                   str(m.ledger), "--key", str(m.key), "--format", fmt, "--workers", "1",
                   *extra)


def _data(m: Made, fmt: str, *extra: str) -> Result:
    return receipt("statement", "--tenant", "acme", "--month", m.month, "--data",
                   str(m.dep.settings.data_dir), "--db", m.dep.settings.db_url, "--format",
                   fmt, *extra)


def _numbers(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("source", "receipts_verified")}


def acme(m: Made) -> list[dict[str, Any]]:
    return [r for k, r in m.answered.items() if k.startswith("c")]


def test_the_ledger_alone_gives_the_deployments_statement(made: Made) -> None:
    ledger, data = _ledger(made, "json"), _data(made, "json")
    assert ledger.exit_code == 0, ledger.output
    assert data.exit_code == 0, data.output
    a, b = json.loads(ledger.stdout), json.loads(data.stdout)
    assert _numbers(a) == _numbers(b)
    assert a["receipts_verified"] == len(CALLS) and b["receipts_verified"] is None
    assert _ledger(made, "json").stdout_bytes == ledger.stdout_bytes  # deterministic
    for fmt in ("csv", "receipts"):
        assert _ledger(made, fmt).stdout_bytes == _data(made, fmt).stdout_bytes


def test_lines_by_day_and_model_with_their_receipts(made: Made) -> None:
    s = json.loads(_ledger(made, "json").stdout)
    mine = acme(made)
    ids = sorted(r["id"] for r in mine)
    assert sorted(i for line in s["lines"] for i in line["receipt_ids"]) == ids
    assert [line["line"] for line in s["lines"]] == list(range(1, len(s["lines"]) + 1))
    by_model = {(line["provider"], line["model"]): line for line in s["lines"]}
    four = by_model[("openai", "gpt-4o")]
    two = [r for r in mine if r["model"] == "gpt-4o"]
    assert four["receipts"] == 2 and sorted(four["receipt_ids"]) == sorted(r["id"]
                                                                          for r in two)
    assert Decimal(four["cost"]) == sum(Decimal(r["cost_reporting"]) for r in two)
    assert len(four["cost"].split(".")[1]) == 12  # exact, never rounded
    for category, count in four["tokens"].items():
        assert count == sum(r["usage"][category] for r in two)
    unpriced = by_model[("openai", "no-such-model")]
    assert unpriced["cost"] is None and unpriced["unpriced"] == 1
    (total,) = s["totals"]
    assert total["currency"] == "USD" and total["receipts"] == 5 and total["unpriced"] == 1
    assert Decimal(total["cost"]) == sum(Decimal(r["cost_reporting"]) for r in mine
                                         if r["cost_reporting"] is not None)
    assert s["tenant"] == "acme" and s["tenant_tag"] == "tenant_id"


def test_native_currency_and_another_tenant_tag(made: Made) -> None:
    native = json.loads(_ledger(made, "json", "--currency", "native").stdout)
    reporting = json.loads(_ledger(made, "json").stdout)
    assert native["currency"] is None and native["currency_mode"] == "native"
    # a USD deployment with USD books: the identity rate, the same amounts
    assert native["lines"] == reporting["lines"]
    other = json.loads(_ledger(made, "json", "--tenant-tag", "customer").stdout)
    assert [i for line in other["lines"] for i in line["receipt_ids"]] == [
        made.answered["o1"]["id"]]


def test_usage_csv_has_stable_columns_and_exact_money(made: Made) -> None:
    from receipts.statements.render import LINE_COLUMNS, RECEIPT_COLUMNS

    s = json.loads(_ledger(made, "json").stdout)
    rows = list(csv.DictReader(io.StringIO(_ledger(made, "csv").stdout)))
    assert tuple(rows[0]) == LINE_COLUMNS
    assert LINE_COLUMNS[-1] == "cost" and "tokens_input" in LINE_COLUMNS
    assert len(rows) == len(s["lines"])
    for row, line in zip(rows, s["lines"], strict=True):
        assert row["cost"] == (line["cost"] or "")
        assert int(row["receipts"]) == line["receipts"]
        assert int(row["tokens_output"]) == line["tokens"].get("output", 0)
    records = list(csv.DictReader(io.StringIO(_ledger(made, "receipts").stdout)))
    assert tuple(records[0]) == RECEIPT_COLUMNS
    assert {(int(r["line"]), r["receipt_id"]) for r in records} == {
        (line["line"], i) for line in s["lines"] for i in line["receipt_ids"]}


def test_html_and_pdf_round_for_people(made: Made, tmp_path: Path) -> None:
    from receipts.report.build import rounded

    s = json.loads(_ledger(made, "json").stdout)
    target = tmp_path / "s.html"
    assert _ledger(made, "html", "-o", str(target)).exit_code == 0
    page = target.read_text()
    assert "<script" not in page and 'id="lines"' in page
    total = s["totals"][0]["cost"]
    assert f">{rounded(total, 'USD')}<" in page and total not in page
    assert all(i in page for line in s["lines"] for i in line["receipt_ids"])
    pdf = _data(made, "pdf")
    assert pdf.exit_code == 0 and pdf.stdout_bytes.startswith(b"%PDF-")
    assert f"({rounded(total, 'USD')})".encode() in pdf.stdout_bytes
    assert _data(made, "pdf").stdout_bytes == pdf.stdout_bytes
    assert all(i.encode() in pdf.stdout_bytes for line in s["lines"]
               for i in line["receipt_ids"])


def test_a_tampered_or_changing_ledger_makes_no_statement(made: Made, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    bad = tmp_path / "bad.cbor"
    raw = bytearray(made.ledger.read_bytes())
    raw[-10] ^= 1
    bad.write_bytes(bytes(raw))
    out = receipt("statement", "--tenant", "acme", "--month", made.month, "--ledger",
                  str(bad), "--key", str(made.key), "--format", "json", "--workers", "1")
    assert out.exit_code != 0 and "INVALID" in out.stderr and not out.stdout
    # the second read sees other receipts than were verified: refused
    from receipts.statements import sources

    real = sources._payloads

    def one_less(path: Path) -> Iterator[dict[str, Any]]:
        yield from list(real(path))[1:]

    monkeypatch.setattr(sources, "_payloads", one_less)
    out = _ledger(made, "json")
    assert out.exit_code != 0 and "changed while it was read" in out.stderr
    assert not out.stdout and "Traceback" not in out.stderr


def test_bad_input_is_one_line(made: Made) -> None:
    for extra, word in ((("--month", "2026-13"), "month"),
                        (("--tenant-tag", "Model"), "tenant tag"),
                        (("--tenant-tag", "model"), "tenant tag"),
                        (("--tenant", ""), "tenant")):
        out = receipt("statement", "--tenant", "acme", "--month", made.month, "--ledger",
                      str(made.ledger), "--key", str(made.key), *extra)
        assert out.exit_code != 0 and word in out.stderr, (extra, out.output)
        assert len(out.stderr.splitlines()) == 1 and "Traceback" not in out.stderr
    out = receipt("statement", "--tenant", "acme", "--month", made.month, "--ledger",
                  str(made.ledger))
    assert out.exit_code != 0 and "--key" in out.stderr


def test_the_api_serves_finance_and_refuses_a_team(made: Made) -> None:
    path = f"/v1/statements/acme/{made.month}"
    _, finance = made.dep.role_token("finance")
    _, team = made.dep.role_token("team", "search")
    with made.dep.client() as client:
        whole = client.get(path, headers=finance)
        assert whole.status_code == 200, whole.text
        assert _numbers(whole.json()) == _numbers(json.loads(_data(made, "json").stdout))
        assert client.get(path, headers=made.dep.admin).json() == whole.json()
        for fmt, media in (("csv", "text/csv"), ("receipts", "text/csv"),
                           ("html", "text/html"), ("pdf", "application/pdf")):
            r = client.get(f"{path}?format={fmt}", headers=finance)
            assert r.status_code == 200 and r.headers["content-type"].startswith(media)
        assert client.get(f"{path}?format=csv", headers=finance).content == \
            _data(made, "csv").stdout_bytes
        native = client.get(f"{path}?currency=native&tenant_tag=customer", headers=finance)
        assert native.json()["lines"][0]["receipt_ids"] == [made.answered["o1"]["id"]]
        assert client.get(path, headers=team).status_code == 403
        assert client.get(path, headers=made.dep.agent("search")[1]).status_code == 403
        bad = client.get(f"/v1/statements/acme/{made.month}?tenant_tag=provider",
                         headers=finance)
        assert bad.status_code == 422 and "tenant_tag" in bad.text
