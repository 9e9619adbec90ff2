"""Operating prices and rates on a deployment: ``receipt fx set`` and ``receipt prices update
--data``, picked up by a running service, never repricing history, and in a ledger that
verifies."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from receipts.cli.main import main
from tests.receipts.conftest import Deployment, call, make_deployment
from verifier.keys import PublicKey
from verifier.verify import VerifyOptions, audit_ledger


def receipt(*args: str) -> Any:
    """``receipt ARGS`` in-process (stdout and stderr apart)."""
    return CliRunner().invoke(main, list(args))


def _where(dep: Deployment) -> list[str]:
    return ["--data", str(dep.settings.data_dir), "--db", dep.settings.db_url]


def _verify(dep: Deployment, ledger: bytes) -> None:
    key = PublicKey(dep.made.signer.public_key)
    report = audit_ledger([ledger], VerifyOptions(trusted_keys=(key,), workers=1))
    assert report.valid, report.failure


@pytest.fixture
def gbp(tmp_path: Path) -> Deployment:
    """A deployment reporting in GBP (price books in USD)."""
    return make_deployment(tmp_path, currency="GBP")


def test_fx_set_then_receipts_carry_the_rate_and_rollup_reporting_adds_up(
        gbp: Deployment, tmp_path: Path) -> None:
    _, auth = gbp.agent()
    with gbp.client() as client:
        before = client.post("/v1/receipts", json=call("before"), headers=auth).json()
        today = dt.datetime.now(dt.UTC).date().isoformat()
        done = receipt("fx", "set", "gbp", "0.79", "--source", "ecb", *_where(gbp))
        assert done.exit_code == 0, done.output
        assert f"published {today}: 1 USD = 0.790000000 GBP (source ecb" in done.stdout
        after = [client.post("/v1/receipts", json=call(f"a{i}", usage={
            "input_tokens": 1000 + i, "output_tokens": 200 + i}), headers=auth).json()
            for i in range(3)]
        rates = client.get("/v1/fx", headers=gbp.admin).json()["rates"]
        ledger = client.get("/v1/ledger", headers=gbp.admin).content
    # the receipt issued before the rate existed has none (and keeps none)
    assert before["receipt"]["fx"] is None and before["receipt"]["cost_reporting"] is None
    for item in after:
        r = item["receipt"]
        assert r["fx"] == {"currency": "GBP", "rate": "0.790000000", "date": today,
                           "source": "ecb"}
        # e.g. a0: 1000 x 2.50 + 200 x 10 = 4500 per 1M = $0.0045 -> x 0.79 = GBP 0.003555
        assert Decimal(r["cost_reporting"]) == Decimal(r["cost"]) * Decimal("0.79")
    assert Decimal(after[0]["receipt"]["cost_reporting"]) == Decimal("0.003555")
    assert [(r["quote"], r["rate"], r["source"]) for r in rates] == [("GBP", "0.790000000",
                                                                      "ecb")]
    _verify(gbp, ledger)
    path = tmp_path / "ledger.cbor"
    path.write_bytes(ledger)
    rolled = receipt("rollup", str(path), "--by", "team", "--currency", "reporting",
                     "--format", "json", "--workers", "1")
    assert rolled.exit_code == 0, rolled.output
    total = sum(Decimal(x["receipt"]["cost_reporting"]) for x in after)
    rows = json.loads(rolled.stdout)
    rows = rows["rows"] if isinstance(rows, dict) else rows
    gbp_rows = [row for row in rows if row["currency"] == "GBP"]
    assert [Decimal(row["cost"]) for row in gbp_rows] == [total]
    assert gbp_rows[0]["receipts"] == 3
    # the receipt issued before any rate has no reporting cost: counted apart, as unpriced
    assert [(row["receipts"], row["unpriced"]) for row in rows if row["currency"] != "GBP"] \
        == [(1, 1)]


@pytest.mark.parametrize(("args", "says"), [
    (["GBP", "1e-3"], "rate '1e-3'"),
    (["GBP", "0.1234567891"], "at most 9 decimals"),
    (["GBP", "0.79f"], "rate '0.79f'"),
    (["GBP", "-1"], "rate '-1'"),
    (["GBP", "0"], "must be positive"),
    (["GBP", "99999999999999999999"], "past the largest rate"),  # overflowed the database
    (["GBP", "9223372036.854775808"], "past the largest rate"),  # one unit past it
    (["EUR", "0.9"], "reporting currency GBP"),
    (["pounds", "0.9"], "ISO 4217"),
    (["GBP", "0.79", "--date", "2026-13-01"], "YYYY-MM-DD"),
])
def test_fx_set_refuses_garbage_in_one_line(gbp: Deployment, args: list[str],
                                            says: str) -> None:
    done = receipt("fx", "set", *args, *_where(gbp))
    assert done.exit_code == 1
    assert done.stderr.startswith("error: ") and says in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.output
    with gbp.client() as client:
        assert client.get("/v1/fx", headers=gbp.admin).json()["rates"] == []


def test_fx_set_when_books_are_in_the_reporting_currency(deployment: Deployment) -> None:
    done = receipt("fx", "set", "USD", "1", *_where(deployment))
    assert done.exit_code == 1 and "no rate is needed" in done.stderr


OVERRIDES = """
[[model]]
provider = "openai"
model = "gpt-4o"
prices = { input = "2", cache_read = "1", output = "8" }
source = "negotiated 2026"
"""


def test_prices_update_stores_a_book_later_receipts_cite_and_history_keeps(
        deployment: Deployment, tmp_path: Path) -> None:
    overrides = tmp_path / "prices.toml"
    overrides.write_text(OVERRIDES)
    _, auth = deployment.agent()
    usage = {"input_tokens": 1000, "output_tokens": 200, "cache_read_tokens": 400}
    with deployment.client() as client:
        # a running service: the update is made by another process-like runtime meanwhile
        old = client.post("/v1/receipts", json=call("old", usage=usage), headers=auth).json()
        done = receipt("prices", "update", "--no-genai", "--overrides", str(overrides),
                       *_where(deployment))
        assert done.exit_code == 0, done.output
        new_id = done.stdout.strip()
        assert len(new_id) == 64 and "stored:" in done.stderr
        new = client.post("/v1/receipts", json=call("new", usage=usage), headers=auth).json()
        replay = client.post("/v1/receipts", json=call("old", usage=usage), headers=auth)
        ledger = client.get("/v1/ledger", headers=deployment.admin).content
        book = client.get(f"/v1/price-books/{new_id}", headers=deployment.admin)
    assert book.status_code == 200
    # old book (shipped): 600 x 2.50 + 400 x 1.25 + 200 x 10 = 4000 per 1M -> $0.004
    assert old["receipt"]["price_book"] != new_id
    assert Decimal(old["receipt"]["cost"]) == Decimal("0.004")
    # new book: 600 x 2 + 400 x 1 + 200 x 8 = 3200 per 1M -> $0.0032
    assert new["receipt"]["price_book"] == new_id
    assert Decimal(new["receipt"]["cost"]) == Decimal("0.0032")
    # a retry of the old call is its original receipt, old book and all
    assert replay.status_code == 200 and replay.json() == old
    _verify(deployment, ledger)


def test_prices_update_never_reprices_history(deployment: Deployment, tmp_path: Path) -> None:
    overrides = tmp_path / "prices.toml"
    overrides.write_text(OVERRIDES)
    _, auth = deployment.agent()
    with deployment.client() as client:
        assert client.post("/v1/receipts", json=call(), headers=auth).status_code == 201
    past = receipt("prices", "update", "--no-genai", "--overrides", str(overrides), "--at",
                   "2025-06-01", *_where(deployment))
    assert past.exit_code == 1 and "never reprices history" in past.stderr
    assert len(past.stderr.strip().splitlines()) == 1
    no_target = receipt("prices", "update", "--no-genai", "--overrides", str(overrides))
    assert no_target.exit_code == 2 and "--out" in no_target.stderr


def test_a_book_built_while_receipts_arrive_is_rebuilt_after_them(
        deployment: Deployment) -> None:
    from receipts.deployment.runtime import open_runtime, store_price_book
    from receipts.pricing.book_update import BuiltBook, make_book
    from receipts.pricing.overrides import parse_overrides

    overrides = parse_overrides(OVERRIDES.encode())
    _, auth = deployment.agent()
    runtime = open_runtime(deployment.settings)
    instants: list[dt.datetime] = []
    try:
        with deployment.client() as client:
            def build(at: dt.datetime) -> BuiltBook:
                instants.append(at)
                if len(instants) == 1:  # a receipt is issued while the first build runs
                    assert client.post("/v1/receipts", json=call(), headers=auth) \
                        .status_code == 201
                return make_book(at, overrides=overrides, use_genai=False)

            built = store_price_book(runtime, build)
            later = client.post("/v1/receipts", json=call("r2"), headers=auth).json()
            ledger = client.get("/v1/ledger", headers=deployment.admin).content
    finally:
        runtime.close()
    assert len(instants) == 2 and instants[1] > instants[0]
    assert later["receipt"]["price_book"] == built.id_hex
    _verify(deployment, ledger)


PRICEY = """
[[model]]
provider = "self-hosted"
model = "pricey"
prices = { input = "1000000", output = "1000000" }
source = "a price high enough to overflow a receipt with a large call"
"""


def test_a_call_whose_cost_would_not_fit_a_receipt_is_a_422_and_the_ledger_stays_valid(
        gbp: Deployment, tmp_path: Path) -> None:
    """Found by fuzzing: $1,000,000 per 1M tokens times 2 billion tokens is $2 billion, past
    the 18,446,744.07... a receipt's cost holds (uint64 at 10^-12). It was signed as a CBOR
    bignum and the whole ledger then failed verification."""
    overrides = tmp_path / "pricey.toml"
    overrides.write_text(PRICEY)
    assert receipt("prices", "update", "--no-genai", "--overrides", str(overrides),
                   *_where(gbp)).exit_code == 0
    assert receipt("fx", "set", "GBP", "0.79", *_where(gbp)).exit_code == 0
    _, auth = gbp.agent()
    huge = {"input_tokens": 1_000_000_000, "output_tokens": 1_000_000_000}
    # $1 per token: 10 tokens cost $10; 20,000,000 cost $20,000,000, past the range in USD
    fine = {"input_tokens": 5, "output_tokens": 5}
    past = {"input_tokens": 10_000_000, "output_tokens": 10_000_000}
    with gbp.client() as client:
        ok = client.post("/v1/receipts", json=call(
            "ok", provider="self-hosted", model="pricey", usage=fine), headers=auth)
        single = client.post("/v1/receipts", json=call(
            "huge", provider="self-hosted", model="pricey", usage=huge), headers=auth)
        border = client.post("/v1/receipts", json=call(
            "past", provider="self-hosted", model="pricey", usage=past), headers=auth)
        batch = client.post("/v1/receipts/batch", headers=auth, json={"atomic": False, "calls": [
            call("b-ok", provider="self-hosted", model="pricey", usage=fine),
            call("b-huge", provider="self-hosted", model="pricey", usage=huge)]})
        ledger = client.get("/v1/ledger", headers=gbp.admin).content
    assert ok.status_code == 201 and Decimal(ok.json()["receipt"]["cost"]) == 10
    for refused in (single, border):
        assert refused.status_code == 422, refused.text
        assert "more than a receipt holds" in refused.json()["error"]["fields"][0]["reason"]
        assert refused.json()["error"]["fields"][0]["field"] == "usage"
    results = batch.json()["results"]
    assert [r["status"] for r in results] == [201, 422]
    assert results[1]["error"]["fields"][0]["field"] == "calls.1.usage"
    _verify(gbp, ledger)


def test_cost_range_bound_is_units_times_the_largest_price() -> None:
    """The bound lets a call skip the exact check only when no price of the book could make
    its cost overflow."""
    from receipts.issuing.cost_range import MAX_COST, largest_unit_price, surely_fits
    from receipts.pricing.book_update import make_book
    from receipts.pricing.overrides import parse_overrides
    from verifier.money import FX_ONE

    built = make_book(dt.datetime(2026, 1, 1, tzinfo=dt.UTC), use_genai=False,
                      overrides=parse_overrides(PRICEY.encode()))
    price = largest_unit_price(built.book)
    assert price == 10**12  # $1,000,000 per 1M tokens, in 10^-6 units
    limit = MAX_COST // price
    assert surely_fits(limit, built.book, FX_ONE)
    assert not surely_fits(limit + 1, built.book, FX_ONE)
    assert not surely_fits(limit, built.book, 2 * FX_ONE)  # converted, it could overflow
    assert surely_fits(limit, built.book, FX_ONE // 2)  # a rate below 1 never raises a cost


def test_the_append_signs_nothing_beyond_the_range_even_if_the_request_check_passed(
        deployment: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The request-time check uses the book in force then; a new book may take effect before
    the append. The append checks again and signs nothing of that group (503, retry)."""
    from receipts.issuing.service import ReceiptService

    overrides = tmp_path / "pricey.toml"
    overrides.write_text(PRICEY)
    assert receipt("prices", "update", "--no-genai", "--overrides", str(overrides),
                   *_where(deployment)).exit_code == 0
    monkeypatch.setattr(ReceiptService, "refuse_unrepresentable_cost", lambda self, p: None)
    _, auth = deployment.agent()
    huge = {"input_tokens": 1_000_000_000, "output_tokens": 1_000_000_000}
    with deployment.client() as client:
        refused = client.post("/v1/receipts", json=call(
            "huge", provider="self-hosted", model="pricey", usage=huge), headers=auth)
        after = client.post("/v1/receipts", json=call("after"), headers=auth)
        ledger = client.get("/v1/ledger", headers=deployment.admin).content
        stored = client.get("/v1/receipts", headers=deployment.admin).json()["receipts"]
    assert refused.status_code == 503, refused.text
    assert "more than a receipt holds" in refused.json()["error"]["message"]
    assert after.status_code == 201
    assert [r["receipt"]["request_id"] for r in stored] == ["after"]
    _verify(deployment, ledger)
