"""Tags that follow the work: ``with tags(project="ranker"):`` applies to every receipt inside.

A :class:`contextvars.ContextVar` carries them, so asyncio tasks and threads started with
``contextvars.copy_context`` inherit the tags of the agent that started them, and a nested
``tags(...)`` (a sub-agent) adds to or overrides its parent's for its own calls only. Each
``tags`` block also gets a span id; the enclosing block's span is the ``parent`` and the
outermost one's is the ``trace`` (tags ``trace_id`` and ``parent_id`` unless given).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_TAGS: ContextVar[dict[str, str]] = ContextVar("receipts_tags", default={})  # noqa: B039


@contextmanager
def tags(**values: str) -> Iterator[dict[str, str]]:
    """Add ``values`` to the tags of every receipt recorded inside the block."""
    outer = _TAGS.get()
    inner = {**outer, **values}
    span = uuid.uuid4().hex[:16]
    inner.setdefault("trace_id", outer.get("trace_id", span))
    if "span_id" in outer:
        inner["parent_id"] = outer["span_id"]
    inner["span_id"] = span
    token = _TAGS.set(inner)
    try:
        yield inner
    finally:
        _TAGS.reset(token)


def current_tags() -> dict[str, str]:
    """The tags in force here (a copy)."""
    return dict(_TAGS.get())


def merged_tags(explicit: dict[str, str] | None) -> dict[str, str]:
    """The context's tags, then the call's own (which win)."""
    return {**_TAGS.get(), **(explicit or {})}
