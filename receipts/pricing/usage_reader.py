"""Careful reading of untrusted usage objects: exact integers, named fields, parts within wholes.

Kept apart from :mod:`receipts.pricing.usage` so the per-provider rules there read as the providers'
documentation does, while every type check and error message lives here once.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

from receipts.errors import UsageFormatError

MAX_COUNT = 1_000_000_000
"""The largest count of any one field, in every usage format (ours, as the request model checks
it, and each provider's): no single LLM call reads or writes a billion tokens, so a larger count
is a unit mix-up, not usage."""

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
_MODALITIES = {"TEXT": "text", "MODALITY_UNSPECIFIED": "text", "AUDIO": "audio",
               "IMAGE": "image", "DOCUMENT": "image", "VIDEO": "video"}


@functools.lru_cache(maxsize=1024)
def _steps(path: str) -> tuple[str, ...]:
    """A dotted path's steps (the same few paths are read from every usage object)."""
    return tuple(path.split("."))


@functools.lru_cache(maxsize=1024)
def _snake(name: str) -> str:
    """``promptTokenCount`` -> ``prompt_token_count``."""
    return _CAMEL.sub("_", name).lower()


class Reader:
    """Reads counts from one usage object; every error names the dotted field."""

    def __init__(self, raw: Mapping[str, Any], *, strict_keys: set[str] | None = None,
                 camel_or_snake: bool = False) -> None:
        self.raw = raw
        self.camel_or_snake = camel_or_snake
        if strict_keys is not None:
            for key in raw:
                if key not in strict_keys:
                    raise UsageFormatError(str(key), "unknown field (expected "
                                           + ", ".join(sorted(strict_keys)) + ")")

    def get(self, path: str, *, flat: bool = False) -> Any:
        """The value at ``path`` (dotted unless ``flat``), or None when absent."""
        node: Any = self.raw
        steps = (path,) if flat else _steps(path)
        for i, step in enumerate(steps):
            if node is None:
                return None
            if type(node) is not dict and not isinstance(node, Mapping):  # (dict: no ABC check)
                raise UsageFormatError(".".join(steps[:i]), "must be an object")
            value = node.get(step)
            if value is None and self.camel_or_snake:
                value = node.get(_snake(step))
            node = value
        return node

    def present(self, path: str, *, flat: bool = False) -> bool:
        """Whether ``path`` holds a value (JSON null counts as absent)."""
        return self.get(path, flat=flat) is not None

    def count(self, path: str, *, required: bool = False, flat: bool = False) -> int:
        """A token or request count: a non-negative integer (absent -> 0 unless required)."""
        value = self.get(path, flat=flat)
        if type(value) is int and 0 <= value <= MAX_COUNT:  # the usual count, as check_count
            return value
        return check_count(value, path, required=required, text_ok=flat)

    def text(self, path: str, *, flat: bool = False) -> str | None:
        """An optional text field (service tier names)."""
        value = self.get(path, flat=flat)
        if value is not None and not isinstance(value, str):
            raise UsageFormatError(path, "must be text")
        return value

    @staticmethod
    def within(part_field: str, part: int, whole_field: str, whole: int,
               what: str | None = None) -> None:
        """Refuse a part larger than its whole, naming the part's field."""
        if part > whole:
            raise UsageFormatError(part_field, f"{what or part_field.rsplit('.', 1)[-1]} "
                                   f"({part}) exceeds {whole_field} ({whole})")


def check_count(value: Any, field: str, *, required: bool = False, text_ok: bool = False) -> int:
    """A count as an int; refuses booleans, floats, negatives and absurd sizes.

    ``text_ok`` accepts decimal digit strings: OTLP/JSON encodes 64-bit integers that way.
    """
    if value is None:
        if required:
            raise UsageFormatError(field, "missing")
        return 0
    if text_ok and isinstance(value, str) and value.isascii() and value.isdigit():
        digits = value.lstrip("0") or "0"
        if len(digits) > len(str(MAX_COUNT)):  # (int() refuses over 4,300 digits anyway)
            raise UsageFormatError(field, f"{digits[:24]}... is not a plausible count for one "
                                          "call")
        value = int(digits)
    if type(value) is not int:
        raise UsageFormatError(field, f"must be a non-negative integer, got {value!r}")
    if value < 0:
        raise UsageFormatError(field, f"must not be negative, got {value}")
    if value > MAX_COUNT:
        raise UsageFormatError(field, f"{value} is not a plausible count for one call (at "
                                      f"most {MAX_COUNT:,})")
    return value


def modality_counts(reader: Reader, field: str, whole_field: str, whole: int
                    ) -> dict[str, int]:
    """Gemini ``[{modality, tokenCount}]`` summed per modality (DOCUMENT counts as image, as
    Google bills it); the sum may not exceed ``whole``."""
    items = reader.get(field)
    counts = dict.fromkeys(("text", "audio", "image", "video"), 0)
    if items is None:
        return counts
    if not isinstance(items, list):
        raise UsageFormatError(field, "must be a list of {modality, tokenCount}")
    for i, item in enumerate(items):
        where = f"{field}[{i}]"
        if not isinstance(item, Mapping):
            raise UsageFormatError(where, "must be an object")
        modality = str(item.get("modality") or "MODALITY_UNSPECIFIED").upper().rsplit(".")[-1]
        if modality not in _MODALITIES:
            raise UsageFormatError(f"{where}.modality", f"unknown modality {modality!r}")
        raw_count = item.get("tokenCount", item.get("token_count"))
        counts[_MODALITIES[modality]] += check_count(raw_count, f"{where}.tokenCount")
    Reader.within(field, sum(counts.values()), whole_field, whole, "sum of modality counts")
    return counts


def otel_attributes(raw: Mapping[str, Any] | Iterable[Any]) -> dict[str, Any]:
    """Span attributes as a flat dict, from a plain mapping or an OTLP/JSON ``KeyValue`` list."""
    pairs: Iterable[tuple[Any, Any]]
    if isinstance(raw, Mapping):
        pairs = raw.items()
    else:
        pairs = []
        for i, item in enumerate(raw):
            if not isinstance(item, Mapping) or not isinstance(item.get("key"), str):
                raise UsageFormatError(f"[{i}]", "an OTLP attribute is {key, value}")
            pairs.append((item["key"], item.get("value")))
    out: dict[str, Any] = {}
    for key, value in pairs:
        if isinstance(value, Mapping):
            value = value.get("intValue", value.get("stringValue", value))
        out[str(key)] = value
    return out
