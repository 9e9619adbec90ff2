"""``receipt reconcile --data DIR``: the deployment's ledger exported, verified, reconciled
(SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from receipts.cli.main import main
from tests.receipts.conftest import Deployment, call, make_deployment


def _record(dep: Deployment) -> dict[tuple[str, str], Decimal]:
    """A few calls of two teams; their cost per (UTC day, "provider|model")."""
    _, search = dep.agent("search", project="ranker")
    _, support = dep.agent("support", project="ranker")
    costs: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    with dep.client() as http:
        for i, (header, model) in enumerate([(search, "gpt-4o"), (search, "gpt-4o-mini"),
                                             (support, "gpt-4o"), (support, "gpt-4o")]):
            r = http.post("/v1/receipts", headers=header, json=call(f"r{i}", model=model))
            assert r.status_code == 201, r.text
            receipt = r.json()["receipt"]
            key = f"{receipt['provider']}|{receipt['model']}"
            costs[(receipt["issued_at"][:10], key)] += Decimal(receipt["cost"])
    return costs


def _reconcile(dep: Deployment, tmp_path: Path, costs: dict[tuple[str, str], Decimal],
               extra: Decimal = Decimal(0)) -> tuple[int, dict[str, object]]:
    bill = tmp_path / "bill.csv"
    rows = ["day,vendor,model,usd,ccy"]
    for (day, key), amount in sorted(costs.items()):
        provider, model = key.split("|")
        snapshot = "gpt-4o-2024-08-06" if model == "gpt-4o" else model
        rows.append(f"{day},{provider},{snapshot},{amount + extra},USD")
    bill.write_text("\n".join(rows) + "\n")
    result = CliRunner().invoke(main, [
        "reconcile", "--data", str(dep.settings.data_dir), "--db", dep.settings.db_url,
        "--invoice", str(bill), "--map", "day=date", "--map", "vendor=provider",
        "--map", "model=model", "--map", "usd=amount", "--map", "ccy=currency",
        "--format", "json", "--workers", "1"])
    assert result.exit_code in (0, 1), result.output
    data: dict[str, object] = json.loads(result.stdout)
    return result.exit_code, data


def _check(dep: Deployment, tmp_path: Path) -> None:
    costs = _record(dep)
    code, data = _reconcile(dep, tmp_path, costs)
    assert code == 0, data
    totals = data["totals"]
    assert isinstance(totals, dict) and totals["abs_variance"] == "0.000000000000"
    assert data["ledger"] == {"file": f"--data {dep.settings.data_dir}", "receipts": 4,
                              "other_currency": {}, "other_currency_receipts": 0,
                              "not_invoiced_providers": {}}
    teams = data["teams"]
    assert isinstance(teams, list) and {t["team"] for t in teams} == {"search", "support"}
    code, data = _reconcile(dep, tmp_path, costs, extra=Decimal("0.01"))
    assert code == 1  # a cent more per line is far above 2% of these small amounts


def test_reconcile_a_deployment_on_sqlite(tmp_path: Path) -> None:
    _check(make_deployment(tmp_path), tmp_path)


@pytest.mark.postgres
def test_reconcile_a_deployment_on_postgres(tmp_path: Path, pg_url: str) -> None:
    _check(make_deployment(tmp_path, pg_url), tmp_path)


def test_an_uninitialized_data_dir_is_refused(tmp_path: Path) -> None:
    bill = tmp_path / "bill.csv"
    bill.write_text("d,p,m,a,c\n2025-12-01,openai,gpt-4o,1,USD\n")
    result = CliRunner().invoke(main, [
        "reconcile", "--data", str(tmp_path / "nothing"), "--invoice", str(bill),
        "--map", "d=date", "--map", "p=provider", "--map", "m=model", "--map", "a=amount",
        "--map", "c=currency"])
    assert result.exit_code != 0 and "receipt init" in result.stderr
    assert "Traceback" not in result.stderr
