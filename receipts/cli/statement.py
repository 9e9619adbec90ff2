"""``receipt statement --tenant T --month YYYY-MM (--ledger FILE --key PUB | --data DIR)``:
one tenant's usage statement as HTML, PDF, CSV or JSON.

From a ledger the statement verifies it first against the pinned key and counts only the
verified receipts; from a deployment it reads the database. Both give the same statement.
"""

from __future__ import annotations

from pathlib import Path

import click

from receipts.cli.options import (
    data_option,
    db_option,
    key_option,
    ledger_option,
    ledger_or_deployment,
)

FORMATS = ("html", "pdf", "csv", "receipts", "json")


@click.command()
@click.option("--tenant", required=True, help="The tenant: the value of the tenant tag.")
@click.option("--month", required=True, metavar="YYYY-MM", help="The UTC calendar month.")
@click.option("--tenant-tag", default="tenant_id", show_default=True,
              help="The tag that names the tenant on each receipt.")
@ledger_option
@key_option
@data_option
@db_option
@click.option("--currency", type=click.Choice(("reporting", "native")), default="reporting",
              show_default=True, help="reporting: the ledger's reporting currency at each "
              "receipt's signed rate; native: each price book's currency.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="html",
              show_default=True, help="csv: the usage lines (one row per line); receipts: "
              "a CSV of the receipt ids behind each line.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to FILE [default: standard output].")
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True,
              help="Verification processes (0 = one per core).")
def statement(tenant: str, month: str, tenant_tag: str, ledger: Path | None,
              key_paths: tuple[Path, ...], data_dir: Path | None, db_url: str | None,
              currency: str, fmt: str, output: Path | None, workers: int) -> None:
    """A tenant's usage statement: lines by day and model (receipts, tokens per category,
    cost), totals, and the receipts behind each line by id."""
    from receipts.statements.build import build
    from receipts.statements.records import Ask
    from receipts.statements.render import RENDERERS

    keys = ledger_or_deployment(ledger, data_dir, db_url, key_paths,
                                "a statement a customer is billed by")
    if ledger is not None and keys is not None:
        from receipts.reconcile.ledger import preamble
        from receipts.statements.sources import from_ledger

        Ask(tenant, month, tenant_tag, currency)  # refuses bad input before verifying
        reporting = preamble(ledger)[0] if ledger.is_file() else None
        ask = Ask(tenant, month, tenant_tag, currency, reporting or "USD")
        body = build(from_ledger(ledger, keys, ask, workers), ask)
    else:
        from receipts.cli.options import opened_runtime
        from receipts.statements.sources import from_database

        with opened_runtime(data_dir, db_url) as runtime, runtime.db.read() as conn:
            ask = Ask(tenant, month, tenant_tag, currency, runtime.facts.reporting_currency)
            body = build(from_database(conn, ask, f"--data {data_dir or '$RECEIPTS_DATA'}"),
                         ask)
    data = RENDERERS[fmt](body)
    if output is None:
        click.echo(data, nl=False)
    else:
        output.write_bytes(data)
