"""``receipt alerts``: channels, alerts and their deliveries, on the deployment's database.

The same operations as ``/v1/alert-channels`` and ``/v1/alerts`` (:mod:`receipts.alerts`), run
against the database directly, like ``receipt agent``: a running service's delivery workers
pick up what these commands change at their next poll. The server extra is imported inside
each command (a base install still runs ``receipt verify``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from receipts.cli.options import data_option, db_option, opened_runtime


@click.group()
def alerts() -> None:
    """Alerts and where they are delivered (webhook, Slack, PagerDuty)."""


@alerts.group()
def channel() -> None:
    """Channels every alert is delivered to."""


@channel.command("add")
@click.option("--kind", required=True, type=click.Choice(["webhook", "slack", "pagerduty"]),
              help="webhook: signed JSON POST; slack: incoming webhook; pagerduty: Events v2.")
@click.option("--url", required=True, help="The receiver, Slack webhook or PagerDuty events "
              "endpoint (https://events.pagerduty.com/v2/enqueue).")
@click.option("--secret", envvar="RECEIPTS_ALERT_CHANNEL_SECRET", show_envvar=True,
              help="webhook: the signing secret (>= 16 characters); pagerduty: the routing "
                   "key. Prefer the environment variable (kept out of shell history).")
@data_option
@db_option
def channel_add(kind: str, url: str, secret: str | None, data_dir: Path | None,
                db_url: str | None) -> None:
    """Add a channel (its secret is stored encrypted and never shown again)."""
    from receipts.alerts.channels import add_channel
    from receipts.alerts.sealing import Sealer
    from receipts.clock import now_ms

    with opened_runtime(data_dir, db_url) as runtime, runtime.db.write() as conn:
        added = add_channel(conn, Sealer(runtime.signer), kind, url, secret or None, now_ms())
    click.echo(f"alert channel {added.id} added ({added.kind} {added.display_url})")


@channel.command("list")
@data_option
@db_option
def channel_list(data_dir: Path | None, db_url: str | None) -> None:
    """List channels (URLs without credentials; never secrets)."""
    from receipts.alerts.channels import list_channels
    from verifier.jsonview import iso_ms

    with opened_runtime(data_dir, db_url) as runtime, runtime.db.read() as conn:
        channels = list_channels(conn)
    if not channels:
        click.echo("(no alert channels)")
    for c in channels:
        secret = "  secret set" if c.has_secret else ""
        click.echo(f"{c.id}  {c.kind}  {c.display_url}  added {iso_ms(c.created_at)}{secret}")


@channel.command("remove")
@click.argument("channel_id")
@data_option
@db_option
def channel_remove(channel_id: str, data_dir: Path | None, db_url: str | None) -> None:
    """Stop delivering to a channel (its deliveries stay listed)."""
    from receipts.alerts.channels import remove_channel
    from receipts.clock import now_ms

    with opened_runtime(data_dir, db_url) as runtime, runtime.db.write() as conn:
        remove_channel(conn, channel_id, now_ms())
    click.echo(f"alert channel {channel_id} removed")


def _line(view: dict[str, Any]) -> str:
    parts = [f"{d['channel']} {d['state']} ({d['attempts']} attempt"
             f"{'' if d['attempts'] == 1 else 's'}"
             + (f"; {d['last_error']}" if d["state"] != "delivered" and d["last_error"]
                else "") + ")"
             for d in view["deliveries"]]
    return (f"{view['id']}  {view['created_at']}  {view['kind']}  {view['scope']}  "
            f"{view['status']}  " + (", ".join(parts) if parts else "no channel yet"))


@alerts.command("list")
@click.option("--status", type=click.Choice(["pending", "delivered", "failed"]),
              help="Only alerts with this status.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="The same JSON as GET /v1/alerts.")
@data_option
@db_option
def alerts_list(status: str | None, limit: int, as_json: bool, data_dir: Path | None,
                db_url: str | None) -> None:
    """The newest alerts first, with the state of each delivery."""
    from receipts.alerts.listing import list_alert_views

    with opened_runtime(data_dir, db_url) as runtime, runtime.db.read() as conn:
        views = list_alert_views(conn, limit, status)  # type: ignore[arg-type]
    if as_json:
        click.echo(json.dumps({"alerts": views}, indent=2, sort_keys=True))
        return
    if not views:
        click.echo("(no alerts)")
    for view in views:
        click.echo(_line(view))


@alerts.command("retry")
@click.argument("alert_id")
@data_option
@db_option
def alerts_retry(alert_id: str, data_dir: Path | None, db_url: str | None) -> None:
    """Queue an alert's failed deliveries again (same event ids)."""
    from receipts.alerts.outbox import retry_failed
    from receipts.alerts.store import get_alert
    from receipts.clock import now_ms
    from receipts.errors import NotFound

    with opened_runtime(data_dir, db_url) as runtime, runtime.db.write() as conn:
        if get_alert(conn, alert_id) is None:
            raise NotFound(f"no alert {alert_id}")
        count = retry_failed(conn, alert_id, now_ms())
    click.echo(f"alert {alert_id}: {count} failed deliver{'y' if count == 1 else 'ies'} "
               "queued again")


@alerts.command("test")
@click.option("--message", default="test alert from receipt alerts test", show_default=True)
@data_option
@db_option
def alerts_test(message: str, data_dir: Path | None, db_url: str | None) -> None:
    """Raise a test alert (kind test, severity info) to check every channel end to end."""
    import secrets

    from receipts.alerts.store import raise_alert

    with opened_runtime(data_dir, db_url) as runtime, runtime.db.write() as conn:
        raised = raise_alert(conn, "test", "deployment", "test:" + secrets.token_hex(8),
                             {"summary": message, "severity": "info"})
    click.echo(f"alert {raised.id} raised; see: receipt alerts list")
