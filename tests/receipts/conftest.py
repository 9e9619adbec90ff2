"""Fixtures for the service tests: a fresh deployment per test (SQLite, or a PostgreSQL schema).

PostgreSQL tests are marked ``postgres``; they skip when the server at 127.0.0.1:5432 is not
reachable, except with ``RECEIPTS_REQUIRE_POSTGRES=1`` (CI), where that is a failure.
"""

from __future__ import annotations

import io
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fastapi.testclient import TestClient

from receipts.api.app import create_app
from receipts.demo.traffic import write_sample_ledger
from receipts.deployment.runtime import InitResult, create_agent, initialize, open_runtime
from receipts.deployment.settings import Settings, default_db_url
from receipts.deployment.signing_key import Signer
from receipts.storage.database import Database

PG_BASE = os.environ.get("RECEIPTS_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def sample_signer() -> Signer:
    """One random key for the session's sample ledgers."""
    return Signer.generate()


def sample_ledger(signer: Signer, n: int, chains: int = 1, seed: int = 0) -> bytes:
    """A valid simulated ledger of ``n`` receipts, signed by the service's own code."""
    out = io.BytesIO()
    write_sample_ledger(out, signer, n, chains=chains, seed=seed)
    return out.getvalue()


def call(request_id: str = "r1", **overrides: Any) -> dict[str, Any]:
    """A valid call body (required tags present)."""
    body: dict[str, Any] = {
        "request_id": request_id, "provider": "openai", "model": "gpt-4o",
        "usage": {"input_tokens": 1000, "output_tokens": 200, "cache_read_tokens": 400},
        "tags": {"project": "ranker", "environment": "prod"}, "runtime_ms": 900,
    }
    body.update(overrides)
    return body


@dataclass
class Deployment:
    """An initialised data directory and database."""

    settings: Settings
    made: InitResult

    @property
    def admin(self) -> dict[str, str]:
        """Admin token header."""
        return {"Authorization": f"Bearer {self.made.admin_token}"}

    def agent(self, team: str = "search", **tags: str) -> tuple[str, dict[str, str]]:
        """A new agent: (agent id, auth header)."""
        runtime = open_runtime(self.settings)
        try:
            agent, key = create_agent(runtime, team, tags)
        finally:
            runtime.close()
        return agent.id, {"Authorization": f"Bearer {key}"}

    def role_token(self, role: str, team: str | None = None) -> tuple[str, dict[str, str]]:
        """A new role token (``finance``, or ``team`` with ``team``): (token id, auth header)."""
        from receipts.deployment.role_tokens import create_role_token

        runtime = open_runtime(self.settings)
        try:
            token, secret = create_role_token(runtime, role, team)
        finally:
            runtime.close()
        return token.id, {"Authorization": f"Bearer {secret}"}

    def client(self, **overrides: Any) -> TestClient:
        """A test client of the real app (use as a context manager: runs the lifespan)."""
        settings = self.settings.with_overrides(**overrides) if overrides else self.settings
        return TestClient(create_app(settings))

    def env(self) -> dict[str, str]:
        """Environment for ``receipt`` subprocesses on this deployment."""
        return {**os.environ, "RECEIPTS_DATA": str(self.settings.data_dir),
                "RECEIPTS_DB": self.settings.db_url}


def make_deployment(directory: Path, db_url: str | None = None, currency: str = "USD",
                    price_book: str = "shipped", **settings: Any) -> Deployment:
    """``receipt init`` into ``directory`` (the small shipped book unless ``price_book`` says
    ``genai``: fixed prices, and a second less per deployment than a genai-prices snapshot)."""
    data = directory / "data"
    s = Settings(data_dir=data, db_url=db_url or default_db_url(data), **settings)
    return Deployment(s, initialize(s, issuer="test", reporting_currency=currency,
                                    price_book=price_book))


@pytest.fixture
def deployment(tmp_path: Path) -> Deployment:
    """A fresh SQLite deployment."""
    return make_deployment(tmp_path)


def _postgres_reachable() -> str | None:
    try:
        import psycopg

        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test",
                             connect_timeout=3):
            return None
    except Exception as e:
        return f"{type(e).__name__}: {e}".splitlines()[0]


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A database URL on a fresh PostgreSQL schema (dropped afterwards)."""
    with postgres_schema() as url:
        yield url


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A database URL on a fresh PostgreSQL schema, dropped on exit; skips the test when the
    server is unreachable (fails it with ``RECEIPTS_REQUIRE_POSTGRES=1``, as in CI)."""
    problem = _postgres_reachable()
    if problem is not None:
        if os.environ.get("RECEIPTS_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL required (RECEIPTS_REQUIRE_POSTGRES=1) but unreachable: "
                        f"{problem}")
        pytest.skip(f"PostgreSQL not reachable: {problem}")
    import psycopg

    schema = "receipts_test_" + secrets.token_hex(6)
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test",
                         autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_BASE}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test",
                             autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


BOTH_DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
"""``params`` of a fixture made once per database: SQLite, and PostgreSQL (marked)."""
Made = TypeVar("Made")


def made_on(request: pytest.FixtureRequest, tmp: Path,
            make: Callable[[Path, str | None], Made]) -> Iterator[Made]:
    """``make(tmp, db_url)`` on the database ``request.param`` names (a fresh PostgreSQL
    schema, dropped afterwards, or SQLite in ``tmp``): the body of a BOTH_DATABASES fixture."""
    if request.param == "postgres":
        with postgres_schema() as url:
            yield make(tmp, url)
    else:
        yield make(tmp, None)


def bare_database(request: pytest.FixtureRequest, tmp: Path) -> Iterator[Database]:
    """A :class:`Database` with the schema and nothing else, on the database
    ``request.param`` names: the body of a BOTH_DATABASES fixture."""
    def make(at: Path, url: str | None) -> Database:
        made = Database(url or f"sqlite:///{at / 'bare.db'}")
        made.create_schema()
        return made

    for made in made_on(request, tmp, make):
        yield made
        made.dispose()


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def receipt_cmd(*args: str) -> list[str]:
    """The ``receipt`` command run with this interpreter."""
    return [sys.executable, "-m", "receipts", *args]


class Server:
    """``receipt serve`` in a subprocess (own process group, so kill -9 reaches the workers)."""

    def __init__(self, dep: Deployment, workers: int = 1, chains: int | None = None,
                 port: int | None = None) -> None:
        self.dep, self.workers, self.chains = dep, workers, chains
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = ["serve", "--port", str(self.port), "--workers", str(workers)]
        if chains:
            args += ["--chains", str(chains)]
        self.log = dep.settings.data_dir.parent / f"serve-{self.port}.log"
        self.proc = subprocess.Popen(receipt_cmd(*args), env=dep.env(), cwd=ROOT,
                                     stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def restart(self) -> Server:
        """The same deployment served again on the same port (after :meth:`kill9`)."""
        return Server(self.dep, self.workers, self.chains, port=self.port)

    def wait_ready(self, timeout: float = 60) -> None:
        """Until /healthz answers."""
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}: "
                                     f"{self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("server did not become ready: " + self.log.read_text()[-2000:])

    def kill9(self) -> None:
        """SIGKILL the whole service (master and workers)."""
        import signal

        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        """Graceful stop (SIGTERM), then SIGKILL if needed."""
        import signal

        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill9()
