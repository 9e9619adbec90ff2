"""``receipt audit FILE... | -``: grouped spend and warnings for any usage log, offline.

No service, no database, nothing signed: the base install reads every format; prices come from
``--book FILE`` (a price book file, ``receipt prices update --out``), else a snapshot of
``genai-prices`` at ``--at`` (the ``audit`` extra, also part of ``server``), else the small
book built into the package (a note on stderr says so). Exit 0 attribution-ready, 1 not ready,
2 unreadable input (``receipts.errors.UnreadableLog``, through the one CLI edge).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from pathlib import Path

import click

from verifier.pricing import PriceBook

EXIT_READY, EXIT_NOT_READY = 0, 1


def _fraction(text: str, name: str) -> Decimal:
    """``0.01`` or ``1%`` as a fraction."""
    try:
        value = Decimal(text[:-1]) / 100 if text.endswith("%") else Decimal(text)
    except InvalidOperation as e:
        raise click.BadParameter(f"{text!r} is not a number or a percentage",
                                 param_hint=name) from e
    if not value.is_finite() or value < 0:
        raise click.BadParameter(f"{text!r} must be a non-negative number", param_hint=name)
    return value


def load_book(book_path: Path | None, at_text: str | None) -> tuple[PriceBook, str]:
    """The book to price with, and where it came from."""
    from receipts.pricing.book_files import read_book
    from receipts.pricing.books import shipped_price_book

    if book_path is not None:
        return read_book(book_path), str(book_path)
    when = dt.datetime.now(dt.UTC) if at_text is None else dt.datetime.fromisoformat(
        at_text.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    try:
        from receipts.pricing.book_update import make_book

        return make_book(when).book, f"genai-prices at {when.isoformat()}"
    except ImportError:
        return shipped_price_book()[1], "built-in list prices (pip install '.[audit]' for " \
                                        "genai-prices)"


@click.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--by", "by", multiple=True, help="Tag to group spend by (repeat; default team).")
@click.option("--require", "require", default="team,project", show_default=True,
              help="Tags every call must carry to count as attributable (comma-separated).")
@click.option("--tolerance", default="0.01", show_default=True,
              help="Logged cost vs price book: largest difference not reported, as a fraction "
                   "of the book's cost (0.01) or a percentage (1%).")
@click.option("--min-share", default="95", show_default=True,
              help="Attributable share of spend (percent) needed to be attribution-ready.")
@click.option("--map", "mapping", multiple=True, metavar="COLUMN=FIELD",
              help="Read a CSV through a column map (fields: request_id, timestamp, provider, "
                   "model, service_tier, cost, input_tokens, output_tokens, cache_read_tokens, "
                   "cache_write_tokens, cache_write_1h_tokens, reasoning_tokens, "
                   "web_search_requests, tag:NAME).")
@click.option("--book", "book_path", type=click.Path(exists=True, dir_okay=False,
              path_type=Path), help="Price book file (default: genai-prices snapshot).")
@click.option("--at", "at_text", help="Instant of the genai-prices snapshot (default now).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True)
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True,
              help="Processes reading JSON lines (0 = one per core, 1 = this one only).")
def audit(files: tuple[str, ...], by: tuple[str, ...], require: str, tolerance: str,
          min_share: str, mapping: tuple[str, ...], book_path: Path | None,
          at_text: str | None, fmt: str, workers: int) -> int:
    """Audit usage logs (FILE or - for stdin): spend per group, warnings, a verdict.

    Exit 0 attribution-ready, 1 not ready, 2 unreadable input (file:line and why).
    """
    from receipts.audit.analysis import Audit
    from receipts.audit.parallel import run_audit
    from receipts.audit.report import render
    from receipts.logs.tabular import parse_map

    columns = parse_map(mapping)
    book, source = load_book(book_path, at_text)
    if book_path is None and source.startswith("built-in"):
        click.echo(f"note: pricing with {source}", err=True)
    required = tuple(t.strip() for t in require.split(",") if t.strip())
    auditor = Audit(book, by=by or ("team",), require=required,
                    tolerance=_fraction(tolerance, "--tolerance"),
                    min_share=_fraction(min_share.removesuffix("%"), "--min-share"))
    result = run_audit(auditor, files, columns, workers).result()
    click.echo(render(result, fmt, book.currency, book.id.hex()), nl=False)
    return EXIT_READY if result.ready else EXIT_NOT_READY
