"""genai-prices data -> price book: time selection, tiers, variants, fallbacks, refusals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from genai_prices import types as gt

from receipts.errors import InexactPriceError, PriceBookBuildError
from receipts.pricing.book_update import BuiltBook, make_book, make_books, to_ms
from receipts.pricing.categories import CATEGORIES
from receipts.pricing.genai_book import snapshot
from receipts.pricing.tiers import tier_for_call
from verifier.encoding import MAX_ITEM_BYTES, decode_strict
from verifier.pricing import PriceBook, latest_book

D = Decimal
DAY = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def price(**kwargs: Any) -> gt.ModelPrice:
    return gt.ModelPrice(**{k: D(v) if isinstance(v, str) else v for k, v in kwargs.items()})


def model(model_id: str, prices: Any, variants: list[gt.PriceVariant] | None = None
          ) -> gt.ModelInfo:
    return gt.ModelInfo(id=model_id, match=gt.ClauseEquals(equals=model_id), prices=prices,
                        price_variants=variants)


def provider(pid: str, *models: gt.ModelInfo, fallback: list[str] | None = None
             ) -> gt.Provider:
    return gt.Provider(id=pid, name=pid, api_pattern="x", pricing_urls=[f"https://{pid}/p"],
                       models=list(models), fallback_model_providers=fallback)


def entries(*providers: gt.Provider, at: dt.datetime = DAY, strict: bool = False
            ) -> dict[tuple[str, str], dict[str, Any]]:
    snap = snapshot(at, providers=list(providers), strict=strict)
    return {(e["provider"], e["model"]): e for e in snap.entries}


def test_prices_in_force_on_the_day_and_future_changes_listed() -> None:
    cut = model("m", [gt.ConditionalPrice(prices=price(input_mtok="10", output_mtok="40")),
                      gt.ConditionalPrice(constraint=gt.StartDateConstraint(dt.date(2026, 3, 2)),
                                          prices=price(input_mtok="2", output_mtok="8"))])
    before = entries(provider("p", cut))[("p", "m")]
    assert before["prices"] == {"input": 10_000_000, "output": 40_000_000}
    after = entries(provider("p", cut), at=DAY + dt.timedelta(days=1))[("p", "m")]
    assert after["prices"] == {"input": 2_000_000, "output": 8_000_000}
    assert "prices from 2026-03-02" in after["source"]
    assert snapshot(DAY, providers=[provider("p", cut)]).changes == [dt.date(2026, 3, 2)]


def test_first_price_applies_when_none_is_active_yet() -> None:
    future = model("m", [gt.ConditionalPrice(
        constraint=gt.StartDateConstraint(dt.date(2027, 1, 1)), prices=price(input_mtok="3"))])
    assert entries(provider("p", future))[("p", "m")]["prices"] == {"input": 3_000_000}


def test_time_of_day_prices_become_window_tiers() -> None:
    peak = model("m", [
        gt.ConditionalPrice(prices=price(input_mtok="0.15")),
        gt.ConditionalPrice(constraint=gt.TimeOfDateConstraint(dt.time(1, 0, tzinfo=dt.UTC),
                                                               dt.time(4, 0, tzinfo=dt.UTC)),
                            prices=price(input_mtok="0.3")),
        gt.ConditionalPrice(constraint=gt.TimeOfDateConstraint(dt.time(22, 30), dt.time(0, 30)),
                            prices=price(input_mtok="0.45"))])
    entry = entries(provider("p", peak))[("p", "m")]
    assert entry["prices"] == {"input": 150_000}
    assert entry["service_tiers"] == {"window:01:00-04:00Z": {"input": 300_000},
                                      "window:22:30-00:30Z": {"input": 450_000}}
    day = to_ms(DAY)
    assert tier_for_call(entry, None, day + 2 * 3_600_000) == "window:01:00-04:00Z"
    assert tier_for_call(entry, None, day + 4 * 3_600_000) is None
    assert tier_for_call(entry, None, day + 23 * 3_600_000) == "window:22:30-00:30Z"
    assert tier_for_call(entry, None, day + 10 * 60_000) == "window:22:30-00:30Z"
    assert tier_for_call(entry, "batch", day + 2 * 3_600_000) == "batch"


def test_variants_become_full_service_tier_price_maps() -> None:
    start_later = gt.StartDateConstraint(dt.date(2026, 6, 1))
    m = model("m", price(input_mtok="2.5", cache_read_mtok="1.25", output_mtok="10"), [
        gt.PriceVariant(when={"service_tier": "default"}, prices=price()),
        gt.PriceVariant(when={"processing": "batch"},
                        prices=price(input_mtok="1.25", output_mtok="5")),
        gt.PriceVariant(when={"processing": "batch"}, prices=price(input_mtok="0.5")),
        gt.PriceVariant(when={"service_tier": "flex"}, prices=price(input_mtok="1"),
                        constraint=start_later),
        gt.PriceVariant(when={"speed": "fast"}, prices=price(output_mtok="60")),
        gt.PriceVariant(when={"route": "eu"}, prices=price(input_mtok="3")),
    ])
    entry = entries(provider("p", m))[("p", "m")]
    assert entry["service_tiers"] == {
        # first active variant wins per key; unchanged keys keep the standard price
        "batch": {"input": 1_250_000, "cache_read": 1_250_000, "output": 5_000_000},
        "fast": {"input": 2_500_000, "cache_read": 1_250_000, "output": 60_000_000},
        "route:eu": {"input": 3_000_000, "cache_read": 1_250_000, "output": 10_000_000},
    }
    later = entries(provider("p", m), at=dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
    assert later[("p", "m")]["service_tiers"]["flex"]["input"] == 1_000_000


def test_combined_variant_contexts_are_refused_not_guessed() -> None:
    m = model("m", price(input_mtok="1"), [
        gt.PriceVariant(when={"processing": "batch", "service_tier": "flex"},
                        prices=price(input_mtok="0.25"))])
    snap = snapshot(DAY, providers=[provider("p", m)])
    assert "service_tiers" not in snap.entries[0]
    assert [r.what for r in snap.refused] == ["variant {'processing': 'batch', "
                                              "'service_tier': 'flex'}"]


def test_long_context_tiers_keep_the_cliff_rule() -> None:
    m = model("m", price(input_mtok=gt.TieredPrices(D("1.25"), [gt.Tier(200_000, D("2.5"))])))
    assert entries(provider("p", m))[("p", "m")]["prices"] == {
        "input": {"base": 1_250_000, "tiers": [{"start": 200_000, "price": 2_500_000}]}}


def test_request_units_convert_to_per_million() -> None:
    m = model("m", price(web_searches_kcount="10", requests_kcount="5", audio_hours="0.36",
                         input_mchars="15", cache_write_5m_mtok="3.75"))
    assert entries(provider("p", m))[("p", "m")]["prices"] == {
        "web_search": 10_000_000_000, "request": 5_000_000_000, "audio_seconds": 100_000_000,
        "input_characters": 15_000_000, "cache_write": 3_750_000}


def test_models_without_prices_are_not_metered() -> None:
    seat = model("seat", price())
    entry = entries(provider("copilot", seat))[("copilot", "seat")]
    assert entry["metered"] is False
    assert entry["prices"] == {}


def test_inexact_prices_are_refused_and_named_never_rounded() -> None:
    m = model("m", price(input_mtok="0.18000000000000002", output_mtok="1",
                         audio_hours="3"))
    snap = snapshot(DAY, providers=[provider("p", m)])
    entry = snap.entries[0]
    assert entry["prices"] == {"output": 1_000_000}
    assert entry["metered"] is True
    assert "prices.input refused" in entry["source"]
    reasons = {r.what: r.reason for r in snap.refused}
    assert "0.18000000000000002" in reasons["prices.input"]
    assert "833.333333333333333..." in reasons["prices.audio_seconds"]
    with pytest.raises(InexactPriceError, match="2 price"):
        snapshot(DAY, providers=[provider("p", m)], strict=True)


def test_unmapped_price_keys_are_refused() -> None:
    m = model("m", price(input_mtok="1", output_text_mtok="2"))
    snap = snapshot(DAY, providers=[provider("p", m)])
    assert [(r.what, r.reason) for r in snap.refused] == [
        ("prices.output_text_mtok", "genai-prices unit this book format does not map")]


def test_resellers_get_the_fallback_models_without_variants_and_own_models_win() -> None:
    upstream = provider("openai",
                        model("gpt-x", price(input_mtok="2"),
                              [gt.PriceVariant(when={"processing": "batch"},
                                               prices=price(input_mtok="1"))]),
                        model("gpt-y", price(input_mtok="4")))
    reseller = provider("azure", model("gpt-y", price(input_mtok="5")), fallback=["openai"])
    got = entries(upstream, reseller)
    assert got[("azure", "gpt-x")]["prices"] == {"input": 2_000_000}
    assert "service_tiers" not in got[("azure", "gpt-x")]
    assert "resold by azure" in got[("azure", "gpt-x")]["source"]
    assert got[("azure", "gpt-y")]["prices"] == {"input": 5_000_000}


def test_flat_fee_seats_mirror_the_provider_unmetered() -> None:
    got = entries(provider("openai", model("gpt-x", price(input_mtok="2"))))
    assert got[("chatgpt-web", "gpt-x")] == {
        "provider": "chatgpt-web", "model": "gpt-x", "metered": False, "prices": {},
        "source": "ChatGPT seat: flat fee, not metered per call"}


def test_duplicate_ids_keep_the_first() -> None:
    snap = snapshot(DAY, providers=[provider("p", model("m", price(input_mtok="1")),
                                             model("m", price(input_mtok="2")))])
    assert [e["prices"] for e in snap.entries] == [{"input": 1_000_000}]
    assert snap.refused[0].what == "entry"


def test_instants_must_be_aware() -> None:
    with pytest.raises(PriceBookBuildError):
        snapshot(dt.datetime(2026, 1, 1), providers=[])


def test_the_real_snapshot_is_a_valid_deterministic_book(built: BuiltBook) -> None:
    assert len(built.payload_bytes) < MAX_ITEM_BYTES
    again = PriceBook.from_payload(decode_strict(built.payload_bytes), built.payload_bytes)
    assert again.id == built.book.id
    same = make_book(dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    assert same.payload_bytes == make_book(dt.datetime(2026, 11, 1, tzinfo=dt.UTC)).payload_bytes
    assert len(built.book.entries) > 2000
    for entry in built.book.entries.values():
        for prices in (entry["prices"], *entry.get("service_tiers", {}).values()):
            assert set(prices) <= set(CATEGORIES)
    assert set(built.book.input_categories) == {c.name for c in CATEGORIES.values() if c.input}
    assert "genai-prices" in built.book.payload["source"]


def test_books_at_each_price_change_make_prices_follow_the_call_time() -> None:
    start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    books = make_books(start, dt.datetime(2026, 12, 31, tzinfo=dt.UTC))
    assert [b.book.effective_from for b in books] == sorted(b.book.effective_from for b in books)
    assert {dt.date(2026, 12, 1)} <= {
        dt.datetime.fromtimestamp(b.book.effective_from / 1000, dt.UTC).date() for b in books}
    index = [b.book for b in books]

    def input_price(when: dt.datetime) -> Any:
        book = latest_book(index, to_ms(when))
        assert book is not None
        return book.entries[("google", "gemini-4-argon")]["prices"]["input"]

    # genai-prices schedules Gemini 4 Argon's input price from $2 to $4 on 2026-12-01
    assert input_price(dt.datetime(2026, 11, 30, 23, 59, tzinfo=dt.UTC)) == 2_000_000
    assert input_price(dt.datetime(2026, 12, 1, tzinfo=dt.UTC)) == 4_000_000
