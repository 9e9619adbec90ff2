"""The FOCUS export: built only from verified receipts, exact to the ledger's totals in CSV and
Parquet (read back with pyarrow and queried with DuckDB), and the same from the service."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from receipts.errors import LedgerInvalid
from receipts.finops.focus import COLUMN_NAMES, COLUMNS, DECIMAL
from receipts.finops.focus_ledger import verify_ledger_file
from tests.receipts.finops.conftest import Exported, receipt
from verifier.keys import load_public_key_pem
from verifier.money import COST_SCALE, to_decimal
from verifier.verify import VerifyOptions, audit_ledger_file


def _export(exported: Exported, name: str, *extra: str) -> tuple[Path, Any]:
    out = exported.tmp / name
    done = receipt("focus", str(exported.ledger), "--key", str(exported.key), "-o", str(out),
                   *extra)
    return out, done


def _report(exported: Exported) -> Any:
    key = load_public_key_pem(exported.key)
    report = audit_ledger_file(exported.ledger, VerifyOptions(trusted_keys=(key,), workers=1))
    assert report.valid, report.failure
    return report


def _decimal_totals(rows: list[dict[str, Any]], column: str, by: str) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        if row[column] not in (None, ""):
            totals[row[by]] += Decimal(row[column])
    return dict(totals)


def test_csv_sums_exactly_to_the_verifiers_totals(exported: Exported) -> None:
    out, done = _export(exported, "ledger.csv")
    assert done.exit_code == 0, done.output
    assert "8 receipts -> 20 FOCUS 1.2 rows" in done.output
    assert "2 unpriced receipt(s) left out" in done.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    report = _report(exported)
    assert _decimal_totals(rows, "BilledCost", "BillingCurrency") == {
        c: to_decimal(v, COST_SCALE) for c, v in report.totals.items()}
    assert _decimal_totals(rows, "x_BilledCostInReportingCurrency", "x_ReportingCurrency") == {
        c: to_decimal(v, COST_SCALE) for c, v in report.totals_reporting.items()}


def test_a_receipts_rows_add_up_to_its_cost_and_its_reporting_cost(exported: Exported) -> None:
    key = load_public_key_pem(exported.key)
    receipts = {p["id"]: p for p in verify_ledger_file(exported.ledger, (key,), 1).receipts()}
    out, done = _export(exported, "per-receipt.csv")
    assert done.exit_code == 0, done.output
    by_receipt: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in csv.DictReader(io.StringIO(out.read_text())):
        by_receipt[row["x_ReceiptId"]].append(row)
    priced = {i for i, p in receipts.items() if p["cost"] is not None}
    assert set(by_receipt) == priced and len(priced) == 6
    for receipt_id, rows in by_receipt.items():
        p = receipts[receipt_id]
        assert sorted(r["x_UsageCategory"] for r in rows) == sorted(p["usage"])
        assert sum(Decimal(r["BilledCost"]) for r in rows) == to_decimal(p["cost"], COST_SCALE)
        assert {(r["x_Chain"], r["x_Seq"]) for r in rows} == {(p["chain"], str(p["seq"]))}
        assert {r["x_PriceBook"] for r in rows} == {p["price_book"].hex()}
        if p["fx"] is None:
            assert {r["x_FxRate"] for r in rows} == {""}
            continue
        reporting = sum(Decimal(r["x_BilledCostInReportingCurrency"]) for r in rows)
        assert reporting == to_decimal(p["cost_reporting"], COST_SCALE)
        assert {r["x_FxRate"] for r in rows} == {"0.787654321"}
        for r in rows:
            assert r["PricingQuantity"] == str(p["usage"][r["x_UsageCategory"]])


def test_tags_text_a_spreadsheet_would_run_is_defused_in_csv_only(exported: Exported) -> None:
    out, _ = _export(exported, "defused.csv")
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    hostile = [r for r in rows if "calc" in r["x_RequestId"]]
    assert hostile and all(r["x_RequestId"].startswith("'=cmd") for r in hostile)
    assert all('"note":"=1+1"' in r["Tags"] for r in hostile)
    table = pq.read_table(io.BytesIO(exported.service_parquet))
    assert "=cmd|' /C calc'!A0" in table.column("x_RequestId").to_pylist()


def test_parquet_has_decimal_columns_and_sums_exactly(exported: Exported) -> None:
    out, done = _export(exported, "ledger.parquet")
    assert done.exit_code == 0, done.output
    table = pq.read_table(out)
    assert table.column_names == list(COLUMN_NAMES)
    for column in COLUMNS:
        arrow = table.schema.field(column.name).type
        if column.kind == DECIMAL:
            assert pa.types.is_decimal(arrow) and arrow.scale == column.scale, column.name
        assert not pa.types.is_floating(arrow), column.name
    assert pa.types.is_timestamp(table.schema.field("ChargePeriodStart").type)
    assert pq.read_metadata(out).metadata[b"FocusVersion"] == b"1.2"
    report = _report(exported)
    billed: dict[str, Decimal] = defaultdict(Decimal)
    for currency, cost in zip(table.column("BillingCurrency").to_pylist(),
                              table.column("BilledCost").to_pylist(), strict=True):
        billed[currency] += cost
    assert billed == {c: to_decimal(v, COST_SCALE) for c, v in report.totals.items()}


def test_duckdb_reads_the_parquet_and_its_sums_are_the_ledgers(exported: Exported) -> None:
    out, _ = _export(exported, "duck.parquet")
    report = _report(exported)
    con = duckdb.connect()
    total, reporting = con.execute(
        "SELECT sum(BilledCost), sum(x_BilledCostInReportingCurrency) FROM read_parquet(?)",
        [str(out)]).fetchone()  # type: ignore[misc]
    assert total == to_decimal(report.totals["USD"], COST_SCALE)
    assert reporting == to_decimal(report.totals_reporting["GBP"], COST_SCALE)
    teams = dict(con.execute(
        "SELECT json_extract_string(Tags, '$.team') AS team, sum(BilledCost) "
        "FROM read_parquet(?) GROUP BY team ORDER BY team", [str(out)]).fetchall())
    assert set(teams) == {"ads", "search"} and sum(teams.values()) == total


def _csv_rows(data: bytes) -> list[tuple[str, ...]]:
    return sorted(tuple(r) for r in csv.reader(io.StringIO(data.decode())))


def test_the_service_export_equals_the_ledger_export(exported: Exported) -> None:
    out_csv, _ = _export(exported, "same.csv")
    out_parquet, _ = _export(exported, "same.parquet")
    assert _csv_rows(exported.service_csv) == _csv_rows(out_csv.read_bytes())
    order = [("x_Chain", "ascending"), ("x_Seq", "ascending"), ("x_UsageCategory", "ascending")]
    service = pq.read_table(io.BytesIO(exported.service_parquet)).sort_by(order)
    ledger = pq.read_table(out_parquet).sort_by(order)
    assert service.equals(ledger) and service.num_rows == 20


def test_finance_reads_the_whole_export_a_team_lead_its_team_an_agent_nothing(
        exported: Exported) -> None:
    assert exported.agent_focus_status == 403
    assert exported.finance_csv == exported.service_csv
    header, *rows = list(csv.reader(io.StringIO(exported.team_csv.decode())))
    every = _csv_rows(exported.service_csv)
    ads = [r for r in every if '"team":"ads"' in r[COLUMN_NAMES.index("Tags")]]
    assert header == list(COLUMN_NAMES) and sorted(tuple(r) for r in rows) == ads
    assert ads and len(ads) < len(every) - 1


def test_an_invalid_ledger_exports_nothing(exported: Exported) -> None:
    data = bytearray(exported.ledger.read_bytes())
    data[-10] ^= 0x01  # inside the last receipt's signature
    bad = exported.tmp / "tampered.cbor"
    bad.write_bytes(bytes(data))
    out = exported.tmp / "tampered.csv"
    done = receipt("focus", str(bad), "--key", str(exported.key), "-o", str(out))
    assert done.exit_code == 1
    assert "is INVALID, nothing exported: bad_signature" in done.output
    assert not out.exists() and not list(exported.tmp.glob(".tampered.csv*"))


def test_a_key_that_did_not_sign_the_ledger_exports_nothing(exported: Exported,
                                                           tmp_path: Path) -> None:
    from receipts.deployment.signing_key import Signer

    other = tmp_path / "other.pub.pem"
    other.write_bytes(Signer.generate().public_pem())
    done = receipt("focus", str(exported.ledger), "--key", str(other), "-o",
                   str(tmp_path / "x.csv"))
    assert done.exit_code == 1 and "untrusted_key" in done.output
    assert not (tmp_path / "x.csv").exists()


def test_a_ledger_changed_after_verification_fails_the_export(exported: Exported,
                                                              tmp_path: Path) -> None:
    copy = tmp_path / "copy.cbor"
    copy.write_bytes(exported.ledger.read_bytes())
    verified = verify_ledger_file(copy, (load_public_key_pem(exported.key),), 1)
    data = bytearray(copy.read_bytes())
    data[-10] ^= 0x01
    copy.write_bytes(bytes(data))
    with pytest.raises(LedgerInvalid, match="changed after it was verified"):
        list(verified.receipts())


def test_without_pyarrow_parquet_is_a_501_and_one_cli_line(exported: Exported,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from receipts.errors import ExtraMissing
    from receipts.finops import focus_files

    def missing() -> Any:
        raise ExtraMissing(focus_files.PARQUET_HINT)

    monkeypatch.setattr(focus_files, "_pyarrow", missing)
    with exported.deployment.client() as client:
        answer = client.get("/v1/receipts?format=focus_parquet",
                            headers=exported.deployment.admin)
        still_csv = client.get("/v1/receipts?format=focus", headers=exported.deployment.admin)
    assert answer.status_code == 501
    assert answer.json()["error"]["code"] == "extra_missing"
    assert "pip install '.[parquet]'" in answer.json()["error"]["message"]
    assert still_csv.status_code == 200
    out, done = _export(exported, "none.parquet")
    assert done.exit_code == 1 and not out.exists()
    assert done.output.strip() == "error: Parquet needs the parquet extra: pip install " \
                                  "'.[parquet]'"


@pytest.mark.postgres
def test_on_postgresql_the_service_export_equals_the_ledger_export(tmp_path: Path,
                                                                  pg_url: str) -> None:
    from tests.receipts.conftest import call, make_deployment

    dep = make_deployment(tmp_path, db_url=pg_url)
    _, auth = dep.agent("search")
    with dep.client() as client:
        for i in range(3):
            answer = client.post("/v1/receipts", json=call(f"pg-{i}"), headers=auth)
            assert answer.status_code == 201, answer.text
        ledger = tmp_path / "pg.cbor"
        ledger.write_bytes(client.get("/v1/ledger", headers=dep.admin).content)
        service = client.get("/v1/receipts?format=focus", headers=dep.admin).content
    out = tmp_path / "pg.csv"
    done = receipt("focus", str(ledger), "--key", str(dep.made.public_key), "-o", str(out))
    assert done.exit_code == 0, done.output
    assert _csv_rows(service) == _csv_rows(out.read_bytes())
    assert len(_csv_rows(service)) == 1 + 3 * 3  # header, 3 receipts x 3 categories
