"""Shared price books for the pricing tests.

Books are snapshotted from the installed ``genai-prices`` data at fixed instants, so the
hand-worked costs in the tests are pinned to that data: an upgrade that changes a price fails
a test loudly instead of silently changing what receipts say.
"""

from __future__ import annotations

import datetime as dt

import pytest

from receipts.pricing.book_update import BuiltBook, make_book, to_ms
from receipts.pricing.model_names import ModelNames
from receipts.pricing.overrides import parse_overrides

AT = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
"""The instant of the main test book (all hand-worked costs use its prices)."""
AT_MS = to_ms(AT)
BEFORE_O3_CUT = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
"""OpenAI cut o3 prices by 80% on 2025-06-10: a book from before keeps the old prices."""

SELF_HOSTED = b"""
[[model]]
provider = "self-hosted"
model = "qwen3-32b"
prices = { input = "0.05", output = "0.20" }
source = "GPU cluster cost model 2026-Q3"

[[model]]
provider = "self-hosted"
model = "llama-3.1-70b"
metered = false
source = "research cluster, paid centrally"
"""


@pytest.fixture(scope="session")
def built() -> BuiltBook:
    """genai-prices at :data:`AT` plus two self-hosted models."""
    return make_book(AT, overrides=parse_overrides(SELF_HOSTED, name="self-hosted.toml"))


@pytest.fixture(scope="session")
def names(built: BuiltBook) -> ModelNames:
    """Name resolver for the main test book."""
    return ModelNames(built.book)


@pytest.fixture(scope="session")
def old_names() -> ModelNames:
    """Name resolver for a book from before the o3 price cut."""
    return ModelNames(make_book(BEFORE_O3_CUT).book)
