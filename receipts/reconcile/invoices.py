"""Invoices as the providers publish them, read into exact invoice lines.

Three shapes, told apart by content:

* **OpenAI Costs API** (``GET /v1/organization/costs``): pages ``{"object": "page", "data":
  [bucket]}``, one JSON document per file or one page per line. Each result is
  ``organization.costs.result`` with ``amount.value`` in **dollars** (a JSON number, read as an
  exact decimal, never a float) and ``amount.currency`` in lower case. ``line_item`` (present
  when the report was grouped by it) reads ``"<model>, <kind>"``: ``input``, ``output``,
  ``cached input``, with ``batch`` in the kind for Batch API charges; any other text (``"Image
  models"``) is a line of its own. Buckets start at ``start_time`` (Unix seconds, UTC).
* **Anthropic cost report** (``GET /v1/organizations/cost_report``): buckets with
  ``starting_at`` (RFC 3339) and results whose ``amount`` is a decimal **string in cents**
  (``"123.45"`` USD is $1.2345); ``model``, ``token_type`` and ``service_tier`` when grouped by
  description. Rows without a model (web search, code execution) are lines named by their
  ``description`` or ``cost_type``.
* **CSV** with a column map ``--map column=field``: ``date`` (a date or RFC 3339 time),
  ``provider``, ``model``, ``amount`` (major units), ``currency``, and optionally
  ``token_type`` (``input``, ``cache_read``, ``cache_write``, ``output``) and ``service_tier``.

Amounts are integers of 10^-12 currency units (the receipts' cost scale), so they compare
exactly with receipts; an amount finer than that is rounded half to even. Every refusal is
:class:`receipts.errors.UnreadableInvoice` naming the file, the line and the field.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from receipts.errors import UnreadableInvoice
from receipts.logs.records import ShapeError, money_units, time_ms
from receipts.pricing.model_names import normalize_provider

KINDS = ("input", "cache_read", "cache_write", "output")
"""Token kinds an invoice line may name (None: not broken down, or not tokens)."""
NOT_ITEMIZED = "(not itemized)"
"""The model of a line whose report was not grouped by model (OpenAI without ``line_item``)."""
CSV_FIELDS = ("date", "provider", "model", "amount", "currency", "token_type", "service_tier")
CSV_REQUIRED = ("date", "provider", "model", "amount", "currency")
_ANTHROPIC_KINDS = {"uncached_input_tokens": "input", "output_tokens": "output",
                    "cache_read_input_tokens": "cache_read",
                    "cache_creation.ephemeral_5m_input_tokens": "cache_write",
                    "cache_creation.ephemeral_1h_input_tokens": "cache_write"}


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """One charge of an invoice: who billed which model when, and how much.

    ``model`` is the label as billed (a dated snapshot, an alias, or the text of a non-model
    line); ``kind`` is one of :data:`KINDS` or None; ``batch`` marks Batch API charges.
    """

    where: str
    provider: str
    model: str
    at_ms: int
    amount: int
    currency: str
    kind: str | None = None
    batch: bool = False


@dataclass
class InvoiceCell:
    """The invoice lines of one cell: their total, the names billed, amounts per token kind
    (``other``: lines not broken down by kind), the Batch API part, and the amounts per kind
    at the standard price (batch lines counted twice: what the same tokens cost unbatched)."""

    amount: int = 0
    lines: int = 0
    names: set[str] = field(default_factory=set)
    kinds: dict[str, int] = field(default_factory=dict)
    batch: int = 0
    standard: dict[str, int] = field(default_factory=dict)

    def add(self, line: InvoiceLine) -> None:
        """Account one invoice line."""
        self.amount += line.amount
        self.lines += 1
        self.names.add(line.model)
        kind = line.kind or "other"
        self.kinds[kind] = self.kinds.get(kind, 0) + line.amount
        if line.batch:
            self.batch += line.amount
        unbatched = 2 * line.amount if line.batch else line.amount
        self.standard[kind] = self.standard.get(kind, 0) + unbatched


def parse_map(items: Iterable[str]) -> dict[str, str]:
    """``column=field`` options as {field: column}; refuses unknown fields and gaps."""
    fields: dict[str, str] = {}
    for item in items:
        column, sep, target = item.partition("=")
        column, target = column.strip(), target.strip()
        if not sep or not column or not target:
            raise UnreadableInvoice(f"--map {item!r}: expected column=field")
        if target not in CSV_FIELDS:
            raise UnreadableInvoice(f"--map {item!r}: field must be one of "
                                    + ", ".join(CSV_FIELDS))
        fields[target] = column
    return fields


def read_invoices(paths: Iterable[str], mapping: Mapping[str, str] | None = None
                  ) -> list[InvoiceLine]:
    """Every line of every invoice file, in file order."""
    lines: list[InvoiceLine] = []
    seen: dict[str, str] = {}
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise UnreadableInvoice(f"{path}: {e.strerror or e}") from e
        except UnicodeDecodeError as e:
            raise UnreadableInvoice(f"{path}: not UTF-8 text ({e.reason})") from e
        try:
            lines.extend(_read_text(text, path, mapping, seen))
        except ShapeError as e:
            raise UnreadableInvoice(str(e)) from e
    return lines


def one_currency(lines: Sequence[InvoiceLine]) -> str:
    """The one currency the lines are in (USD when there is none): a reconciliation compares
    one currency at a time, so lines in two are refused, naming both."""
    for line in lines:
        if line.currency != lines[0].currency:
            raise UnreadableInvoice(f"{line.where}: currency {line.currency}, but "
                                    f"{lines[0].where} is in {lines[0].currency}: reconcile "
                                    "one currency at a time")
    return lines[0].currency if lines else "USD"


def _read_text(text: str, name: str, mapping: Mapping[str, str] | None,
               seen: dict[str, str]) -> Iterator[InvoiceLine]:
    stripped = text.lstrip()
    if not stripped:
        raise UnreadableInvoice(f"{name}:1: empty file")
    if stripped[0] not in "{[":
        yield from _csv(text, name, mapping)
        return
    try:
        yield from _document(_loads(text), f"{name}:1", seen)
        return
    except json.JSONDecodeError as whole:
        documents = text.splitlines()
        first = next(line for line in documents if line.strip())
        try:  # JSON lines (one page per line) if the first line is JSON by itself
            _loads(first)
        except json.JSONDecodeError:
            raise UnreadableInvoice(f"{name}:{whole.lineno}: not JSON ({whole.msg})") from whole
    for number, line in enumerate(documents, 1):
        if not line.strip():
            continue
        try:
            value = _loads(line)
        except json.JSONDecodeError as e:
            raise UnreadableInvoice(f"{name}:{number}: not JSON ({e.msg})") from e
        yield from _document(value, f"{name}:{number}", seen)


def _loads(text: str) -> Any:
    return json.loads(text, parse_float=Decimal)


def _document(value: Any, where: str, seen: dict[str, str]) -> Iterator[InvoiceLine]:
    if isinstance(value, list):
        for i, page in enumerate(value):
            yield from _document(page, f"{where}: [{i}]", seen)
        return
    if not isinstance(value, Mapping) or not isinstance(value.get("data"), list):
        raise ShapeError(f"{where}: expected an OpenAI Costs API page or an Anthropic cost "
                         "report ({\"data\": [buckets]})")
    digest = hashlib.sha256(json.dumps(value["data"], sort_keys=True, default=str)
                            .encode()).hexdigest()
    if value["data"] and digest in seen:  # the same page twice would bill its charges twice
        raise ShapeError(f"{where}: the same page as {seen[digest]}")
    seen.setdefault(digest, where)
    for b, bucket in enumerate(value["data"]):
        here = f"{where}: data[{b}]"
        if not isinstance(bucket, Mapping) or not isinstance(bucket.get("results", []), list):
            raise ShapeError(f"{here}: a bucket must be an object with a results list")
        if "start_time" in bucket:
            at = _bucket_start(bucket["start_time"], f"{here}.start_time")
            rows = _openai_rows
        elif "starting_at" in bucket:
            at = _bucket_start(bucket["starting_at"], f"{here}.starting_at")
            rows = _anthropic_rows
        else:
            raise ShapeError(f"{here}: no start_time (OpenAI) or starting_at (Anthropic)")
        yield from rows(bucket.get("results") or [], here, at)


def _bucket_start(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ShapeError(f"{where}: {value!r} is not a time")
    at = time_ms(value, where)
    if at is None:
        raise ShapeError(f"{where}: missing")
    return at


def _openai_rows(results: list[Any], where: str, at: int) -> Iterator[InvoiceLine]:
    for r, row in enumerate(results):
        here = f"{where}.results[{r}]"
        if not isinstance(row, Mapping):
            raise ShapeError(f"{here}: expected an object")
        kind = row.get("object")
        if kind != "organization.costs.result":
            hint = (" (a Usage API page counts tokens, not money: reconcile with the Costs API, "
                    "/v1/organization/costs)" if str(kind).startswith("organization.usage")
                    else "")
            raise ShapeError(f"{here}.object: {kind!r} is not organization.costs.result{hint}")
        amount = row.get("amount")
        if not isinstance(amount, Mapping):
            raise ShapeError(f"{here}.amount: must be {{value, currency}}")
        value = money_units(amount.get("value"), f"{here}.amount.value")
        model, line_kind, batch = _line_item(row.get("line_item"))
        yield InvoiceLine(here, "openai", model, at, value,
                          _currency(amount.get("currency"), f"{here}.amount.currency"),
                          line_kind, batch)


def _line_item(raw: Any) -> tuple[str, str | None, bool]:
    """``"gpt-4o-2024-08-06, cached input"`` -> (model, kind, batch)."""
    if raw is None:
        return NOT_ITEMIZED, None, False
    text = str(raw).strip()
    model, sep, rest = text.partition(",")
    if not sep:
        return text, None, False
    rest = rest.strip().lower()
    if "cached" in rest or "cache read" in rest:
        kind: str | None = "cache_read"
    elif "cache write" in rest or "cache_write" in rest:
        kind = "cache_write"
    elif rest.startswith("input") or rest.endswith(" input"):
        kind = "input"
    elif rest.startswith("output") or rest.endswith(" output"):
        kind = "output"
    else:
        kind = None
    return model.strip(), kind, "batch" in rest


def _anthropic_rows(results: list[Any], where: str, at: int) -> Iterator[InvoiceLine]:
    for r, row in enumerate(results):
        here = f"{where}.results[{r}]"
        if not isinstance(row, Mapping):
            raise ShapeError(f"{here}: expected an object")
        raw = row.get("amount")
        if not isinstance(raw, str):
            raise ShapeError(f"{here}.amount: must be a decimal string in cents, got {raw!r}")
        value = money_units(raw, f"{here}.amount", divisor=100)
        model = (row.get("model") or row.get("description") or row.get("cost_type")
                 or NOT_ITEMIZED)
        token_type = row.get("token_type")
        yield InvoiceLine(here, "anthropic", str(model), at, value,
                          _currency(row.get("currency"), f"{here}.currency"),
                          _ANTHROPIC_KINDS.get(str(token_type)) if token_type else None,
                          row.get("service_tier") == "batch")


def _currency(value: Any, where: str) -> str:
    if not isinstance(value, str) or len(value.strip()) != 3 or not value.strip().isalpha():
        raise ShapeError(f"{where}: {value!r} is not an ISO 4217 currency code")
    return value.strip().upper()


def _csv(text: str, name: str, mapping: Mapping[str, str] | None) -> Iterator[InvoiceLine]:
    rows = csv.reader(io.StringIO(text, newline=""))
    columns = [c.strip() for c in next(rows)]
    if not mapping:
        raise UnreadableInvoice(f"{name}:1: a CSV invoice needs --map column=field for "
                                + ", ".join(CSV_REQUIRED))
    missing = [f for f in CSV_REQUIRED if f not in mapping]
    if missing:
        raise UnreadableInvoice(f"{name}:1: --map must name a column for " + ", ".join(missing))
    absent = [c for c in mapping.values() if c not in columns]
    if absent:
        raise UnreadableInvoice(f"{name}:1: --map names columns the header lacks: "
                                + ", ".join(absent))
    index = {f: columns.index(c) for f, c in mapping.items()}
    for cells in rows:
        if any(c.strip() for c in cells):
            yield _csv_line(cells, columns, index, mapping, f"{name}:{rows.line_num}")


def _csv_line(cells: list[str], columns: list[str], index: Mapping[str, int],
              mapping: Mapping[str, str], where: str) -> InvoiceLine:
    if len(cells) != len(columns):
        raise UnreadableInvoice(f"{where}: {len(cells)} cells, the header has {len(columns)}")

    def cell(field: str) -> str:
        return cells[index[field]].strip() if field in index else ""

    def here(field: str) -> str:
        return f"{where}: {mapping[field]}"

    at = time_ms(cell("date") or None, here("date"))
    if at is None:
        raise ShapeError(f"{here('date')}: missing")
    kind = cell("token_type").lower() or None
    if kind is not None and kind not in KINDS:
        raise ShapeError(f"{here('token_type')}: {kind!r} is not one of " + ", ".join(KINDS))
    if not cell("provider") or not cell("model"):
        raise ShapeError(f"{where}: provider and model must not be empty")
    return InvoiceLine(where, normalize_provider(cell("provider")), cell("model"), at,
                       money_units(cell("amount"), here("amount")),
                       _currency(cell("currency"), here("currency")), kind,
                       cell("service_tier").lower() == "batch")
