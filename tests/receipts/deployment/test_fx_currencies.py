"""FX rates are signed into the ledger for good: only for real ISO 4217 currencies (the list
ships with the package), from a price book's currency to the reporting currency."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from receipts.cli.main import main
from receipts.errors import ConfigError, PriceBookBuildError
from receipts.pricing.book_update import make_book
from receipts.pricing.currencies import ISO_4217, is_currency
from tests.receipts.conftest import Deployment, make_deployment


@pytest.fixture
def gbp(tmp_path: Path) -> Deployment:
    """A deployment reporting in GBP (price books in USD)."""
    return make_deployment(tmp_path, currency="GBP")


def test_the_shipped_list_is_iso_4217() -> None:
    assert {"USD", "EUR", "GBP", "JPY", "CHF", "XCG", "ZWG", "XAU"} <= ISO_4217
    assert not ({"ZZZ", "XTS", "XXX", "usd", "US", "ABC"} & ISO_4217)
    assert all(len(c) == 3 and c.isascii() and c.isupper() for c in ISO_4217)


def _fields(response: Any) -> list[str]:
    return [f["field"] for f in response.json()["error"]["fields"]]


@pytest.mark.parametrize(("body", "field"), [
    ({"rate": "1.1", "base": "ZZZ"}, "base"),
    ({"rate": "1.1", "base": "XTS"}, "base"),
    ({"rate": "1.1", "base": "EUR"}, "base"),  # real, but no price book is in EUR
    ({"rate": "1.1", "quote": "ZZZ"}, "quote"),
    ({"rate": "1.1", "quote": "EUR"}, "quote"),  # real, but not the reporting currency
])
def test_put_fx_refuses_what_no_receipt_could_use(gbp: Deployment, body: dict[str, str],
                                                  field: str) -> None:
    with gbp.client() as client:
        refused = client.put("/v1/fx/2026-01-02", json=body, headers=gbp.admin)
        ok = client.put("/v1/fx/2026-01-02", json={"rate": "0.79", "base": "USD"},
                        headers=gbp.admin)
        rates = client.get("/v1/fx", headers=gbp.admin).json()["rates"]
        ledger = client.get("/v1/ledger", headers=gbp.admin).content
    assert refused.status_code == 422, refused.text
    assert _fields(refused) == [field]
    assert ok.status_code == 201
    assert [(r["base"], r["quote"]) for r in rates] == [("USD", "GBP")]
    from verifier import VerifyOptions, audit_ledger
    assert audit_ledger([ledger], VerifyOptions(workers=1)).valid


def test_fx_set_refuses_a_made_up_currency_in_one_line(gbp: Deployment) -> None:
    where = ["--data", str(gbp.settings.data_dir), "--db", gbp.settings.db_url]
    done = CliRunner().invoke(main, ["fx", "set", "ZZZ", "0.9", *where])
    assert done.exit_code == 1 and "ISO 4217" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_init_and_books_take_real_currencies_only(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ISO 4217"):
        make_deployment(tmp_path / "a", currency="ZZZ")
    assert is_currency("GBP") and not is_currency("ZZZ")
    import datetime as dt
    with pytest.raises(PriceBookBuildError, match="ISO 4217"):
        make_book(dt.datetime.now(dt.UTC), use_genai=False, currency="ZZZ")
