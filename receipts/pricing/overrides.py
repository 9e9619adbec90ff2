"""Operator price overrides: a TOML file merged into the next price book.

Negotiated discounts, self-hosted models priced at their running cost, and models that are not
metered at all are facts only the operator knows. They go in a file, with a ``source`` for every
line (an auditor asks "says who?"), and become part of the next book, so a receipt priced with
an override cites a book that shows the override. Example::

    currency = "USD"                     # optional; must match the book's currency

    [[model]]                            # a negotiated discount on every OpenAI model
    provider = "openai"
    model = "*"
    discount_percent = "15"
    source = "OpenAI enterprise agreement 2026-03"

    [[model]]                            # a self-hosted model at its cost per token
    provider = "self-hosted"
    model = "qwen3-32b"
    prices = { input = "0.05", output = "0.20" }
    source = "GPU cluster cost model 2026-Q3"

    [[model]]                            # a self-hosted model nobody is charged for
    provider = "self-hosted"
    model = "llama-3.1-70b"
    metered = false
    source = "research cluster, paid centrally"

Prices are decimal strings in the book currency per the category's natural unit, as
``genai-prices`` quotes them: per 1M tokens, per 1K requests (``web_search``, ``request``...),
per hour (``audio_seconds``). A tiered price is ``{ base = "3", tiers = [{ start = 200000,
price = "6" }] }``. ``prices`` replaces a model's prices (and its service tiers, unless
``service_tiers`` is given); ``service_tiers = { batch = { input = "1.25" } }`` overlays a tier
on the model's prices; ``discount_percent`` then scales every price of the entry, exactly or
not at all.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Any

from receipts.errors import InexactPriceError, OverridesError
from receipts.pricing.categories import CATEGORIES
from receipts.pricing.unit_prices import price_value, scale_price
from verifier.schema import MAX_UINT

_MODEL_KEYS = frozenset({"provider", "model", "metered", "prices", "service_tiers",
                         "discount_percent", "source"})
ALL_MODELS = "*"


@dataclass(frozen=True)
class Override:
    """One ``[[model]]`` table, checked and with its prices already in integer form."""

    provider: str
    model: str
    source: str
    metered: bool = True
    prices: dict[str, Any] | None = None
    service_tiers: dict[str, dict[str, Any]] | None = None
    discount: Fraction | None = None


@dataclass(frozen=True)
class Overrides:
    """A parsed overrides file: its entries in file order and the digest of its bytes."""

    entries: tuple[Override, ...]
    currency: str | None
    name: str
    digest: str


def load_overrides(path: Path) -> Overrides:
    """Read and check an overrides file (errors name the file and the offending entry)."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise OverridesError(f"{path}: {e.strerror}") from e
    return parse_overrides(data, name=path.name)


def parse_overrides(data: bytes, *, name: str = "overrides") -> Overrides:
    """Parse overrides from TOML bytes."""
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise OverridesError(f"{name}: not valid TOML: {e}") from e
    unknown = doc.keys() - {"currency", "model"}
    if unknown:
        raise OverridesError(f"{name}: unknown top-level key(s) {', '.join(sorted(unknown))}")
    currency = doc.get("currency")
    if currency is not None and (type(currency) is not str or len(currency) != 3
                                 or not currency.isupper()):
        raise OverridesError(f"{name}: currency must be an ISO 4217 code such as USD")
    tables = doc.get("model", [])
    if not isinstance(tables, list):
        raise OverridesError(f"{name}: 'model' must be an array of tables ([[model]])")
    entries = tuple(_override(t, f"{name} [[model]] #{i + 1}") for i, t in enumerate(tables))
    return Overrides(entries, currency, name, hashlib.sha256(data).hexdigest())


def _override(table: Any, where: str) -> Override:
    if not isinstance(table, dict):
        raise OverridesError(f"{where}: must be a table")
    unknown = table.keys() - _MODEL_KEYS
    if unknown:
        raise OverridesError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    for key in ("provider", "model", "source"):
        if type(table.get(key)) is not str or not table[key].strip():
            raise OverridesError(f"{where}: '{key}' is required text")
    where = f"{where} ({table['provider']}/{table['model']})"
    metered = table.get("metered", True)
    if type(metered) is not bool:
        raise OverridesError(f"{where}: metered must be true or false")
    prices = _prices(table["prices"], f"{where} prices") if "prices" in table else None
    tiers = None
    if "service_tiers" in table:
        if not isinstance(table["service_tiers"], dict):
            raise OverridesError(f"{where}: service_tiers must be a table of tables")
        tiers = {n: _prices(p, f"{where} service_tiers.{n}")
                 for n, p in table["service_tiers"].items()}
    discount = _discount(table["discount_percent"], where) if "discount_percent" in table \
        else None
    if table["model"] == ALL_MODELS and (prices is not None or tiers is not None or not metered):
        raise OverridesError(f"{where}: model '*' only takes discount_percent")
    if not metered and (prices or tiers or discount):
        raise OverridesError(f"{where}: an unmetered model has no prices or discount")
    return Override(table["provider"], table["model"], table["source"], metered, prices, tiers,
                    discount)


def _prices(table: Any, where: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise OverridesError(f"{where}: must be a table of category = price")
    out: dict[str, Any] = {}
    for category, value in table.items():
        if category not in CATEGORIES:
            raise OverridesError(f"{where}: unknown category {category!r} "
                                 f"(known: {', '.join(CATEGORIES)})")
        try:
            out[category] = price_value(_decimal_tree(value, f"{where}.{category}"),
                                        CATEGORIES[category].per, f"{where}.{category}")
        except InexactPriceError as e:
            raise OverridesError(str(e)) from e
    return out


def _decimal_tree(value: Any, where: str) -> Any:
    """Prices as Decimals (strings or integers only: TOML floats are binary, hence inexact)."""
    if isinstance(value, dict):
        if value.keys() != {"base", "tiers"} or not isinstance(value["tiers"], list):
            raise OverridesError(f"{where}: a tiered price is {{ base, tiers = [...] }}")
        tiers: list[dict[str, Any]] = []
        for tier in value["tiers"]:
            if not isinstance(tier, dict) or tier.keys() != {"start", "price"} \
                    or type(tier["start"]) is not int or not 0 <= tier["start"] <= MAX_UINT:
                raise OverridesError(f"{where}: each tier is {{ start = <int>, price = ... }}")
            tiers.append({"start": tier["start"], "price": _decimal(tier["price"], where)})
        starts: list[int] = [t["start"] for t in tiers]
        if not tiers or starts != sorted(set(starts)):
            raise OverridesError(f"{where}: tiers must be non-empty with rising starts")
        return {"base": _decimal(value["base"], where), "tiers": tiers}
    return _decimal(value, where)


def _decimal(value: Any, where: str) -> Decimal:
    if type(value) is int:
        return Decimal(value)
    if type(value) is not str:
        raise OverridesError(f"{where}: write prices as decimal strings, e.g. \"2.50\" "
                             f"(got {value!r}; TOML floats are inexact)")
    try:
        number = Decimal(value)
    except InvalidOperation as e:
        raise OverridesError(f"{where}: {value!r} is not a decimal number") from e
    if not number.is_finite() or number < 0:
        raise OverridesError(f"{where}: {value!r} is not a non-negative price")
    return number


def _discount(value: Any, where: str) -> Fraction:
    percent = _decimal(value, f"{where} discount_percent")
    if percent > 100:
        raise OverridesError(f"{where}: discount_percent must be between 0 and 100")
    return 1 - Fraction(percent) / 100


def apply_overrides(entries: Sequence[Mapping[str, Any]], overrides: Overrides
                    ) -> list[dict[str, Any]]:
    """``entries`` with every override applied in file order (new models appended)."""
    book = {(e["provider"], e["model"]): dict(e) for e in entries}
    for o in overrides.entries:
        keys = [k for k in book if k[0] == o.provider] if o.model == ALL_MODELS \
            else [(o.provider, o.model)]
        if not keys or (o.model != ALL_MODELS and keys[0] not in book and o.prices is None
                        and o.metered):
            raise OverridesError(f"{overrides.name}: {o.provider}/{o.model} is not in the book; "
                                 "give its prices or metered = false")
        for key in keys:
            book[key] = _apply(book.get(key), o, key, overrides.name)
    return list(book.values())


def _apply(entry: dict[str, Any] | None, o: Override, key: tuple[str, str], name: str
           ) -> dict[str, Any]:
    note = f"override ({name}): {o.source}"
    if not o.metered:
        return {"provider": key[0], "model": key[1], "metered": False, "prices": {},
                "source": note}
    if entry is not None and not entry["metered"] and o.prices is None:
        if o.model == ALL_MODELS:
            return entry
        raise OverridesError(f"{name}: {key[0]}/{key[1]} is not metered; give its prices")
    new: dict[str, Any] = dict(entry) if entry is not None \
        else {"provider": key[0], "model": key[1]}
    new["metered"] = True
    if o.prices is not None:
        new["prices"] = dict(o.prices)
        new.pop("service_tiers", None)
    for tier, overlay in (o.service_tiers or {}).items():
        new.setdefault("service_tiers", {})[tier] = {**new["prices"], **overlay}
    if o.discount is not None:
        new["prices"] = _scaled(new["prices"], o.discount, f"{key[0]}/{key[1]}")
        new["service_tiers"] = {
            tier: _scaled(prices, o.discount, f"{key[0]}/{key[1]} [{tier}]")
            for tier, prices in new.get("service_tiers", {}).items()
        }
        if not new["service_tiers"]:
            del new["service_tiers"]
    previous = entry.get("source") if entry else None
    new["source"] = f"{note}; was: {previous}" if previous else note
    return new


def _scaled(prices: Mapping[str, Any], factor: Fraction, where: str) -> dict[str, Any]:
    try:
        return {c: scale_price(p, factor, f"{where} {c}") for c, p in prices.items()}
    except InexactPriceError as e:
        raise OverridesError(str(e)) from e
