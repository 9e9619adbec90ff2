"""``receipt verify``, ``receipt rollup`` and ``receipt inspect``: the auditor's commands.

Exit codes (spec §9.4): 0 the ledger is valid, 1 it is not (malformed input included), 2 usage
error (missing file, bad option, unreadable key). Commands return the exit code of a completed
run and raise for anything else: the one error edge (:mod:`verifier.edge`) turns every error
into one line on stderr and its exit code, whatever the bytes of the ledger.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import click

from verifier import cose
from verifier.allocate import allocate
from verifier.allocation_view import RENDERERS as ALLOCATION_RENDERERS
from verifier.checkpoints import read_saved, saved_heads
from verifier.encoding import decode_strict, split_sequence
from verifier.errors import EncodingError, UsageError, VerifierError
from verifier.jsonview import receipt_json
from verifier.keys import PublicKey, load_public_key_pem
from verifier.money import COST_SCALE, format_amount
from verifier.rollup import CURRENCY_MODES, PERIODS, RollupSpec
from verifier.rollup_view import RENDERERS
from verifier.verify import LedgerReport, VerifyOptions, audit_ledger_file, read_chunks

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
PROGRESS_MIN_BYTES = 8 << 20


class _Usage(click.ClickException):
    exit_code = EXIT_USAGE


_key_option = click.option(
    "--key", "key_paths", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
    help="Trust only this public key (PEM); repeatable. Without it the ledger's keys are used.",
)
_workers_option = click.option(
    "--workers", type=click.IntRange(min=0), default=0, show_default=True,
    help="Verification processes (0 = one per core).",
)
_ledger_argument = click.argument("ledger", type=click.Path(dir_okay=False, path_type=Path))


def _load_keys(paths: Iterable[Path]) -> tuple[PublicKey, ...]:
    try:
        return tuple(load_public_key_pem(p) for p in paths)
    except UsageError as e:
        raise _Usage(str(e)) from e


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise _Usage(f"{path}: " + ("not a regular file" if path.exists() else "no such file"))


Since = dict[str, tuple[int, bytes]]
"""What a --since checkpoint file says: chain -> (size, head hash)."""


def _load_since(path: Path) -> tuple[Since, list[bytes]]:
    """Read a checkpoint file saved by ``--save-checkpoint``: its items, for the verification
    to authenticate, and what they state (its form is checked here: a usage error)."""
    _check_file(path)
    try:
        items = [item for _, item in split_sequence(read_chunks(path))]
        saved = read_saved(items)
    except (VerifierError, EncodingError) as e:
        raise _Usage(f"{path} is not a saved checkpoint file: {e}") from e
    if not saved:
        raise _Usage(f"{path} holds no checkpoint")
    return saved_heads(saved), items


def _run(path: Path, options: VerifyOptions) -> LedgerReport:
    """Verify with a progress bar on a terminal for large files."""
    _check_file(path)
    size = path.stat().st_size
    if sys.stderr.isatty() and size >= PROGRESS_MIN_BYTES:
        with click.progressbar(length=size, label="verifying", file=sys.stderr) as bar:
            options.progress = bar.update
            return audit_ledger_file(path, options)
    return audit_ledger_file(path, options)


def _totals_text(amounts: dict[str, int]) -> str:
    return ", ".join(f"{ccy} {format_amount(v, COST_SCALE)}" for ccy, v in sorted(amounts.items()))


def _extension(report: LedgerReport, since: Since) -> tuple[dict[str, tuple[int, int]], list[str]]:
    """What a valid run proved about a --since checkpoint: per chain it holds, the size then and
    now (the ledger extends it: append-only since it was saved); and the ledger's chains it
    does not hold (verified from their first receipt, proving nothing about earlier audits)."""
    extended = {chain: (size, report.chains.get(chain, 0))
                for chain, (size, _) in sorted(since.items())}
    return extended, sorted(set(report.chains) - set(since))


def _report_json(path: Path, report: LedgerReport, since: Since | None = None) -> dict[str, Any]:
    failure = report.failure
    extension = None
    if since is not None and report.valid:
        extended, outside = _extension(report, since)
        extension = {"chains": {c: {"checkpoint_size": then, "size": now}
                                for c, (then, now) in extended.items()},
                     "not_in_checkpoint": outside}
    return {
        "file": str(path),
        "valid": report.valid,
        "issuer": report.issuer,
        "reporting_currency": report.reporting_currency,
        "receipts": report.receipts,
        "verified_in_this_run": report.newly_verified,
        "chains": report.chains,
        "keys_source": "ledger" if report.keys_from_ledger else "--key",
        "keys": [{"kid": k.kid, "fingerprint": k.fingerprint} for k in report.keys],
        "totals": {c: format_amount(v, COST_SCALE) for c, v in sorted(report.totals.items())},
        "totals_reporting": {c: format_amount(v, COST_SCALE)
                             for c, v in sorted(report.totals_reporting.items())},
        "unpriced_receipts": report.unpriced,
        "extends_since": extension,
        "failure": None if failure is None else {
            "code": failure.code, "reason": failure.reason,
            "item": failure.position.item if failure.position else None,
            "chain": failure.position.chain if failure.position else None,
            "seq": failure.position.seq if failure.position else None,
        },
    }


def _print_extension(report: LedgerReport, since: Since) -> None:
    extended, outside = _extension(report, since)
    grown = ", ".join(f"{c} {then} -> {now}" for c, (then, now) in extended.items())
    click.echo(f"  extends the --since checkpoint (append-only since it was saved): {grown}")
    if outside:
        click.echo(f"  chains not in that checkpoint (verified from seq 0): {', '.join(outside)}")


def _print_report(path: Path, report: LedgerReport, since: Since | None = None) -> None:
    click.echo(f"{path}: {'VALID' if report.valid else 'INVALID'}")
    if report.failure is not None:
        click.echo(f"  first failure: {report.failure}")
    if report.issuer:
        click.echo(f"  issuer: {report.issuer}; reporting currency: {report.reporting_currency}")
    if report.valid:
        chains = ", ".join(f"{c}: {n}" for c, n in report.chains.items())
        click.echo(f"  receipts: {report.receipts} in {len(report.chains)} chain(s) ({chains}); "
                   f"{report.newly_verified} fully verified in this run")
        click.echo(f"  totals: {_totals_text(report.totals) or 'none'}")
        reporting = _totals_text(report.totals_reporting) or "none"
        click.echo(f"  totals in reporting currency: {reporting}")
        click.echo(f"  unpriced receipts: {report.unpriced}")
        if since is not None:
            _print_extension(report, since)
    if report.keys:
        source = ("keys listed in the ledger itself (pin them with --key to be sure they are "
                  "the issuer's)" if report.keys_from_ledger else "keys given with --key")
        click.echo(f"  trusted {source}:")
        for key in report.keys:
            click.echo(f"    kid {key.kid}  {key.fingerprint}")


@click.command()
@_ledger_argument
@_key_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--since", "since_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Checkpoint file from an earlier audit: prove this ledger extends it.")
@click.option("--save-checkpoint", "save_path", type=click.Path(dir_okay=False, path_type=Path),
              help="After a successful run, save the ledger's checkpoints here.")
@_workers_option
def verify(ledger: Path, key_paths: tuple[Path, ...], as_json: bool, since_path: Path | None,
           save_path: Path | None, workers: int) -> int:
    """Check every signature, chain link, checkpoint, price and FX conversion of LEDGER."""

    keys = _load_keys(key_paths)
    since, since_items = _load_since(since_path) if since_path else (None, [])
    report = _run(ledger, VerifyOptions(trusted_keys=keys, since=since_items, workers=workers))
    if as_json:
        click.echo(json.dumps(_report_json(ledger, report, since), indent=2))
    else:
        _print_report(ledger, report, since)
    if report.valid and save_path is not None:
        save_path.write_bytes(b"".join(report.checkpoints))
        if not as_json:
            click.echo(f"  checkpoint saved to {save_path}")
    return EXIT_VALID if report.valid else EXIT_INVALID


@click.command()
@_ledger_argument
@_key_option
@click.option("--by", "by", multiple=True,
              help="Tag to group by (team, project, cost_center...; also provider, model, "
                   "agent); repeatable; required unless --with-allocations.")
@click.option("--period", type=click.Choice(PERIODS), help="Also group by UTC day or month.")
@click.option("--currency", type=click.Choice(CURRENCY_MODES),
              help="Price currency (default: native), or the receipts' reporting currency.")
@click.option("--with-allocations", is_flag=True,
              help="Apply the ledger's allocation sets: per month and group, the receipts' "
                   "cost, each rule's line and the total (spec §8.1).")
@click.option("--month", metavar="YYYY-MM",
              help="With --with-allocations: only this UTC month's rows (spec §8.1).")
@click.option("--format", "fmt", type=click.Choice(("table", "csv", "json")), default="table",
              show_default=True)
@click.option("--exclude-retries", is_flag=True,
              help="Leave out receipts that retry an earlier call (they carry retry_of).")
@click.option("--no-verify", is_flag=True, help="Roll up even if the ledger does not verify.")
@_workers_option
def rollup(ledger: Path, key_paths: tuple[Path, ...], by: tuple[str, ...], period: str | None,
           currency: str | None, with_allocations: bool, month: str | None, fmt: str,
           exclude_retries: bool, no_verify: bool, workers: int) -> int:
    """Recompute totals per group of tags from LEDGER's receipts (verifies first)."""

    if with_allocations and (by or period or currency):
        raise click.UsageError("--with-allocations groups as the allocation sets say: "
                               "--by, --period and --currency cannot be given with it")
    if not with_allocations and not by:
        raise click.UsageError("Missing option '--by' (or --with-allocations).")
    if month is not None and (not with_allocations or not _is_month(month)):
        raise click.UsageError("--month YYYY-MM (a calendar month) goes with "
                               "--with-allocations")
    spec = RollupSpec(tuple(by), period, currency or "native", exclude_retries,
                      with_allocations)
    report = _run(ledger, VerifyOptions(trusted_keys=_load_keys(key_paths), rollup=spec,
                                        workers=workers))
    if not report.valid and not no_verify:
        click.echo(f"error: {ledger} is INVALID, refusing to roll up (use --no-verify): "
                   f"{report.failure}", err=True)
        return EXIT_INVALID
    if not report.valid:
        click.echo(f"warning: {ledger} is INVALID ({report.failure}); totals cover only "
                   "the receipts before the failure", err=True)
    assert report.rollup is not None
    if with_allocations:
        if not report.allocation_sets:
            click.echo(f"error: {ledger} holds no allocation set (the service records them "
                       "with `receipt allocations set`)", err=True)
            return EXIT_INVALID if not report.valid else EXIT_USAGE
        rows = [r for r in allocate(report.rollup, report.allocation_sets)
                if month is None or r.period == month]
        click.echo(ALLOCATION_RENDERERS[fmt](rows))
    else:
        click.echo(RENDERERS[fmt](report.rollup))
    return EXIT_VALID if report.valid else EXIT_INVALID


def _is_month(text: str) -> bool:
    return (len(text) == 7 and text.isascii() and text[4] == "-" and text[:4].isdigit()
            and text[5:] in {f"{m:02d}" for m in range(1, 13)})


def _receipts(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for index, (_, item) in enumerate(split_sequence(read_chunks(path))):
        env = cose.parse(item)
        if env.content_type == cose.RECEIPT:
            yield index, decode_strict(env.payload)


@click.command()
@_ledger_argument
@click.option("--seq", type=click.IntRange(min=0), help="Only the receipt with this seq.")
@click.option("--chain", help="Only receipts of this chain.")
def inspect(ledger: Path, seq: int | None, chain: str | None) -> int:
    """Print LEDGER's receipts as JSON (a list, one receipt per line). Does not verify."""

    _check_file(ledger)
    first = True
    click.echo("[")
    for _, payload in _receipts(ledger):
        if (chain is not None and payload.get("chain") != chain) or (
            seq is not None and payload.get("seq") != seq
        ):
            continue
        text = json.dumps(receipt_json(payload), sort_keys=True)
        click.echo(("" if first else ",\n") + text, nl=False)
        first = False
    click.echo("\n]")
    return EXIT_VALID


COMMANDS: tuple[click.Command, ...] = (verify, rollup, inspect)
"""The auditor's commands; ``receipts.cli.main`` puts them in the ``receipt`` group."""
