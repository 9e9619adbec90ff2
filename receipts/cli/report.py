"""``receipt report --month YYYY-MM (--ledger FILE --key PUB | --data DIR)``: the monthly
spend report as HTML, PDF, CSV or JSON.

From a ledger the report verifies it first against the pinned key, and every number is
recomputed from the verified receipts; from a deployment it reads the spend API (the same
numbers) and adds the month's budgets and alerts. ``--invoice`` reconciles the month with
the provider invoices (as ``receipt reconcile`` does) so the chargeback bar's variance
criterion is checked too; the bar's thresholds are ``--chargeback-attributable`` and
``--chargeback-variance``.
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
from receipts.errors import FieldProblem, Invalid


def _required(text: str) -> tuple[str, ...]:
    tags = tuple(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))
    if not tags:
        raise Invalid("--require names no tag", [FieldProblem("require", "empty")])
    return tags


@click.command()
@click.option("--month", required=True, metavar="YYYY-MM", help="The UTC calendar month.")
@ledger_option
@key_option
@data_option
@db_option
@click.option("--format", "fmt", type=click.Choice(("html", "pdf", "csv", "json")),
              default="html", show_default=True)
@click.option("--require", "require", default="team", show_default=True,
              help="Tags spend must carry to count as attributed (comma-separated).")
@click.option("--chargeback-attributable", "attributable_min", default="95", show_default=True,
              metavar="PERCENT", help="Chargeback bar: least share of a team's spend that "
              "carries the required tags.")
@click.option("--chargeback-variance", "variance_max", default="2", show_default=True,
              metavar="PERCENT", help="Chargeback bar: largest |variance| against the "
              "invoices, in percent of what they charge the team (with --invoice).")
@click.option("--invoice", "invoices", multiple=True, metavar="FILE",
              help="Invoice(s) to reconcile the month with, as receipt reconcile reads them "
                   "(repeat).")
@click.option("--map", "mapping", multiple=True, metavar="COLUMN=FIELD",
              help="CSV invoice columns, as for receipt reconcile.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to FILE [default: standard output].")
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True,
              help="Verification processes (0 = one per core).")
def report(month: str, ledger: Path | None, key_paths: tuple[Path, ...],
           data_dir: Path | None, db_url: str | None, fmt: str, require: str,
           attributable_min: str, variance_max: str, invoices: tuple[str, ...],
           mapping: tuple[str, ...], output: Path | None, workers: int) -> None:
    """The monthly spend report: summary, cost centers, teams and projects, anomalies,
    forecast, unallocated spend, attribution confidence, and each team showback or
    chargeback-ready."""
    from receipts.reconcile.bar import Bar, threshold
    from receipts.reconcile.invoices import parse_map
    from receipts.report.render import RENDERERS
    from receipts.report.sources import Invoices

    required = _required(require)
    bar = Bar(threshold(attributable_min, "--chargeback-attributable"),
              threshold(variance_max, "--chargeback-variance"))
    bills = Invoices(invoices, parse_map(mapping)) if invoices else None
    keys = ledger_or_deployment(ledger, data_dir, db_url, key_paths, "a report for finance")
    if ledger is not None and keys is not None:
        from receipts.report.sources import ledger_report

        body = ledger_report(ledger, keys, month, required, workers, bar, bills)
    else:
        from receipts.cli.options import opened_runtime
        from receipts.report.sources import database_report, exported_reconciled

        reconciled = exported_reconciled(data_dir, db_url, month, required, bar, bills,
                                         workers)
        with opened_runtime(data_dir, db_url) as runtime, runtime.db.read() as conn:
            body = database_report(conn, month, required, runtime.facts.reporting_currency,
                                   None, f"--data {data_dir or '$RECEIPTS_DATA'}", bar,
                                   reconciled)
    data = RENDERERS[fmt](body)
    if output is None:
        click.echo(data, nl=False)
    else:
        output.write_bytes(data)
