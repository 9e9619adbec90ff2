"""``receipt token create|list|revoke``: read-only role tokens (finance, or one team).

Like ``receipt agent create``, the token is printed once, on the last line, and only its hash
is stored. Errors are raised for the one CLI edge (``receipts.cli.main``) to print.
"""

from __future__ import annotations

from pathlib import Path

import click

from receipts.cli.options import data_option as _data
from receipts.cli.options import db_option as _db
from receipts.cli.options import opened_runtime


@click.group()
def token() -> None:
    """Manage read-only role tokens: finance (every team) or team (one team)."""


@token.command("create")
@click.option("--role", required=True, type=click.Choice(["finance", "team"]),
              help="finance: reads every team's spend and receipts; team: only --team's.")
@click.option("--team", help="The one team a team token reads (required with --role team).")
@click.option("--name", default="", help="Who or what holds the token (shown by list).")
@_data
@_db
def token_create(role: str, team: str | None, name: str, data_dir: Path | None,
                 db_url: str | None) -> None:
    """Make a role token; it is printed once, on the last line."""
    if role == "team" and not team:
        raise click.BadParameter("a team token names its team", param_hint="--team")
    if role == "finance" and team is not None:
        raise click.BadParameter("a finance token reads every team; it takes no --team",
                                 param_hint="--team")

    from receipts.deployment.role_tokens import create_role_token

    with opened_runtime(data_dir, db_url) as runtime:
        made, secret = create_role_token(runtime, role, team, name)
    reads = f"reads team {made.team} only" if made.team else "reads every team"
    click.echo(f"token {made.id} (role {made.role}, {reads}"
               + (f", name {name}" if name else "") + ")")
    click.echo("token (shown once, stored only as a hash):")
    click.echo(secret)


@token.command("list")
@_data
@_db
def token_list(data_dir: Path | None, db_url: str | None) -> None:
    """List role tokens (ids, roles, teams, status; never the tokens)."""
    from receipts.storage import queries as store
    from verifier.jsonview import iso_ms

    with opened_runtime(data_dir, db_url) as runtime, runtime.db.read() as conn:
        tokens = store.list_role_tokens(conn)
    if not tokens:
        click.echo("(no tokens)")
    for t in tokens:
        state = f"revoked {iso_ms(t['revoked_at'])}" if t["revoked_at"] else "active"
        parts = [t["id"], f"role={t['role']}"]
        if t["team"] is not None:
            parts.append(f"team={t['team']}")
        if t["name"]:
            parts.append(f"name={t['name']}")
        parts += [f"created {iso_ms(t['created_at'])}", state]
        click.echo("  ".join(parts))


@token.command("revoke")
@click.argument("token_id")
@_data
@_db
def token_revoke(token_id: str, data_dir: Path | None, db_url: str | None) -> None:
    """Revoke a role token (immediately: it reads nothing more)."""
    from receipts.deployment.role_tokens import revoke_role_token

    with opened_runtime(data_dir, db_url) as runtime:
        revoke_role_token(runtime, token_id)
    click.echo(f"token {token_id} revoked")
