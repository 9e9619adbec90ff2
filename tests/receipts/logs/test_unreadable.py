"""Unreadable input: every refusal names the file, the line and why (exit 2 at the CLI)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from receipts.errors import UnreadableLog
from receipts.logs.records import ShapeError, money_units, time_ms
from receipts.logs.sources import read_logs, read_stream
from receipts.logs.tabular import parse_map

GOOD = ('{"id": "c", "object": "chat.completion", "model": "gpt-4o", '
        '"usage": {"prompt_tokens": 5, "completion_tokens": 1}}')


@pytest.mark.parametrize(("text", "message"), [
    (GOOD + "\n{not json\n", "x.jsonl:2: not JSON"),
    (GOOD + "\n\n[1]\n", "x.jsonl:3[0]: expected an object"),
    ('{"hello": "world"}\n', "x.jsonl:1: no known shape"),
    ('{"id": "c", "object": "chat.completion", "model": "m", "usage": {"prompt_tokens": 5, '
     '"completion_tokens": 1, "prompt_tokens_details": {"cached_tokens": 6}}}\n',
     "x.jsonl:1: usage.prompt_tokens_details.cached_tokens: cached_tokens (6) exceeds"),
    ('{"request_id": "r", "spend": "abc", "prompt_tokens": 1, "completion_tokens": 1}\n',
     "x.jsonl:1: spend: 'abc' is not a decimal amount"),
    ('{"timestamp": "yesterday", "response": ' + GOOD + "}\n", "x.jsonl:1: timestamp"),
    ("a,b\n1,2\n", "x.jsonl:1: a CSV header with neither"),
    ("request_id,spend,prompt_tokens,completion_tokens,model\nr,1,2\n", "x.jsonl:2: 3 cells"),
    ('{"data": [{"starting_at": "2025-08-01T00:00:00Z", "results": [{"amount": "1", '
     '"currency": "EUR"}]}]}\n', "only USD"),
    ('{"object": "page", "data": [{"start_time": 1, "results": [{"object": '
     '"organization.usage.completions.result", "input_tokens": 1, "input_cached_tokens": 2}]}]}',
     "input_cached_tokens + input_cache_write_tokens (2) exceeds input_tokens (1)"),
])
def test_refusals_name_line_and_reason(text: str, message: str) -> None:
    with pytest.raises(UnreadableLog) as caught:
        list(read_stream(io.StringIO(text), "x.jsonl"))
    assert message in str(caught.value)
    assert caught.value.exit_code == 2


def test_non_utf8_and_missing_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(GOOD.encode() + b"\n\xff\xfe\n")
    with pytest.raises(UnreadableLog, match="not UTF-8"):
        list(read_logs([str(bad)]))
    with pytest.raises(UnreadableLog, match=r"missing\.jsonl"):
        list(read_logs([str(tmp_path / "missing.jsonl")]))


def test_column_map_refuses_unknown_fields_and_missing_columns() -> None:
    with pytest.raises(UnreadableLog, match="field must be one of"):
        parse_map(("a=nonsense",))
    with pytest.raises(UnreadableLog, match="expected column=field"):
        parse_map(("a",))
    with pytest.raises(UnreadableLog, match="header lacks: m"):
        list(read_stream(io.StringIO("a,b\n1,2\n"), "c.csv", {"m": "model"}))
    with pytest.raises(UnreadableLog, match="must name a column for input_tokens"):
        list(read_stream(io.StringIO("a,b\n1,2\n"), "c.csv", {"a": "model"}))


def test_amounts_and_times_are_exact() -> None:
    assert money_units("0.00029520000000000003", "x") == 295_200_000  # half-even at 10^-12
    assert money_units("123.78912", "x", divisor=100) == 1_237_891_200_000
    with pytest.raises(ShapeError):
        money_units(True, "x")
    with pytest.raises(ShapeError):
        money_units("NaN", "x")
    assert time_ms("2026-08-14T10:21:03.112Z", "t") == 1_786_702_863_112
    assert time_ms(1755166863, "t") == 1_755_166_863_000
    assert time_ms("1755166863000000000", "t") == 1_755_166_863_000
    assert time_ms(1_755_166_863_112, "t") == 1_755_166_863_112
    assert time_ms(None, "t") is None
