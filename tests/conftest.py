"""Shared fixtures: the spec's test vectors (nothing of the service: tests/verifier runs from
the auditor's install; service fixtures are in tests/receipts/conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "spec" / "vectors"


@pytest.fixture(scope="session")
def vectors() -> Path:
    """The committed test vectors directory."""
    return VECTORS


@pytest.fixture(scope="session")
def expected() -> dict[str, Any]:
    """spec/vectors/expected.json."""
    return json.loads((VECTORS / "expected.json").read_text())
