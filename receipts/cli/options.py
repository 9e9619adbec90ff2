"""Options and helpers the service's command modules share: where the deployment lives.

Only ``click`` and the standard library are imported here at import time: the server extra
(FastAPI, SQLModel, uvicorn) is imported when a command opens a deployment, so a base install
still runs ``receipt verify``, and a service command there gets a one-line hint from the edge.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

T = TypeVar("T")

data_option = click.option(
    "--data", "data_dir", type=click.Path(file_okay=False, path_type=Path),
    help="Data directory [default: $RECEIPTS_DATA or ./.receipts].")
db_option = click.option(
    "--db", "db_url", metavar="URL",
    help="Database URL [default: $RECEIPTS_DB or sqlite in the data directory]; "
         "e.g. postgresql+psycopg://user@host/db.")
ledger_option = click.option(
    "--ledger", type=click.Path(dir_okay=False, path_type=Path),
    help="A ledger file, verified first (with --key).")
key_option = click.option(
    "--key", "key_paths", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
    help="The issuer's public key (PEM) the ledger must verify with.")
chains_option = click.option(
    "--chains", type=click.IntRange(1, 64),
    help="Chains appends are spread over [default: $RECEIPTS_CHAINS or 1].")


def cli_settings(data_dir: Path | None, db_url: str | None, **overrides: Any) -> Any:
    """The deployment's settings from the options, the environment and the defaults."""
    from receipts.deployment.settings import load_settings

    return load_settings(data_dir, db_url, **overrides)


@contextmanager
def opened_runtime(data_dir: Path | None, db_url: str | None, **overrides: Any) -> Iterator[Any]:
    """Open the deployment for one command and close it however the command ends."""
    from receipts.deployment.runtime import open_runtime

    runtime = open_runtime(cli_settings(data_dir, db_url, **overrides))
    try:
        yield runtime
    finally:
        runtime.close()


def with_runtime(data_dir: Path | None, db_url: str | None, action: Callable[[Any], T]) -> T:
    """Open the deployment, run ``action(runtime)``, close it."""
    with opened_runtime(data_dir, db_url) as runtime:
        return action(runtime)


def ledger_or_deployment(ledger: Path | None, data_dir: Path | None, db_url: str | None,
                         key_paths: tuple[Path, ...], trusted_by: str) -> tuple[Any, ...] | None:
    """The source of a document finance or a customer relies on: a ledger file with the
    issuer's pinned ``--key`` (the keys, loaded; never the keys the file lists, since the file
    is what is being checked), or a deployment (None). ``trusted_by`` says who relies on it."""
    from receipts.errors import FieldProblem, Invalid

    if (ledger is None) == (data_dir is None and db_url is None):
        raise Invalid("give either --ledger FILE with --key, or --data DIR (not both)",
                      [FieldProblem("ledger", "or --data")])
    if ledger is None:
        return None
    if not key_paths:
        raise Invalid(f"{ledger}: --key PUB is required: {trusted_by} trusts only the "
                      "issuer's pinned key", [FieldProblem("key", "missing")])
    from receipts.reconcile.ledger import load_keys

    return load_keys(key_paths)
