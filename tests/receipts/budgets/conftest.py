"""A deployment per test on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.receipts.conftest import Deployment, make_deployment, postgres_schema


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def dep(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    """A fresh deployment (USD reporting, the shipped price book)."""
    with ExitStack() as stack:
        url = stack.enter_context(postgres_schema()) if request.param == "postgres" else None
        yield make_deployment(tmp_path, db_url=url)
