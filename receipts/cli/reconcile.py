"""``receipt reconcile (LEDGER --key PUB | --data DIR) --invoice FILE...``: ledger vs bill.

The ledger is verified first (against the pinned key; with ``--data`` the deployment's ledger
is exported and verified with its own key), then compared with the invoices per provider, model
and UTC day or month, differences classified, each team charged its share, and the chargeback
bar applied. Exit 0 bar met, 1 not met, 2 unreadable input (one line on stderr naming the file
and the line or field: ``receipts.errors.UnreadableInvoice`` through the one CLI edge).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path

import click

from receipts.cli.options import data_option, db_option
from receipts.errors import UnreadableInvoice

EXIT_MET, EXIT_NOT_MET = 0, 1


def _percent(text: str, name: str) -> Decimal:
    try:
        value = Decimal(text.removesuffix("%"))
    except InvalidOperation as e:
        raise UnreadableInvoice(f"{name}: {text!r} is not a number") from e
    if not value.is_finite() or not 0 <= value <= 100:
        raise UnreadableInvoice(f"{name}: {text!r} must be a percentage from 0 to 100")
    return value


@click.command()
@click.argument("ledger", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--key", "key_paths", multiple=True, type=click.Path(dir_okay=False,
              path_type=Path), help="The issuer's public key (PEM) LEDGER must verify with.")
@data_option
@db_option
@click.option("--invoice", "invoices", multiple=True, required=True, metavar="FILE",
              help="OpenAI Costs API page(s), Anthropic cost report, or CSV with --map "
                   "(repeat).")
@click.option("--by", "period", type=click.Choice(("day", "month")), default="day",
              show_default=True, help="Compare per UTC day or month.")
@click.option("--attributable-min", default="95", show_default=True,
              help="Percent of ledger spend that must carry the required tags.")
@click.option("--variance-max", default="2", show_default=True,
              help="Largest |variance| allowed, in percent of the invoice.")
@click.option("--require", "require", default="team", show_default=True,
              help="Tags a receipt must carry to be attributable (comma-separated).")
@click.option("--map", "mapping", multiple=True, metavar="COLUMN=FIELD",
              help="CSV invoice columns (fields: date, provider, model, amount, currency, "
                   "token_type, service_tier).")
@click.option("--format", "fmt", type=click.Choice(("table", "csv", "json")), default="table",
              show_default=True)
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True,
              help="Verification processes (0 = one per core).")
def reconcile(ledger: Path | None, key_paths: tuple[Path, ...], data_dir: Path | None,
              db_url: str | None, invoices: tuple[str, ...], period: str,
              attributable_min: str, variance_max: str, require: str,
              mapping: tuple[str, ...], fmt: str, workers: int) -> int:
    """Reconcile a verified ledger with provider invoices; apply the chargeback bar.

    Exit 0 bar met, 1 not met, 2 unreadable input.
    """
    from receipts.reconcile.invoices import one_currency, parse_map, read_invoices
    from receipts.reconcile.ledger import exported_ledger, load_keys, load_ledger
    from receipts.reconcile.report import RENDERERS
    from receipts.reconcile.summary import reconcile as run
    from receipts.reconcile.teams import Bar

    if (ledger is None) == (data_dir is None and db_url is None):
        raise UnreadableInvoice("give either LEDGER with --key, or --data DIR (not both)")
    if ledger is not None and not key_paths:
        raise UnreadableInvoice(f"{ledger}: --key PUB is required: a reconciliation finance "
                                "signs off on trusts only the issuer's pinned key")
    bar = Bar(_percent(attributable_min, "--attributable-min"),
              _percent(variance_max, "--variance-max"))
    required = tuple(dict.fromkeys(t.strip() for t in require.split(",") if t.strip()))
    lines = read_invoices(invoices, parse_map(mapping))
    currency = one_currency(lines)
    if ledger is not None:
        side = load_ledger(ledger, load_keys(key_paths), currency, period, required, workers)
    else:
        with exported_ledger(data_dir, db_url) as (path, keys):
            side = load_ledger(path, keys, currency, period, required, workers)
            side.source = f"--data {data_dir or '$RECEIPTS_DATA'}"
    result = run(side, lines, invoices, period, required, bar)
    click.echo(RENDERERS[fmt](result), nl=False)
    return EXIT_MET if result.met else EXIT_NOT_MET
