"""Field-level rules for every ledger item payload (spec §3, §6, §7; CDDL in spec/receipt.cddl).

Each ``check_*`` function takes a decoded payload and raises :class:`SchemaError` naming the first
bad field. They are written as plain type checks (``type(x) is int`` so that ``True`` is not an
integer) because :func:`check_receipt` runs once per receipt.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from verifier.errors import SchemaError

FORMAT_VERSION = 1
LEDGER_FORMAT = "receipts-ledger"
MAX_UINT = 2**64 - 1
MAX_TEXT = 256
PREAMBLE_COUNTS = frozenset({"keys", "price_books", "fx_rates"})
HASH_BYTES = 32
ZERO_HASH = bytes(HASH_BYTES)

RECEIPT_REQUIRED = frozenset(
    {"v", "chain", "seq", "prev", "id", "issued_at", "request_id", "provider", "model",
     "model_requested", "agent", "tags", "usage", "unit_prices", "price_book", "currency",
     "cost", "pricing_status", "fx", "cost_reporting", "runtime_ms", "status"}
)
RECEIPT_OPTIONAL = frozenset({"retry_of", "usage_detail", "service_tier", "started_at",
                              "provider_response_id", "imported"})
RECEIPT_FIELDS = RECEIPT_REQUIRED | RECEIPT_OPTIONAL
_REQUIRED_COUNT = len(RECEIPT_REQUIRED)

PRICED = "priced"
PRICING_STATUSES = frozenset({PRICED, "unknown_model", "not_metered", "unpriced_category"})

_CURRENCY = re.compile(r"[A-Z]{3}", re.ASCII)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
MAX_TIME_MS = 253_402_300_799_999
"""9999-12-31T23:59:59.999Z: the latest time a receipt may carry (dates keep four digits)."""
_FX_FIELDS = frozenset({"currency", "rate", "date", "source"})


def field_error(field: str, why: str) -> SchemaError:
    return SchemaError(f"field {field!r}: {why}")


def check_uint(payload: dict[str, Any], field: str, *, nullable: bool = False) -> None:
    value = payload[field]
    if value is None and nullable:
        return
    if type(value) is not int or value < 0 or value > MAX_UINT:
        raise field_error(field, "must be an unsigned integer" + (" or null" if nullable else ""))


def check_time(payload: dict[str, Any], field: str, *, nullable: bool = False) -> None:
    check_uint(payload, field, nullable=nullable)
    if payload[field] is not None and payload[field] > MAX_TIME_MS:
        raise field_error(field, "must be no later than 9999-12-31T23:59:59.999Z")


def check_text(payload: dict[str, Any], field: str, *, max_len: int = MAX_TEXT) -> None:
    value = payload[field]
    if type(value) is not str or not value or len(value) > max_len:
        raise field_error(field, f"must be non-empty text of at most {max_len} characters")


def _counts(payload: dict[str, Any], field: str) -> None:
    value = payload[field]
    if type(value) is not dict:
        raise field_error(field, "must be a map of text to unsigned integer")
    for key, count in value.items():
        if type(key) is not str or not key or len(key) > 64:
            raise field_error(field, "keys must be text of 1..64 characters")
        if type(count) is not int or count < 0 or count > MAX_UINT:
            raise field_error(f"{field}.{key}", "must be an unsigned integer")


def exact_keys(
    payload: Any, required: frozenset[str], optional: frozenset[str], what: str
) -> None:
    if type(payload) is not dict:
        raise SchemaError(f"{what} payload must be a map")
    keys = payload.keys()
    if keys == required and payload["v"] == FORMAT_VERSION and type(payload["v"]) is int:
        return  # the common case, in one comparison
    missing = required - keys
    if missing:
        raise SchemaError(f"{what}: missing field(s) {', '.join(sorted(missing))}")
    extra = keys - required - optional
    if extra:
        raise SchemaError(f"{what}: unknown field(s) {', '.join(sorted(map(str, extra)))}")
    if payload["v"] != FORMAT_VERSION or type(payload["v"]) is not int:
        raise field_error("v", f"unsupported format version {payload['v']!r}")


_SEEN_VALID: set[str] = set()
"""Currency codes and dates already found valid: receipts repeat a handful of each."""


def _remember(value: str) -> None:
    if len(_SEEN_VALID) < 65_536:
        _SEEN_VALID.add(value)


def check_currency(payload: dict[str, Any], field: str) -> None:
    """ISO 4217 alphabetic code."""
    value = payload[field]
    if type(value) is str and len(value) == 3 and value in _SEEN_VALID:
        return
    if type(value) is not str or not _CURRENCY.fullmatch(value):
        raise field_error(field, "must be an ISO 4217 code such as USD")
    _remember(value)


def _date(payload: dict[str, Any], field: str) -> None:
    value = payload[field]
    if type(value) is str and len(value) == 10 and value in _SEEN_VALID:
        return
    if type(value) is not str or not _DATE.fullmatch(value):
        raise field_error(field, "must be a date YYYY-MM-DD")
    try:
        dt.date.fromisoformat(value)
    except ValueError as e:
        raise field_error(field, "must be a real calendar date") from e
    _remember(value)


_RECEIPT_TEXT = ("chain", "id", "request_id", "provider", "model", "model_requested", "agent",
                 "status")
_RECEIPT_UINT = ("seq", "issued_at")
_RECEIPT_NULLABLE_UINT = ("runtime_ms", "cost", "cost_reporting")


def check_receipt(p: Any) -> None:
    """Rules of a receipt payload (spec §6)."""
    if type(p) is not dict or len(p) != _REQUIRED_COUNT + _optional_fields(p) \
            or p.get("v") != FORMAT_VERSION or type(p["v"]) is not int:
        exact_keys(p, RECEIPT_REQUIRED, RECEIPT_OPTIONAL, "receipt")
    # The map holds as many keys as it has required and optional fields, so if every required
    # field is there (each is read below) there is no unknown key. If a field is missing or
    # wrong, _exact_keys runs: a missing or unknown field is reported first, as always.
    try:
        _check_receipt_fields(p)
    except (KeyError, SchemaError) as e:
        exact_keys(p, RECEIPT_REQUIRED, RECEIPT_OPTIONAL, "receipt")
        if isinstance(e, KeyError):
            raise SchemaError(f"receipt: missing field {e}") from e
        raise


def _optional_fields(p: dict[str, Any]) -> int:
    """How many of RECEIPT_OPTIONAL ``p`` has (spelled out: this runs once per receipt)."""
    return ("retry_of" in p) + ("usage_detail" in p) + ("service_tier" in p) \
        + ("started_at" in p) + ("provider_response_id" in p) + ("imported" in p)


def _check_receipt_fields(p: dict[str, Any]) -> None:
    """:func:`check_receipt` once the map has the right number of keys (a missing required
    field raises KeyError)."""
    for field in _RECEIPT_TEXT:  # inlined checks: this runs once per receipt
        value = p[field]
        if type(value) is not str or not 0 < len(value) <= MAX_TEXT:
            check_text(p, field)
    for field in _RECEIPT_UINT:
        value = p[field]
        if type(value) is not int or not 0 <= value <= MAX_UINT:
            check_uint(p, field)
    if p["issued_at"] > MAX_TIME_MS:
        raise field_error("issued_at", "must be no later than 9999-12-31T23:59:59.999Z")
    for field in _RECEIPT_NULLABLE_UINT:
        value = p[field]
        if value is not None and (type(value) is not int or not 0 <= value <= MAX_UINT):
            check_uint(p, field, nullable=True)
    if type(p["prev"]) is not bytes or len(p["prev"]) != HASH_BYTES:
        raise field_error("prev", "must be a 32-byte bstr")
    if type(p["price_book"]) is not bytes or len(p["price_book"]) != HASH_BYTES:
        raise field_error("price_book", "must be a 32-byte bstr")
    tags = p["tags"]
    if type(tags) is not dict:
        raise field_error("tags", "must be a map of text to text")
    for key, value in tags.items():
        bad_type = type(key) is not str or type(value) is not str
        if bad_type or not key or len(key) > 64 or len(value) > MAX_TEXT:
            raise field_error("tags", "keys (1..64) and values (0..256) must be text")
    for field in ("usage", "unit_prices"):  # _counts, inlined
        counts = p[field]
        if type(counts) is not dict:
            _counts(p, field)
        for key, count in counts.items():
            if type(key) is not str or not 0 < len(key) <= 64 or type(count) is not int \
                    or not 0 <= count <= MAX_UINT:
                _counts(p, field)
    # every required field is read: the key count check in check_receipt relies on it to
    # find a missing field (see the comment there)
    status = p["pricing_status"]
    check_currency(p, "currency")
    if type(status) is not str or status not in PRICING_STATUSES:
        raise field_error("pricing_status", f"must be one of {', '.join(sorted(PRICING_STATUSES))}")
    if status == PRICED:
        if p["cost"] is None:
            raise field_error("cost", "a priced receipt has a cost")
        if p["unit_prices"].keys() != p["usage"].keys():
            raise field_error("unit_prices", "must have exactly the keys of usage")
    elif p["cost"] is not None or p["unit_prices"] or p["cost_reporting"] is not None:
        raise field_error("cost", "an unpriced receipt has null cost and cost_reporting, "
                          "no unit prices")
    fx = p["fx"]
    if fx is None:
        if p["cost_reporting"] is not None:
            raise field_error("cost_reporting", "must be null when fx is null")
    else:
        if type(fx) is not dict or fx.keys() != _FX_FIELDS:
            raise field_error("fx", "must be null or {currency, rate, date, source}")
        check_currency(fx, "currency")
        rate = fx["rate"]
        if type(rate) is not int or not 0 <= rate <= MAX_UINT:
            check_uint(fx, "rate")
        _date(fx, "date")
        check_text(fx, "source")
        if status == PRICED and p["cost_reporting"] is None:
            raise field_error("cost_reporting", "a priced receipt with fx has cost_reporting")
    if "retry_of" in p:
        check_text(p, "retry_of")
    if "usage_detail" in p:
        _counts(p, "usage_detail")
    if "service_tier" in p:
        check_text(p, "service_tier", max_len=32)
    if "started_at" in p:
        check_time(p, "started_at")
    if "provider_response_id" in p:
        check_text(p, "provider_response_id")
    if "imported" in p:
        _imported(p["imported"])


def _imported(value: Any) -> None:
    """``imported`` (spec §6.1): the SHA-256 of the log file a backfilled receipt was read from
    and the line (1-based) it was read at."""
    if type(value) is not dict or value.keys() != {"sha256", "line"}:
        raise field_error("imported", "must be a map {sha256, line}")
    if type(value["sha256"]) is not bytes or len(value["sha256"]) != HASH_BYTES:
        raise field_error("imported.sha256", "must be a 32-byte bstr")
    line = value["line"]
    if type(line) is not int or line < 1 or line > MAX_UINT:
        raise field_error("imported.line", "must be an unsigned integer of at least 1")


def check_header(p: Any) -> None:
    """Rules of the ledger header (spec §7.1)."""
    exact_keys(p, frozenset({"v", "format", "issuer", "created_at", "chains", "counts",
                              "preamble", "reporting_currency"}), frozenset(), "ledger header")
    if type(p["preamble"]) is not bytes or len(p["preamble"]) != HASH_BYTES:
        raise field_error("preamble", "must be a 32-byte bstr")
    check_currency(p, "reporting_currency")
    if p["format"] != LEDGER_FORMAT:
        raise field_error("format", f"must be {LEDGER_FORMAT!r}")
    check_text(p, "issuer")
    check_time(p, "created_at")
    chains = p["chains"]
    if type(chains) is not list or any(type(c) is not str or not 0 < len(c) <= MAX_TEXT
                                       for c in chains) or len(set(chains)) != len(chains):
        raise field_error("chains", "must be a list of distinct chain ids")
    counts = p["counts"]
    if type(counts) is not dict or not counts.keys() >= PREAMBLE_COUNTS \
            or not counts.keys() <= PREAMBLE_COUNTS | {"allocations"}:
        raise field_error("counts", "must be {keys, price_books, fx_rates} and optionally "
                          "allocations")
    for field in counts:
        check_uint(counts, field)
    if counts.get("allocations", 1) == 0:
        raise field_error("counts", "allocations, when present, must be at least 1")


def preamble_counts(header: dict[str, Any]) -> tuple[int, int, int, int]:
    """The number of keys, price books, FX rates and allocation sets of a checked header
    (spec §7.1: a ledger without allocation sets omits their count)."""
    counts = header["counts"]
    return (counts["keys"], counts["price_books"], counts["fx_rates"],
            counts.get("allocations", 0))


def check_public_key_item(p: Any) -> None:
    """Rules of a public key item (spec §7.2)."""
    exact_keys(p, frozenset({"v", "kid", "public_key", "valid_from", "valid_until"}),
                frozenset(), "public key")
    if type(p["kid"]) is not bytes or len(p["kid"]) != 16:
        raise field_error("kid", "must be a 16-byte bstr")
    if type(p["public_key"]) is not bytes or len(p["public_key"]) != 32:
        raise field_error("public_key", "must be a 32-byte bstr")
    check_time(p, "valid_from")
    check_time(p, "valid_until", nullable=True)


def check_fx_rate(p: Any) -> None:
    """Rules of a published FX rate (spec §7.4)."""
    exact_keys(p, frozenset({"v", "base", "quote", "date", "rate", "source", "published_at"}),
                frozenset(), "fx rate")
    check_currency(p, "base")
    check_currency(p, "quote")
    _date(p, "date")
    check_uint(p, "rate")
    if p["rate"] == 0:
        raise field_error("rate", "must be positive")
    check_text(p, "source")
    check_time(p, "published_at")


def check_checkpoint(p: Any) -> None:
    """Rules of a chain checkpoint (spec §7.5)."""
    exact_keys(p, frozenset({"v", "issuer", "chain", "size", "head", "time"}), frozenset(),
                "checkpoint")
    check_text(p, "issuer")
    check_text(p, "chain")
    check_uint(p, "size")
    check_time(p, "time")
    if type(p["head"]) is not bytes or len(p["head"]) != HASH_BYTES:
        raise field_error("head", "must be a 32-byte bstr")
