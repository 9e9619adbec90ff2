"""``receipt focus LEDGER --key PUB -o FILE``: a verified ledger as a FOCUS 1.2 cost file.

Base install plus the verifier (CSV); Parquet needs the ``parquet`` extra. The ledger is
verified first, against the pinned key, and the file is made only from the receipts verified
(:mod:`receipts.finops.focus_ledger`); it is written beside ``FILE`` and moved into place once
complete, so a failure never leaves half an export.
"""

from __future__ import annotations

from pathlib import Path

import click

from verifier.keys import load_public_key_pem
from verifier.money import COST_SCALE, format_amount


@click.command()
@click.argument("ledger", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", "key_paths", multiple=True, required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The issuer's public key (PEM) to verify against; repeatable.")
@click.option("-o", "--output", "output", required=True,
              type=click.Path(dir_okay=False, path_type=Path), help="The file to write.")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default=None,
              help="csv or parquet (default: from the file's suffix, else csv).")
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True,
              help="Verification processes (0 = one per core).")
def focus(ledger: Path, key_paths: tuple[Path, ...], output: Path, fmt: str | None,
          workers: int) -> int:
    """Export LEDGER's verified receipts as FOCUS 1.2 rows (one per receipt and usage
    category), CSV or Parquet. Receipts without a cost are left out and counted."""
    from receipts.finops.focus import FOCUS_VERSION, FocusRows
    from receipts.finops.focus_files import WRITERS
    from receipts.finops.focus_ledger import verify_ledger_file

    fmt = fmt or ("parquet" if output.suffix.lower() == ".parquet" else "csv")
    writer = WRITERS[fmt]
    if fmt == "parquet":
        from receipts.finops.focus_files import arrow_schema

        arrow_schema()  # the extra is missing: say so before verifying
    keys = tuple(load_public_key_pem(p) for p in key_paths)
    verified = verify_ledger_file(ledger, keys, workers)
    rows = FocusRows(verified.issuer)
    partial = output.with_name(f".{output.name}.partial")
    try:
        with partial.open("wb") as out:
            for chunk in writer(r for p in verified.receipts() for r in rows.of(p)):
                out.write(chunk)
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    totals = ", ".join(f"{c} {format_amount(v, COST_SCALE)}" for c, v in sorted(
        rows.totals.items())) or "none"
    click.echo(f"{ledger}: VALID; {rows.receipts} receipts -> {rows.rows} FOCUS {FOCUS_VERSION} "
               f"rows in {output} ({fmt}); BilledCost totals: {totals}")
    if rows.unpriced:
        click.echo(f"note: {rows.unpriced} unpriced receipt(s) left out (FOCUS costs cannot be "
                   "null; `receipt rollup --by pricing_status` counts them)", err=True)
    return 0
