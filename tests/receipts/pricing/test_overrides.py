"""Operator overrides: negotiated discounts, self-hosted models, unmetered models, refusals."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest

from receipts.errors import OverridesError, PriceBookBuildError
from receipts.pricing.book_update import make_book
from receipts.pricing.model_names import ModelNames
from receipts.pricing.overrides import apply_overrides, load_overrides, parse_overrides
from tests.receipts.pricing.billing import prepare_call
from tests.receipts.pricing.conftest import AT, AT_MS
from verifier.money import COST_SCALE, cost_of, to_decimal

BASE = [
    {"provider": "openai", "model": "gpt-4o", "metered": True,
     "prices": {"input": 2_500_000, "output": 10_000_000},
     "service_tiers": {"batch": {"input": 1_250_000, "output": 5_000_000}}, "source": "genai"},
    {"provider": "openai", "model": "moderation", "metered": False, "prices": {}},
    {"provider": "anthropic", "model": "claude-sonnet-4-0", "metered": True,
     "prices": {"input": 3_000_000, "output": 15_000_000}, "source": "genai"},
]


def apply(toml: str) -> dict[tuple[str, str], dict[str, object]]:
    result = apply_overrides(BASE, parse_overrides(toml.encode(), name="ops.toml"))
    return {(e["provider"], e["model"]): e for e in result}  # type: ignore[misc]


def test_provider_wide_discount_scales_every_price_and_tier_exactly() -> None:
    got = apply('[[model]]\nprovider = "openai"\nmodel = "*"\ndiscount_percent = "15"\n'
                'source = "MSA 2026-03"\n')
    gpt = got[("openai", "gpt-4o")]
    assert gpt["prices"] == {"input": 2_125_000, "output": 8_500_000}
    assert gpt["service_tiers"] == {"batch": {"input": 1_062_500, "output": 4_250_000}}
    assert gpt["source"] == "override (ops.toml): MSA 2026-03; was: genai"
    assert got[("openai", "moderation")]["metered"] is False  # nothing to discount
    assert got[("anthropic", "claude-sonnet-4-0")]["prices"]["input"] == 3_000_000


def test_a_discount_that_is_not_exact_is_refused() -> None:
    with pytest.raises(OverridesError, match="not exact"):
        apply('[[model]]\nprovider = "openai"\nmodel = "gpt-4o"\n'
              'discount_percent = "33.3333333"\nsource = "x"\n')


def test_prices_replace_a_model_and_add_a_long_context_tier() -> None:
    got = apply('[[model]]\nprovider = "anthropic"\nmodel = "claude-sonnet-4-0"\n'
                'source = "1M context beta pricing"\n'
                'prices = { input = { base = "3", tiers = [{ start = 200000, price = "6" }] },'
                ' output = { base = "15", tiers = [{ start = 200000, price = "22.50" }] } }\n'
                'service_tiers = { batch = { input = "1.5" } }\n')
    entry = got[("anthropic", "claude-sonnet-4-0")]
    assert entry["prices"] == {
        "input": {"base": 3_000_000, "tiers": [{"start": 200_000, "price": 6_000_000}]},
        "output": {"base": 15_000_000, "tiers": [{"start": 200_000, "price": 22_500_000}]}}
    assert entry["service_tiers"] == {"batch": {
        "input": 1_500_000,
        "output": {"base": 15_000_000, "tiers": [{"start": 200_000, "price": 22_500_000}]}}}


def test_self_hosted_models_at_cost_and_unmetered() -> None:
    got = apply('[[model]]\nprovider = "self-hosted"\nmodel = "qwen3-32b"\n'
                'prices = { input = "0.05", output = "0.2", web_search = "1" }\nsource = "gpu"\n'
                '[[model]]\nprovider = "openai"\nmodel = "gpt-4o"\nmetered = false\n'
                'source = "prepaid commitment"\n')
    assert got[("self-hosted", "qwen3-32b")]["prices"] == {
        "input": 50_000, "output": 200_000, "web_search": 1_000_000_000}
    assert got[("openai", "gpt-4o")] == {"provider": "openai", "model": "gpt-4o",
                                         "metered": False, "prices": {},
                                         "source": "override (ops.toml): prepaid commitment"}


@pytest.mark.parametrize(("toml", "message"), [
    ('[[model]]\nprovider = "x"\nmodel = "y"\nprices = { input = 0.1 }\nsource = "s"\n',
     "decimal strings"),
    ('[[model]]\nprovider = "x"\nmodel = "y"\nprices = { inputs = "1" }\nsource = "s"\n',
     "unknown category 'inputs'"),
    ('[[model]]\nprovider = "x"\nmodel = "y"\nprices = { input = "0.0000001" }\nsource = "s"\n',
     "not a whole number of 10^-6"),
    ('[[model]]\nprovider = "x"\nmodel = "y"\nprices = { input = "-1" }\nsource = "s"\n',
     "non-negative"),
    ('[[model]]\nprovider = "x"\nmodel = "y"\nprices = { input = "1" }\n', "'source' is required"),
    ('[[model]]\nprovider = "openai"\nmodel = "new-model"\nsource = "s"\n', "not in the book"),
    ('[[model]]\nprovider = "openai"\nmodel = "moderation"\ndiscount_percent = "5"\n'
     'source = "s"\n', "not metered"),
    ('[[model]]\nprovider = "openai"\nmodel = "*"\nmetered = false\nsource = "s"\n',
     "only takes discount_percent"),
    ('[[model]]\nprovider = "x"\nmodel = "y"\nmetered = false\ndiscount_percent = "5"\n'
     'source = "s"\n', "unmetered model has no prices"),
    ('[[model]]\nprovider = "x"\nmodel = "y"\ncost = "1"\nsource = "s"\n', "unknown key"),
    ('[[model]]\nprovider = "openai"\nmodel = "*"\ndiscount_percent = "101"\nsource = "s"\n',
     "between 0 and 100"),
    ('[[model]]\nprovider = "x"\nmodel = "y"\nsource = "s"\n'
     'prices = { input = { base = "1", tiers = [{ start = 5, price = "2" }, '
     '{ start = 5, price = "3" }] } }\n', "rising starts"),
    ('[[model]]\nprovider = "x"\nmodel = "y"\nprices = { input = "48960245104607908646" }\n'
     'source = "s"\n', "past the largest unit price the format holds"),  # (found by fuzzing)
    ('[[model]]\nprovider = "x"\nmodel = "y"\nsource = "s"\n'
     'prices = { input = { base = "1", tiers = [{ start = 18446744073709551616, price = "2" }] '
     '} }\n', "each tier is"),
    ('currency = "usd"\n', "ISO 4217"),
    ('colour = "red"\n', "unknown top-level"),
    ('[[model]\n', "not valid TOML"),
])
def test_bad_overrides_are_refused_with_the_reason(toml: str, message: str) -> None:
    with pytest.raises(OverridesError, match=re.escape(message)):
        apply(toml)


def test_override_file_digest_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "ops.toml"
    path.write_text('currency = "USD"\n')
    loaded = load_overrides(path)
    assert loaded.currency == "USD" and loaded.entries == ()
    assert len(loaded.digest) == 64
    with pytest.raises(OverridesError, match=r"missing\.toml"):
        load_overrides(tmp_path / "missing.toml")


def test_negotiated_discount_prices_a_real_call() -> None:
    built = make_book(AT, overrides=parse_overrides(
        b'[[model]]\nprovider = "openai"\nmodel = "gpt-4o"\ndiscount_percent = "15"\n'
        b'source = "enterprise agreement"\n'))
    names = ModelNames(built.book)
    call = prepare_call(names, provider="openai", model="gpt-4o", usage_format="openai",
                        usage={"prompt_tokens": 1000, "completion_tokens": 500}, at_ms=AT_MS)
    result = built.book.resolve(call.provider, call.model, call.usage, call.service_tier)
    # 15% off 2.50 / 10: 1000 x 2.125 + 500 x 8.50 = 2125 + 4250 = 6375 µ$
    assert to_decimal(cost_of(call.usage, result.unit_prices), COST_SCALE) == Decimal("0.006375")
    assert "; overrides overrides sha256:" in built.book.payload["source"]


def test_operator_only_books_in_another_currency() -> None:
    ops = parse_overrides(b'currency = "GBP"\n[[model]]\nprovider = "self-hosted"\n'
                          b'model = "llama"\nprices = { input = "0.04", output = "0.16" }\n'
                          b'source = "finance 2026"\n', name="gbp.toml")
    built = make_book(AT, overrides=ops, use_genai=False, currency="GBP",
                      created_at=AT + dt.timedelta(hours=1))
    assert built.book.currency == "GBP"
    assert list(built.book.entries) == [("self-hosted", "llama")]
    assert built.book.payload["source"].startswith("overrides gbp.toml sha256:")
    with pytest.raises(PriceBookBuildError, match="quotes USD"):
        make_book(AT, currency="GBP")
    with pytest.raises(PriceBookBuildError, match="in GBP"):
        make_book(AT, overrides=ops)
    with pytest.raises(PriceBookBuildError, match="nothing to build"):
        make_book(AT, use_genai=False)


def test_a_book_breaking_the_format_is_a_build_error_the_cli_reports_in_one_line() -> None:
    """The builder's last check is the verifier's; what it finds is a PriceBookBuildError (the
    CLI prints it in one line), not a verifier exception escaping as a traceback."""
    from receipts.pricing.books import build_price_book

    entries = [{"provider": "x", "model": "y", "metered": True, "prices": {"input": 2**64}}]
    with pytest.raises(PriceBookBuildError, match="would break the format's rules"):
        build_price_book(entries, currency="USD", effective_from=0, created_at=0, source="t")
