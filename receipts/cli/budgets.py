"""``receipt budget set|list|delete|approve|deny``: budgets and approvals on the database.

Like the other service commands, these open the deployment directly (no HTTP) and go through
the same functions as the API (``receipts.budgets``), so both refuse the same input with the
same field names. The server extra is imported inside each command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from receipts.cli.options import data_option as _data
from receipts.cli.options import db_option as _db
from receipts.cli.options import opened_runtime


@click.group()
def budget() -> None:
    """Budgets (spent, reserved, remaining, forecast) and the approvals they ask for."""


def _scope(values: tuple[str, ...]) -> dict[str, str]:
    scope: dict[str, str] = {}
    for value in values:
        name, sep, wanted = value.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{value!r} is not k=v", param_hint="--scope")
        scope[name] = wanted
    return scope


@budget.command("set")
@click.argument("name")
@click.option("--limit", required=True, help="Decimal amount in the reporting currency.")
@click.option("--scope", "scope", multiple=True, metavar="K=V",
              help="A tag (or agent, provider, model) the receipts must have; repeatable.")
@click.option("--period", type=click.Choice(["week", "month", "quarter"]), default=None,
              help="Calendar period (UTC; ISO weeks) [default: month].")
@click.option("--from", "window_from", metavar="TIME", help="Fixed window start (RFC 3339).")
@click.option("--until", "window_until", metavar="TIME", help="Fixed window end (RFC 3339).")
@click.option("--threshold", "thresholds", multiple=True, type=int, metavar="PERCENT",
              help="Alert threshold in percent of the limit; repeatable [default: 50 80 100].")
@click.option("--at-limit", type=click.Choice(["notify", "approve", "deny"]), default="notify",
              show_default=True, help="What an authorization that does not fit gets.")
@_data
@_db
def budget_set(name: str, limit: str, scope: tuple[str, ...], period: str | None,
               window_from: str | None, window_until: str | None, thresholds: tuple[int, ...],
               at_limit: str, data_dir: Path | None, db_url: str | None) -> None:
    """Create a budget, or replace the one named NAME."""
    from receipts.budgets.definition import money, parse_budget
    from receipts.budgets.manage import set_budget

    body: dict[str, Any] = {"name": name, "limit": limit, "scope": _scope(scope),
                            "at_limit": at_limit}
    if window_from is not None or window_until is not None:
        if period is not None:
            raise click.UsageError("give --period or --from/--until, not both")
        body["period"] = {"from": window_from, "until": window_until}
    elif period is not None:
        body["period"] = period
    if thresholds:
        body["thresholds"] = list(thresholds)
    fields = parse_budget(body)
    with opened_runtime(data_dir, db_url) as runtime:
        made, created = set_budget(runtime.db, fields, runtime.facts.reporting_currency)
    click.echo(f"budget {made.name} ({made.id}) {'created' if created else 'replaced'}: "
               f"{made.scope_text()} {json.dumps(made.period_json())} limit {money(made.limit)}"
               f" {runtime.facts.reporting_currency}, {made.at_limit} at limit")


@budget.command("list")
@click.option("--json", "as_json", is_flag=True, help="The same JSON as GET /v1/budgets.")
@_data
@_db
def budget_list(as_json: bool, data_dir: Path | None, db_url: str | None) -> None:
    """Every budget: spent, reserved, remaining and the period-end forecast."""
    from receipts.budgets.manage import list_budgets
    from verifier.minor_units import display_amount
    from verifier.money import COST_SCALE, parse_amount

    with opened_runtime(data_dir, db_url) as runtime:
        shown = list_budgets(runtime.db, runtime.facts.reporting_currency)
    if as_json:
        click.echo(json.dumps({"budgets": shown}, indent=2))
        return
    if not shown:
        click.echo("(no budgets)")
    for b in shown:
        f, c = b["forecast"], b["currency"]

        def r(text: str, currency: str = c) -> str:
            units = parse_amount(text, COST_SCALE)
            return ("-" if units < 0 else "") + display_amount(abs(units), currency)

        scope = ",".join(f"{k}={v}" for k, v in sorted(b["scope"].items())) or "*"
        click.echo(f"{b['name']}  {scope}  {b['period_start'][:10]}..{b['period_end'][:10]}  "
                   f"{b['at_limit']}  limit {r(b['limit'])} {c}  spent {r(b['spent'])}  "
                   f"reserved {r(b['reserved'])}  remaining {r(b['remaining'])}  forecast "
                   f"{r(f['projected'])} [{r(f['low'])}, {r(f['high'])}]"
                   + ("  OVERRUN PREDICTED" if f["overrun"] else ""))


@budget.command("delete")
@click.argument("name")
@_data
@_db
def budget_delete(name: str, data_dir: Path | None, db_url: str | None) -> None:
    """Delete the budget NAME (or id) and its counters."""
    from receipts.budgets.manage import delete_budget

    with opened_runtime(data_dir, db_url) as runtime:
        gone = delete_budget(runtime.db, name)
    click.echo(f"budget {gone.name} ({gone.id}) deleted")


def _decide(approval_id: str, approve: bool, data_dir: Path | None, db_url: str | None) -> None:
    from receipts.budgets.authorize import resolve_approval
    from receipts.budgets.raw import Raw
    from receipts.clock import now_ms

    with opened_runtime(data_dir, db_url) as runtime, runtime.db.write() as conn:
        done = resolve_approval(Raw.of(conn), approval_id, approve, now_ms(),
                                runtime.facts.reporting_currency)
    click.echo(f"approval {done.id} {done.state}"
               + (f": reservation {done.reservation_id}" if done.reservation_id else ""))


@budget.command("approve")
@click.argument("approval_id")
@_data
@_db
def budget_approve(approval_id: str, data_dir: Path | None, db_url: str | None) -> None:
    """Approve a call waiting at an ``approve`` budget's limit (its estimate is held)."""
    _decide(approval_id, True, data_dir, db_url)


@budget.command("deny")
@click.argument("approval_id")
@_data
@_db
def budget_deny(approval_id: str, data_dir: Path | None, db_url: str | None) -> None:
    """Deny a call waiting at an ``approve`` budget's limit."""
    _decide(approval_id, False, data_dir, db_url)
