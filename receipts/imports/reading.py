"""A usage log as numbered entries: each line's calls, or why the line cannot be read.

``receipt audit`` stops at the first unreadable line (its verdict would be wrong past it);
an import instead lists every refused line and goes on, so each line is read on its own here,
by the same readers (:mod:`receipts.logs.sources`): JSON lines, one JSON document (line 1) or
CSV rows. A file is read whole into memory, since its SHA-256 goes into every receipt made
from it before the first is signed.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from receipts.errors import UnreadableLog
from receipts.logs.records import LogCall
from receipts.logs.sources import JsonLines, calls_of_line, csv_rows, stream_parts


@dataclass
class LogLine:
    """One line of a log: the calls read from it, or the reason it cannot be read."""

    number: int
    calls: list[LogCall] = field(default_factory=list)
    refusal: str | None = None


@dataclass
class LogFile:
    """A log file's name, SHA-256 (of its bytes, as stored) and lines with content."""

    name: str
    sha256: bytes
    lines: list[LogLine]


def read_log(name: str, data: bytes, mapping: Mapping[str, str] | None = None) -> LogFile:
    """The lines of one log file given as bytes (refusals included, never raised, except for
    text that is not UTF-8: then line 1 is refused and nothing else is read)."""
    digest = hashlib.sha256(data).digest()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        return LogFile(name, digest, [LogLine(1, refusal=f"not UTF-8 text ({e.reason})")])
    lines: dict[int, LogLine] = {}
    for number, item in _entries(name, text, mapping):
        line = lines.setdefault(number, LogLine(number))
        if isinstance(item, UnreadableLog):
            line.calls.clear()  # a line is imported whole or not at all
            line.refusal = _reason(name, str(item))
        elif line.refusal is None:
            line.calls.append(item)
    return LogFile(name, digest, [lines[n] for n in sorted(lines)])


_WHERE = re.compile(r"^:(\d+)")


def _number(name: str, where: str, default: int) -> int:
    """The line a reader's ``file:line...`` reference names."""
    found = _WHERE.match(where[len(name):]) if where.startswith(name) else None
    return int(found.group(1)) if found else default


def _reason(name: str, message: str) -> str:
    """A reader's message without its ``file:line: `` prefix (the report gives the line)."""
    rest = message[len(name):] if message.startswith(name + ":") else message
    return re.sub(r"^:\d+(\[\d+\])*:\s*", "", rest) or message


def _entries(name: str, text: str, mapping: Mapping[str, str] | None
             ) -> Iterator[tuple[int, LogCall | UnreadableLog]]:
    stream = io.StringIO(text, newline=None)
    first = _first_line(text)
    try:
        parts = stream_parts(stream, name, mapping)
        for part in parts:
            if isinstance(part, JsonLines):
                for number, line in part.lines:
                    yield from _one_line(name, number, line)
                continue
            if first is not None and first[1][:1] not in "{[":  # CSV: row by row
                stream = io.StringIO(text, newline="")
                lines = ((n, line) for n, line in enumerate(stream, 1))
                for n, header in lines:
                    if header.strip():
                        for row in csv_rows(n, header, lines, name, mapping):
                            number = _number(name, str(row) if isinstance(row, UnreadableLog)
                                             else row.where, n)
                            yield number, row
                        return
                return
            try:
                calls = list(part)
            except UnreadableLog as e:
                yield _number(name, str(e), first[0] if first else 1), e
                continue
            for call in calls:
                yield _number(name, call.where, 1), call
    except UnreadableLog as e:  # the file as a whole (a CSV header, one broken document)
        yield _number(name, str(e), first[0] if first else 1), e


def _one_line(name: str, number: int, line: str
              ) -> Iterator[tuple[int, LogCall | UnreadableLog]]:
    try:
        calls = list(calls_of_line(number, line, name))
    except UnreadableLog as e:
        yield number, e
        return
    for call in calls:
        yield number, call


def _first_line(text: str) -> tuple[int, str] | None:
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            return number, line.strip()
    return None
