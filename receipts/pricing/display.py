"""Human and JSON views of book entries and of the difference between two books.

Prices are shown the way providers quote them (per 1M tokens, per 1K requests, per hour of
audio) as exact decimal strings, converted from the book's integer unit prices; nothing here
rounds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction
from typing import Any

from receipts.pricing.book_update import BuiltBook
from receipts.pricing.categories import CATEGORIES
from verifier.pricing import PriceBook

_UNIT_LABEL = {1_000_000: "1M", 1_000: "1K", 3_600: "hour of"}


def quoted(category: str, unit_price: int) -> str:
    """``2.5`` (currency per the category's quoted unit) for a book unit price, exactly."""
    per = CATEGORIES[category].per if category in CATEGORIES else 1_000_000
    value = Fraction(unit_price * per, 10**12)
    text = f"{Decimal(value.numerator) / Decimal(value.denominator):f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def unit_label(category: str) -> str:
    """``per 1M tokens`` / ``per 1K requests`` / ``per hour of seconds``."""
    known = CATEGORIES.get(category)
    if known is None:
        return "per 1M units"
    label = _UNIT_LABEL.get(known.per, f"{known.per:,}")
    return f"per {label} {'seconds' if known.unit == 'second' else known.unit + 's'}"


def price_text(category: str, price: Any) -> str:
    """One price, flat or tiered, as text."""
    if isinstance(price, int):
        return f"{quoted(category, price)} {unit_label(category)}"
    tiers = ", ".join(f"{quoted(category, t['price'])} above {t['start']:,} input tokens"
                      for t in price["tiers"])
    return f"{quoted(category, price['base'])} {unit_label(category)} ({tiers})"


def price_json(category: str, price: Any) -> Any:
    """One price as JSON: decimal strings per the quoted unit."""
    if isinstance(price, int):
        return quoted(category, price)
    return {"base": quoted(category, price["base"]),
            "tiers": [{"start": t["start"], "price": quoted(category, t["price"])}
                      for t in price["tiers"]]}


def entry_json(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A book entry with prices as decimal strings (quoted units), for ``--json``."""
    out: dict[str, Any] = {
        "provider": entry["provider"], "model": entry["model"], "metered": entry["metered"],
        "prices": {c: price_json(c, p) for c, p in sorted(entry["prices"].items())},
        "units": {c: unit_label(c) for c in sorted(entry["prices"])},
        "source": entry.get("source"),
    }
    if entry.get("service_tiers"):
        out["service_tiers"] = {
            tier: {c: price_json(c, p) for c, p in sorted(prices.items())}
            for tier, prices in sorted(entry["service_tiers"].items())}
    return out


def entry_lines(entry: Mapping[str, Any]) -> list[str]:
    """A book entry as aligned text lines."""
    if not entry["metered"]:
        return ["not metered: calls get a receipt with cost null (pricing_status not_metered)"]
    lines = [f"  {c:<22} {price_text(c, p)}" for c, p in sorted(entry["prices"].items())]
    for tier, prices in sorted(entry.get("service_tiers", {}).items()):
        lines.append(f"service tier {tier}:")
        lines += [f"  {c:<22} {price_text(c, p)}" for c, p in sorted(prices.items())]
    folded = [f"{name} -> {_fold_target(name, entry['prices'])}" for name in CATEGORIES
              if name not in entry["prices"] and _fold_target(name, entry["prices"])]
    if folded:
        lines.append("billed at another category's price: " + ", ".join(folded))
    return lines


def _fold_target(name: str, prices: Mapping[str, Any]) -> str | None:
    return next((p for p in CATEGORIES[name].parents if p in prices), None)


def diff_books(old: PriceBook, new: PriceBook) -> dict[str, Any]:
    """Added, removed and changed entries between two books (changes per category and tier)."""
    added = sorted(k for k in new.entries if k not in old.entries)
    removed = sorted(k for k in old.entries if k not in new.entries)
    changed: list[dict[str, Any]] = []
    for key in sorted(k for k in old.entries if k in new.entries):
        change = _entry_changes(old.entries[key], new.entries[key])
        if change:
            changed.append({"provider": key[0], "model": key[1], "changes": change})
    return {
        "old": {"id": old.id.hex(), "currency": old.currency,
                "effective_from": old.effective_from, "source": old.payload["source"]},
        "new": {"id": new.id.hex(), "currency": new.currency,
                "effective_from": new.effective_from, "source": new.payload["source"]},
        "added": [f"{p}/{m}" for p, m in added],
        "removed": [f"{p}/{m}" for p, m in removed],
        "changed": changed,
        "unchanged": len(old.entries) - len(removed) - len(changed),
    }


def _entry_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    if old["metered"] != new["metered"]:
        out.append(f"metered {str(old['metered']).lower()} -> {str(new['metered']).lower()}")
    out += _price_changes("", old["prices"], new["prices"])
    old_tiers, new_tiers = old.get("service_tiers", {}), new.get("service_tiers", {})
    for tier in sorted(old_tiers.keys() | new_tiers.keys()):
        if tier not in new_tiers:
            out.append(f"[{tier}] tier removed")
        elif tier not in old_tiers:
            out.append(f"[{tier}] tier added")
        else:
            out += _price_changes(f"[{tier}] ", old_tiers[tier], new_tiers[tier])
    return out


def _price_changes(prefix: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    out = []
    for category in sorted(old.keys() | new.keys()):
        before, after = old.get(category), new.get(category)
        if before == after:
            continue
        show_before = price_text(category, before) if before is not None else "(none)"
        show_after = price_text(category, after) if after is not None else "(none)"
        out.append(f"{prefix}{category}: {show_before} -> {show_after}")
    return out


def iso_seconds(ms: int) -> str:
    """``2026-11-25T00:00:00Z`` for a millisecond timestamp."""
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def built_lines(built: BuiltBook, *, verbose: bool = False,
                now: dt.datetime | None = None) -> list[str]:
    """What ``prices update`` tells the operator about a new book: size, source, refused
    prices (left out, so calls needing them are unpriced) and upcoming price changes."""
    book = built.book
    metered = sum(1 for e in book.entries.values() if e["metered"])
    lines = [f"book:      {built.id_hex}",
             f"models:    {len(book.entries):,} ({metered:,} metered), currency "
             f"{book.currency}, effective from {iso_seconds(book.effective_from)}",
             f"source:    {book.payload['source']}"]
    now = now or dt.datetime.now(dt.UTC)
    if book.effective_from < (now - dt.timedelta(minutes=5)).timestamp() * 1000:
        lines.append("warning:   effective in the past: a service must not add a book that "
                     "takes effect before receipts it has already issued")
    if built.refused:
        lines.append(f"refused:   {len(built.refused)} price(s) not exact at 10^-6 per 1M units "
                     "were left out (calls that need them are priced unpriced_category, "
                     "never $0):")
        shown = built.refused if verbose else built.refused[:10]
        lines += [f"  {line}" for line in shown]
        if len(shown) < len(built.refused):
            lines.append(f"  ... {len(built.refused) - len(shown)} more (--verbose lists all)")
    if built.changes:
        days = ", ".join(d.isoformat() for d in built.changes[:8])
        more = " ..." if len(built.changes) > 8 else ""
        lines.append(f"upcoming:  genai-prices has price changes on {days}{more}: make a new "
                     "book on each date")
    return lines
