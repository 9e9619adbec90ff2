"""The benchmarks' own code under test: bench/ on the import path, the service's fixtures."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.receipts.conftest import pg_url  # noqa: F401 (a fixture, used by name)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
