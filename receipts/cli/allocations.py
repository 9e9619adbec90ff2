"""``receipt allocations check|set|list|show``: finance's allocation rules, as signed sets.

``set`` converts the file exactly (a bad field is one stderr line naming it, exit 1, nothing
stored), signs the set with the service key and stores it beside every earlier one; exports
include it from then on, so ``receipt verify`` checks it and ``receipt rollup
--with-allocations`` applies it to the ledger alone.
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
def allocations() -> None:
    """Allocation rules: fixed costs, invoice credits, shared agents, by a written formula."""


@allocations.command("check")
@click.argument("file", type=_FILE)
@click.option("--currency", default="USD", show_default=True,
              help="The reporting currency to check against (no deployment is opened).")
def allocations_check(file: Path, currency: str) -> None:
    """Check an allocation file (TOML, YAML or JSON) without storing it."""
    from receipts.allocations.source import read_file, to_payload

    fmt, data = read_file(file)
    payload = to_payload(data, currency, 0)
    click.echo(f"{file}: valid {fmt} allocation set, {len(payload['rules'])} rule(s)")


@allocations.command("set")
@click.argument("file", type=_FILE)
@_data
@_db
def allocations_set(file: Path, data_dir: Path | None, db_url: str | None) -> None:
    """Sign FILE as a new allocation set and store it (earlier sets are kept)."""
    from receipts.allocations import store
    from receipts.allocations.source import read_file

    fmt, data = read_file(file)
    with opened_runtime(data_dir, db_url) as runtime:
        stored = store.record(runtime, data, fmt)
    click.echo(store.summary(stored))


@allocations.command("list")
@click.option("--format", "fmt", type=click.Choice(("table", "json")), default="table",
              show_default=True)
@_data
@_db
def allocations_list(fmt: str, data_dir: Path | None, db_url: str | None) -> None:
    """Every stored set, in the order a ledger lists them (month, then time recorded)."""
    from receipts.allocations import store

    with opened_runtime(data_dir, db_url) as runtime, runtime.db.read() as conn:
        listed = [store.set_json(s, rules=fmt == "json") for s in store.stored_sets(conn)]
    if fmt == "json":
        click.echo(json.dumps(listed, indent=2))
        return
    if not listed:
        click.echo("(no allocation set)")
    for s in listed:
        click.echo(f"{s['id']}  from {s['effective_from']}  {s['created_at']}  by {s['by']}  "
                   f"{s['rule_count']} rule(s)  {s['name']}")


@allocations.command("show")
@click.argument("set_id", metavar="ID")
@_data
@_db
def allocations_show(set_id: str, data_dir: Path | None, db_url: str | None) -> None:
    """One stored set (its id or a prefix of at least 8 hex digits) as JSON."""
    from receipts.allocations import store

    with opened_runtime(data_dir, db_url) as runtime, runtime.db.read() as conn:
        found = store.find(conn, set_id)
    click.echo(json.dumps(store.set_json(found), indent=2))
