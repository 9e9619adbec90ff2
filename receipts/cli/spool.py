"""``receipt spool status`` and ``receipt spool flush``: the agent's spool from a shell.

An agent that could not reach the receipts service keeps its calls in a spool file
(:mod:`receipts.client.spool`); the client delivers them at its next call and at exit. These
commands show what waits and deliver it by hand (after an outage, from a cron job, before a
machine is retired). They need the client extra only (``pip install 'receipts[client]'``).
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import click

from receipts.errors import ClientError, ExtraMissing, ServiceUnreachable

spool_option = click.option(
    "--spool", "spool_path", type=click.Path(dir_okay=False, path_type=Path),
    envvar="RECEIPTS_SPOOL", required=True,
    help="The spool file the agent's client was given [default: $RECEIPTS_SPOOL].")


def _client_module() -> Any:
    try:
        import receipts.client as client
    except ModuleNotFoundError as e:
        raise ExtraMissing(f"the spool commands need the client extra: "
                           f"pip install 'receipts[client]' (missing {e.name})") from e
    return client


def _open(path: Path) -> Any:
    if not path.is_file():
        raise ClientError(f"no spool file at {path}")
    return _client_module().Spool(path)


@click.group()
def spool() -> None:
    """The agent's spool: calls waiting for their receipt while the service was unreachable."""


@spool.command()
@spool_option
def status(spool_path: Path) -> None:
    """How many calls wait, since when, and the calls the service refused (set aside)."""
    s = _open(spool_path)
    try:
        waiting, oldest, refused = s.count(), s.oldest(), s.refused_items()
    finally:
        s.close()
    line = f"waiting: {waiting}"
    if oldest is not None:
        since = dt.datetime.fromtimestamp(oldest, dt.UTC).isoformat(timespec="seconds")
        line += f" (oldest spooled {since.replace('+00:00', 'Z')}, " \
                f"{int(time.time() - oldest)} s ago)"
    click.echo(line)
    click.echo(f"refused: {len(refused)}")
    for request_id, code, answer in refused:
        click.echo(f"  {request_id}\tHTTP {code}\t{' '.join(answer.split())[:160]}")


@spool.command()
@spool_option
@click.option("--url", envvar="RECEIPTS_URL", default="http://127.0.0.1:8000",
              show_default=True, help="The receipts service [env RECEIPTS_URL].")
@click.option("--key", envvar="RECEIPTS_AGENT_KEY", required=True,
              help="The agent key the calls were made with [env RECEIPTS_AGENT_KEY].")
@click.option("--public-key", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Check every receipt against this PEM public key.")
def flush(spool_path: Path, url: str, key: str, public_key: Path | None) -> None:
    """Deliver the waiting calls, oldest first; each once, whatever happened before (the
    service answers a request id it already holds with the original receipt)."""
    client_module = _client_module()
    s = _open(spool_path)
    refused_before = len(s.refused_items())
    client = client_module.ReceiptsClient(url, key, spool=s, public_key=public_key,
                                          keep_cose=False)
    try:
        delivered = client.flush(wait=True)
        left, refused = s.count(), len(s.refused_items()) - refused_before
    finally:
        client.http.close()
        s.close()
    click.echo(f"delivered: {len(delivered)}; refused: {refused}; waiting: {left}")
    if left:
        raise ServiceUnreachable(f"{url} stopped answering; {left} call(s) still wait in "
                                 f"{spool_path}")
