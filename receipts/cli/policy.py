"""``receipt policy set|check|show|versions|flags``: tag policies as code.

``set`` checks the file whole (a bad rule is one stderr line naming the rule and field, exit 1,
nothing stored) and stores it as the next version; running services use it within seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from receipts.cli.options import data_option as _data
from receipts.cli.options import db_option as _db
from receipts.cli.options import opened_runtime

_FILE = click.Path(dir_okay=False, path_type=Path)


@click.group()
def policy() -> None:
    """Tag policies: required tags, denied models, a cost limit per call; deny or flag."""


@policy.command("check")
@click.argument("file", type=_FILE)
def policy_check(file: Path) -> None:
    """Check a policy file (TOML, YAML or JSON) without storing it."""
    from receipts.policies.source import read_policy_file

    _, fmt, checked = read_policy_file(file)
    click.echo(f"{file}: valid {fmt} policy, {len(checked.rules)} rule(s)")


@policy.command("set")
@click.argument("file", type=_FILE)
@_data
@_db
def policy_set(file: Path, data_dir: Path | None, db_url: str | None) -> None:
    """Store FILE as the next policy version (the one in force)."""
    from receipts.clock import now_ms
    from receipts.policies import store
    from receipts.policies.source import read_policy_file

    text, fmt, _ = read_policy_file(file)
    with opened_runtime(data_dir, db_url) as runtime, runtime.db.write() as conn:
        stored = store.add_version(conn, text, fmt, now_ms())
    click.echo(f"policy version {stored.version} stored: {len(stored.policy.rules)} rule(s), "
               f"sha256 {stored.sha256}")


@policy.command("show")
@click.option("--version", "number", type=click.IntRange(1), help="A stored version "
              "[default: the one in force].")
@click.option("--json", "as_json", is_flag=True, help="The version and its rules as JSON.")
@_data
@_db
def policy_show(number: int | None, as_json: bool, data_dir: Path | None,
                db_url: str | None) -> None:
    """Print the policy in force (or --version): its header, then its source as set."""
    from receipts.errors import NotFound
    from receipts.policies import store
    from verifier.jsonview import iso_ms

    with opened_runtime(data_dir, db_url) as runtime, runtime.db.read() as conn:
        found = store.current(conn) if number is None else store.version(conn, number)
    if found is None:
        if number is not None:
            raise NotFound(f"no policy version {number}")
        click.echo("(no policy set)")
        return
    if as_json:
        click.echo(json.dumps({"version": found.version, "sha256": found.sha256,
                               "format": found.format, "created_at": iso_ms(found.created_at),
                               "rules": found.policy.as_json()}, indent=2))
        return
    click.echo(f"# policy version {found.version}, {found.format}, set "
               f"{iso_ms(found.created_at)}, sha256 {found.sha256}")
    click.echo(found.source.rstrip("\n"))


@policy.command("versions")
@_data
@_db
def policy_versions(data_dir: Path | None, db_url: str | None) -> None:
    """List every stored version (number, time, sha256, rules)."""
    from receipts.policies import store
    from verifier.jsonview import iso_ms

    with opened_runtime(data_dir, db_url) as runtime, runtime.db.read() as conn:
        listed = store.versions(conn)
    if not listed:
        click.echo("(no policy set)")
    for v in listed:
        click.echo(f"{v['version']}  {iso_ms(v['created_at'])}  {v['format']}  "
                   f"{v['rules']} rule(s)  sha256 {v['sha256']}")


@policy.command("flags")
@click.option("--team", help="Only this team's receipts.")
@click.option("--rule", help="Only this rule.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000))
@_data
@_db
def policy_flags(team: str | None, rule: str | None, limit: int, data_dir: Path | None,
                 db_url: str | None) -> None:
    """List receipts flagged by flag rules, newest first."""
    from receipts.policies import store
    from verifier.jsonview import iso_ms

    with opened_runtime(data_dir, db_url) as runtime, runtime.db.read() as conn:
        flags = store.list_flags(conn, team=team, rule=rule, limit=limit)
    if not flags:
        click.echo("(no flags)")
    for f in flags:
        click.echo(f"{iso_ms(f['created_at'])}  receipt {f['receipt_id']}  rule {f['rule']} "
                   f"(v{f['policy_version']})  team={f['team'] or '-'}  {f['detail']}")
