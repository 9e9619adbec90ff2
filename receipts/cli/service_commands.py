"""The service's commands: ``init``, ``agent create|list|revoke|resume``, ``serve``, ``export``,
``fx set`` and ``demo``.

This module imports only ``click`` and the standard library at import time: the server extra
(FastAPI, SQLModel, uvicorn) is imported inside each command, so a base install still runs
``receipt verify``. Errors are raised, never printed: ``receipts.cli.main`` is the one edge that
turns them into a line on stderr and an exit code.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from receipts.cli.options import chains_option as _chains
from receipts.cli.options import cli_settings as _settings
from receipts.cli.options import data_option as _data
from receipts.cli.options import db_option as _db
from receipts.cli.options import opened_runtime


@click.command()
@_data
@_db
@_chains
@click.option("--reporting-currency", default="USD", show_default=True,
              help="ISO 4217 currency receipts also state their cost in (fixed for the ledger).")
@click.option("--issuer", default="receipts", show_default=True,
              help="Issuer name written in ledgers and checkpoints.")
@click.option("--price-book", type=click.Choice(["genai", "shipped"]), default="genai",
              show_default=True,
              help="First price book: a snapshot of the installed genai-prices data (thousands "
                   "of models, aliases, Azure/Bedrock/Vertex names), or the small shipped list "
                   "(a dozen models, fixed prices).")
def init(data_dir: Path | None, db_url: str | None, chains: int | None,
         reporting_currency: str, issuer: str, price_book: str) -> None:
    """Create the data directory, signing key, database and admin token."""

    from receipts.deployment.runtime import initialize
    from receipts.deployment.settings import redact_url

    settings = _settings(data_dir, db_url, chains=chains)
    made = initialize(settings, issuer=issuer, reporting_currency=reporting_currency.upper(),
                      price_book=price_book)
    book = made.book
    click.echo(f"data directory: {settings.data_dir}")
    click.echo(f"signing key:    {made.private_key} (mode 0600)")
    click.echo(f"public key:     {made.public_key}")
    click.echo(f"key id:         {made.signer.kid.hex()}")
    click.echo(f"fingerprint:    {made.signer.fingerprint}")
    click.echo(f"database:       {redact_url(settings.db_url)}")
    click.echo(f"issuer:         {issuer}; reporting currency {made.facts.reporting_currency}")
    click.echo(f"price book:     {book.id.hex()} ({len(book.entries)} models, "
               f"{book.currency}; {book.payload['source']})")
    click.echo("admin token (shown once, stored only as a hash; keep it secret):")
    click.echo(made.admin_token)


@click.group()
def agent() -> None:
    """Manage agent API keys (bound to a team and tags)."""


def _tag(values: tuple[str, ...]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for value in values:
        name, sep, tag_value = value.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{value!r} is not k=v", param_hint="--tag")
        tags[name] = tag_value
    return tags


@agent.command("create")
@click.option("--team", required=True, help="Team every receipt of this agent is charged to.")
@click.option("--tag", "tags", multiple=True, metavar="K=V",
              help="A tag bound to every receipt of this agent; repeatable.")
@_data
@_db
def agent_create(team: str, tags: tuple[str, ...], data_dir: Path | None,
                 db_url: str | None) -> None:
    """Make an agent key; it is printed once, on the last line."""
    bound = _tag(tags)

    from receipts.deployment.runtime import create_agent

    with opened_runtime(data_dir, db_url) as runtime:
        new, key = create_agent(runtime, team, bound)
    click.echo(f"agent {new.id} (team {new.team}"
               + "".join(f", {k}={v}" for k, v in sorted(new.tags.items())) + ")")
    click.echo("API key (shown once, stored only as a hash):")
    click.echo(key)


@agent.command("list")
@_data
@_db
def agent_list(data_dir: Path | None, db_url: str | None) -> None:
    """List agents (ids, teams, tags, status: active, suspended or revoked; never keys)."""
    from receipts.budgets.raw import Raw
    from receipts.deployment import suspensions
    from receipts.storage import queries as store
    from verifier.jsonview import iso_ms

    with opened_runtime(data_dir, db_url) as runtime, runtime.db.read() as conn:
        agents = store.list_agents(conn)
        suspended = suspensions.active(Raw.of(conn))
    if not agents:
        click.echo("(no agents)")
    for a in agents:
        state = f"revoked {iso_ms(a['revoked_at'])}" if a["revoked_at"] else "active"
        found = suspended.get(a["id"])
        if found is not None and not a["revoked_at"]:
            state = (f"suspended {iso_ms(found.suspended_at)} by "
                     f"{'alert ' + found.alert_id if found.alert_id else found.suspended_by}")
        tags = " ".join(f"{k}={v}" for k, v in sorted(a["tags"].items()))
        click.echo(f"{a['id']}  team={a['team']}  {tags}  created {iso_ms(a['created_at'])}"
                   f"  {state}".replace("    ", "  "))


@agent.command("revoke")
@click.argument("agent_id")
@_data
@_db
def agent_revoke(agent_id: str, data_dir: Path | None, db_url: str | None) -> None:
    """Revoke an agent key (immediately: no more receipts, no more reads)."""
    from receipts.clock import now_ms
    from receipts.storage import queries as store

    with opened_runtime(data_dir, db_url) as runtime, runtime.db.write() as conn:
        store.revoke_agent(conn, agent_id, now_ms())
    click.echo(f"agent {agent_id} revoked")


@agent.command("resume")
@click.argument("agent_id")
@_data
@_db
def agent_resume(agent_id: str, data_dir: Path | None, db_url: str | None) -> None:
    """End an agent key's suspension (made by an anomaly alert): it writes again."""
    from receipts.budgets.raw import Raw
    from receipts.clock import now_ms
    from receipts.deployment import suspensions
    from verifier.jsonview import iso_ms

    with opened_runtime(data_dir, db_url) as runtime, runtime.db.write() as conn:
        ended = suspensions.resume(Raw.of(conn), agent_id, by="cli", now=now_ms())
    cause = f"alert {ended.alert_id}" if ended.alert_id else ended.suspended_by
    click.echo(f"agent {agent_id} resumed (suspended since {iso_ms(ended.suspended_at)} by "
               f"{cause})")


@click.command()
@_data
@_db
@_chains
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes.")
@click.option("--access-log/--no-access-log", default=False, show_default=True)
def serve(data_dir: Path | None, db_url: str | None, chains: int | None, host: str, port: int,
          workers: int, access_log: bool) -> None:
    """Run the HTTP service (checks the stored ledger first; refuses a broken chain)."""
    import uvicorn

    from receipts.deployment.settings import redact_url
    from receipts.storage.self_check import self_check

    settings = _settings(data_dir, db_url, chains=chains)
    with opened_runtime(data_dir, db_url, chains=chains) as runtime:
        checked = self_check(runtime)
    click.echo(f"self-check: ledger VALID, {checked.receipts} receipts in "
               f"{len(checked.chains)} chain(s), {checked.fully_verified} fully verified "
               "since the last checkpoint", err=True)
    click.echo(f"database {redact_url(settings.db_url)}; serving http://{host}:{port} "
               f"(OpenAPI at /docs) with {workers} worker(s)", err=True)
    os.environ.update(settings.with_overrides(self_check=False).to_env())
    uvicorn.run("receipts.api.app:app_from_env", factory=True, host=host, port=port,
                workers=workers, access_log=access_log, log_level="info",
                timeout_graceful_shutdown=10)


@click.command()
@_data
@_db
@click.option("-o", "--output", "output", required=True,
              type=click.Path(dir_okay=False, path_type=Path), help="Ledger file to write.")
@click.option("--chain", help="Only this chain.")
def export(data_dir: Path | None, db_url: str | None, output: Path, chain: str | None) -> None:
    """Write the ledger file (verify it with: receipt verify FILE)."""
    from receipts.storage.export import export_ledger

    with opened_runtime(data_dir, db_url) as runtime:
        tmp = output.with_name(output.name + ".part")
        with tmp.open("wb") as out:
            count, size = export_ledger(runtime, out, chain)
        tmp.replace(output)
    click.echo(f"wrote {output}: {count} receipts, {size} bytes; check it with: "
               f"receipt verify {output}")


@click.group()
def fx() -> None:
    """Daily FX rates from the price books' currency to the reporting currency (signed)."""


@fx.command("set", context_settings={"ignore_unknown_options": True})
@click.argument("currency", metavar="CCY")
@click.argument("rate", metavar="RATE")
@click.option("--date", "date", metavar="YYYY-MM-DD", help="The rate's date [default: today, "
              "UTC].")
@click.option("--source", default="manual", show_default=True,
              help="Where the rate comes from (recorded in the signed rate).")
@_data
@_db
def fx_set(currency: str, rate: str, date: str | None, source: str, data_dir: Path | None,
           db_url: str | None) -> None:
    """Publish RATE units of CCY (the reporting currency) per unit of the price books'
    currency, for --date: receipts issued from now on whose UTC date is that date or later use
    it (until a later date's rate). RATE is an exact decimal (at most 9 decimals), e.g. 0.79.
    Same as PUT /v1/fx/{date}.

    (A RATE such as -1 is read as the rate, so it is refused as a rate, not as an option.)"""
    import datetime as dt

    from receipts.deployment.runtime import publish_fx_rate
    from verifier.jsonview import iso_ms
    from verifier.money import FX_RATE_SCALE, format_amount

    day = date or dt.datetime.now(dt.UTC).date().isoformat()
    with opened_runtime(data_dir, db_url) as runtime:
        published = publish_fx_rate(runtime, day, rate, quote=currency.upper(), source=source)
    click.echo(f"published {published.date}: 1 {published.base} = "
               f"{format_amount(published.rate, FX_RATE_SCALE)} {published.quote} "
               f"(source {published.source}, signed at {iso_ms(published.published_at)})")


@click.command()
@click.option("--calls", default=900, show_default=True, type=click.IntRange(30, 100_000),
              help="Simulated LLM calls.")
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path),
              help="Keep the demo's data directory and ledger here (default: a temporary one).")
@click.option("--serve", is_flag=True,
              help="At the end, keep the service up with its dashboard (until Ctrl-C).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535),
              help="The port --serve listens on (127.0.0.1).")
def demo(calls: int, keep: Path | None, serve: bool, port: int) -> int:
    """One command, no set-up: run the real service, simulate 3 teams, export, verify, roll up."""
    from receipts.demo.walkthrough import run_demo

    root = click.get_current_context().find_root().command
    return run_demo(calls, keep, root, port if serve else None)


COMMANDS: tuple[click.Command, ...] = (init, agent, serve, export, fx, demo)
"""The service's commands, in the order ``receipt --help`` lists them."""
