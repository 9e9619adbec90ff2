"""Streaming log files into calls: JSON lines, whole JSON documents and CSV, told by content.

A file (or ``-``, standard input) is read line by line and never held whole, so memory stays
bounded whatever its length:

* **JSON lines**: each line is one JSON value: any shape :func:`records_of` knows, or a list of
  them. Lines of different shapes may follow each other.
* **One JSON document** over many lines (a pretty-printed API page or trace export): when the
  first line is not JSON by itself but starts with ``{`` or ``[``, the whole file is one value,
  reported as line 1.
* **CSV** (the first line is not JSON): a LiteLLM spend log export when the header has
  ``request_id, spend, prompt_tokens, completion_tokens, model``; any other CSV with a column
  map (``--map column=field``, :mod:`receipts.logs.tabular`).

Every refusal is :class:`receipts.errors.UnreadableLog` naming the file, the line and why.
"""

from __future__ import annotations

import csv
import itertools
import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from receipts.errors import UnreadableLog, UsageFormatError
from receipts.logs import litellm, otlp, reports, responses, tabular, traces
from receipts.logs.records import LogCall, ShapeError

EXPECTED = ("an OpenAI chat completion or Responses object, an OpenAI Usage or Costs API page, "
            "an Anthropic message, usage or cost report, a Gemini response with usageMetadata, "
            "an OTLP/JSON traces document, a LiteLLM spend log row, or a gateway line "
            "{timestamp, request_id, provider, tags, cost, response}")


@dataclass
class JsonLines:
    """The rest of a JSON-lines file, each line one JSON value: ``(number, text)`` pairs, read
    as they are consumed. :func:`calls_of_line` reads one; the audit may hand them to worker
    processes (lines are independent of each other)."""

    name: str
    lines: Iterator[tuple[int, str]]


Part = Iterator[LogCall] | JsonLines
"""A stretch of a log: its calls, or JSON lines still to read."""


def read_logs(paths: Iterable[str], mapping: Mapping[str, str] | None = None
              ) -> Iterator[LogCall]:
    """Every call of every file, in order; ``-`` is standard input."""
    return _flat(log_parts(paths, mapping))


def read_stream(stream: IO[str], name: str, mapping: Mapping[str, str] | None = None
                ) -> Iterator[LogCall]:
    """The calls of one open text stream named ``name``."""
    return _flat(stream_parts(stream, name, mapping))


def _flat(parts: Iterable[Part]) -> Iterator[LogCall]:
    for part in parts:
        if isinstance(part, JsonLines):
            for number, text in part.lines:
                yield from calls_of_line(number, text, part.name)
        else:
            yield from part


def log_parts(paths: Iterable[str], mapping: Mapping[str, str] | None = None
              ) -> Iterator[Part]:
    """Every file as parts, in order (each part must be consumed before the next is asked)."""
    for path in paths:
        if path == "-":
            yield from stream_parts(sys.stdin, "-", mapping)
            continue
        try:
            with Path(path).open(encoding="utf-8", newline="") as stream:
                yield from stream_parts(stream, path, mapping)
        except OSError as e:
            raise UnreadableLog(f"{path}: {e.strerror or e}") from e


def stream_parts(stream: IO[str], name: str, mapping: Mapping[str, str] | None = None
                 ) -> Iterator[Part]:
    """One open stream as parts: CSV rows, one JSON document, or JSON lines (the first line's
    calls, then the other lines)."""
    lines = _numbered(stream, name)
    for number, line in lines:
        text = line.strip()
        if not text:
            continue
        if text[0] not in "{[":
            yield _csv(number, line, lines, name, mapping)
            return
        try:
            value = _loads(text)
        except ValueError:
            rest = "".join(line for _, line in lines)
            try:
                value = _loads(text + "\n" + rest)
            except ValueError as e:
                raise UnreadableLog(f"{name}:{number}: not JSON ({e})") from e
            yield _guarded(value, f"{name}:{number}")
            return
        yield _guarded(value, f"{name}:{number}")
        yield JsonLines(name, lines)
        return


def calls_of_line(number: int, text: str, name: str) -> Iterator[LogCall]:
    """The calls of line ``number`` of a JSON-lines file (none for a blank line)."""
    text = text.strip()
    if not text:
        return
    try:
        value = _loads(text)
    except ValueError as e:
        raise UnreadableLog(f"{name}:{number}: not JSON ({e})") from e
    yield from _guarded(value, f"{name}:{number}")


def records_of(value: Any, where: str) -> Iterator[LogCall]:
    """The calls one JSON value holds (raises :class:`ShapeError` for an unknown shape)."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield from records_of(item, f"{where}[{i}]")
        return
    if not isinstance(value, dict):
        raise ShapeError(f"{where}: expected an object, got {type(value).__name__}")
    if otlp.is_trace_document(value):
        for span in otlp.genai_spans(value):
            yield traces.span_call(span, f"{where}: {span.where}")
        return
    if responses.is_wrapper(value):
        yield responses.wrapped_call(value, where)
        return
    if litellm.is_spend_log(value):
        yield litellm.spend_log_call(value, where)
        return
    kind = reports.report_kind(value)
    if kind is not None:
        if kind != "empty":
            yield from reports.report_rows(kind, value, where)
        return
    if responses.response_kind(value) is not None:
        yield responses.response_call(value, where)
        return
    raise ShapeError(f"{where}: no known shape; expected {EXPECTED}")


def _numbered(stream: IO[str], name: str) -> Iterator[tuple[int, str]]:
    number = 0
    try:
        for line in stream:
            number += 1
            yield number, line
    except UnicodeDecodeError as e:
        raise UnreadableLog(f"{name}:{number + 1}: not UTF-8 text ({e.reason})") from e
    except OSError as e:
        raise UnreadableLog(f"{name}:{number + 1}: {e.strerror or e}") from e


def _guarded(value: Any, where: str) -> Iterator[LogCall]:
    try:
        yield from records_of(value, where)
    except (ShapeError, otlp.OtlpError) as e:
        raise UnreadableLog(str(e)) from e
    except UsageFormatError as e:
        raise UnreadableLog(f"{where}: {e}") from e


def _csv(first: int, header: str, lines: Iterator[tuple[int, str]], name: str,
         mapping: Mapping[str, str] | None) -> Iterator[LogCall]:
    for row in csv_rows(first, header, lines, name, mapping):
        if isinstance(row, UnreadableLog):
            raise row
        yield row


def csv_rows(first: int, header: str, lines: Iterator[tuple[int, str]], name: str,
             mapping: Mapping[str, str] | None) -> Iterator[LogCall | UnreadableLog]:
    """Every row of a CSV log as its call, or as why it cannot be read (the rows after a bad
    one are still read: ``receipt import`` lists each refused row). A header no reader knows
    raises at once."""
    rows = csv.reader(itertools.chain([header], (line for _, line in lines)))
    columns = [c.strip() for c in next(rows)]
    if mapping:
        reader = tabular.MappedCsv(columns, mapping, f"{name}:{first}")
    elif set(columns) >= litellm.CSV_COLUMNS:
        reader = None
    else:
        raise UnreadableLog(f"{name}:{first}: a CSV header with neither LiteLLM's spend log "
                            "columns (request_id, spend, prompt_tokens, completion_tokens, "
                            "model) nor a --map column=field for its columns")
    for cells in rows:
        number = first + rows.line_num - 1
        where = f"{name}:{number}"
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(columns):
            yield UnreadableLog(f"{where}: {len(cells)} cells, the header has {len(columns)}")
            continue
        row = dict(zip(columns, cells, strict=True))
        try:
            yield reader.call(row, where) if reader else litellm.spend_log_call(row, where)
        except ShapeError as e:
            yield UnreadableLog(str(e))
        except UsageFormatError as e:
            yield UnreadableLog(f"{where}: {e}")


_DECODER = json.JSONDecoder(parse_float=Decimal)
"""One decoder for every line (``json.loads`` with an option makes a new one per call)."""


def _loads(text: str) -> Any:
    return _DECODER.decode(text)
