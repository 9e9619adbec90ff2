"""``receipt prices``: make, inspect and compare price books.

* ``update`` snapshots the installed ``genai-prices`` data (plus an optional overrides file)
  into a new book and writes its exact payload bytes to ``OUT/<sha256>.cbor``; the hash alone
  goes to stdout (``BOOK=$(receipt prices update --out books)``), the report to stderr. With
  ``--data``/``--db`` the book is signed with the service key and stored in the service
  database instead (running services price with it from its ``effective_from`` on).
* ``show MODEL`` resolves a model name as the service would and prints its prices.
* ``diff OLD NEW`` lists models added, removed and repriced between two book files.

``genai-prices`` is part of the ``server`` extra, so it is imported only when a command needs
it: ``receipt`` keeps working on a base install.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from receipts.cli.options import data_option, db_option
from receipts.errors import ExtraMissing
from receipts.pricing.display import iso_seconds
from verifier.pricing import PriceBook

_ISO_HELP = "ISO 8601 instant, UTC if no offset (default: now)"


@click.group()
def prices() -> None:
    """Price books: snapshot genai-prices data, show a model's prices, diff two books."""


def _instant(text: str | None) -> dt.datetime:
    if text is None:
        return dt.datetime.now(dt.UTC).replace(microsecond=0)
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as e:
        raise click.BadParameter(f"{text!r} is not an ISO 8601 date or time") from e
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


def _iso(ms: int) -> str:
    return iso_seconds(ms)


@prices.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Directory for the book file (named <sha256>.cbor); required unless the "
                   "book is stored with --data/--db.")
@click.option("--overrides", "overrides_path", type=click.Path(exists=True, dir_okay=False,
              path_type=Path), help="Operator overrides TOML merged into the book.")
@click.option("--at", "at_text", help=f"Instant the book takes effect: {_ISO_HELP}.")
@click.option("--strict", is_flag=True, help="Fail on any price not exact at 10^-6 per 1M "
              "units instead of leaving it out.")
@click.option("--no-genai", is_flag=True, help="Build from the overrides file only.")
@click.option("--currency", default="USD", show_default=True,
              help="Book currency (other than USD only with --no-genai).")
@click.option("--through", "through_text", help="Also write a book for every date up to this "
              "one on which the data changes a price (one hash per line, in order).")
@click.option("--verbose", is_flag=True, help="List every refused price.")
@data_option
@db_option
def update(out_dir: Path | None, overrides_path: Path | None, at_text: str | None, strict: bool,
           no_genai: bool, currency: str, through_text: str | None, verbose: bool,
           data_dir: Path | None, db_url: str | None) -> None:
    """Snapshot genai-prices (+ overrides) into a new book; print its hash.

    With --data/--db the book is signed and stored in the service database, in force from
    --at (default: now; it never reprices a stored receipt), else written to --out.
    """
    from receipts.pricing.book_files import write_book
    from receipts.pricing.book_update import make_book, make_books
    from receipts.pricing.display import built_lines
    from receipts.pricing.overrides import load_overrides

    at = _instant(at_text)
    if through_text is not None and no_genai:
        raise click.BadParameter("--through follows genai-prices' price changes; not with "
                                 "--no-genai")
    if data_dir is not None or db_url is not None:
        if through_text is not None:
            raise click.BadParameter("--through writes book files; store one book at a time "
                                     "with --data/--db")
        _update_service(data_dir, db_url, out_dir, overrides_path,
                        at if at_text is not None else None,
                        use_genai=not no_genai, currency=currency, strict=strict,
                        verbose=verbose)
        return
    if out_dir is None:
        raise click.UsageError("give --out DIR for a book file, or --data/--db to store the "
                               "book in the service database")
    try:
        overrides = load_overrides(overrides_path) if overrides_path else None
        now = dt.datetime.now(dt.UTC)
        if through_text is not None:
            books = make_books(at, _instant(through_text), overrides=overrides,
                               created_at=now, strict=strict)
        else:
            books = [make_book(at, overrides=overrides, use_genai=not no_genai,
                               currency=currency, created_at=now, strict=strict)]
        paths = [write_book(out_dir, built.payload_bytes) for built in books]
    except ImportError as e:
        raise ExtraMissing(f"genai-prices is not installed ({e}); install "
                           "'receipts[server]' or use --no-genai") from e
    for built, path in zip(books, paths, strict=True):
        _stderr(f"written:   {path} ({len(built.payload_bytes):,} bytes)")
        for line in built_lines(built, verbose=verbose and built is books[0]):
            _stderr(line)
    for built in books:
        click.echo(built.id_hex)


def _update_service(data_dir: Path | None, db_url: str | None, out_dir: Path | None,
                    overrides_path: Path | None, at: dt.datetime | None, *, use_genai: bool,
                    currency: str, strict: bool, verbose: bool) -> None:
    """``prices update --data/--db``: build, sign with the service key, store; the stored
    book's hash on stdout (its ``effective_from`` may be later than ``at`` asked for none and
    receipts were issued while it was built: see ``deployment.runtime.store_price_book``)."""
    from typing import Any

    from receipts.cli.options import with_runtime
    from receipts.pricing.book_files import write_book
    from receipts.pricing.book_update import BuiltBook, make_book
    from receipts.pricing.display import built_lines
    from receipts.pricing.overrides import load_overrides

    overrides = load_overrides(overrides_path) if overrides_path else None

    def build(when: dt.datetime) -> BuiltBook:
        try:
            return make_book(when, overrides=overrides, use_genai=use_genai, currency=currency,
                             created_at=dt.datetime.now(dt.UTC), strict=strict)
        except ImportError as e:
            raise ExtraMissing(f"genai-prices is not installed ({e}); install "
                               "'receipts[server]' or use --no-genai") from e

    def action(runtime: Any) -> BuiltBook:
        from receipts.deployment.runtime import store_price_book

        return store_price_book(runtime, build, at)

    built = with_runtime(data_dir, db_url, action)
    _stderr(f"stored:    price book {built.id_hex} ({len(built.payload_bytes):,} bytes), "
            f"signed, in force from {_iso(built.book.effective_from)}; earlier receipts keep "
            "their book")
    if out_dir is not None:
        _stderr(f"written:   {write_book(out_dir, built.payload_bytes)}")
    for line in built_lines(built, verbose=verbose):
        _stderr(line)
    click.echo(built.id_hex)


@prices.command()
@click.argument("model")
@click.option("--provider", default="", help="Provider as the agent sends it (else inferred).")
@click.option("--book", "book_path", type=click.Path(exists=True, dir_okay=False,
              path_type=Path), help="A book file (default: snapshot genai-prices now).")
@click.option("--at", "at_text", help=f"Snapshot instant without --book: {_ISO_HELP}.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(model: str, provider: str, book_path: Path | None, at_text: str | None,
         as_json: bool) -> int:
    """Resolve MODEL as the service would and print its prices."""
    from receipts.pricing.display import entry_json, entry_lines
    from receipts.pricing.model_names import ModelNames

    book = _load(book_path, at_text)
    name = ModelNames(book).resolve(provider, model)
    entry = book.entries.get((name.provider, name.model)) if name.resolved else None
    if as_json:
        click.echo(json.dumps({"requested": model, "provider": name.provider,
                               "model": name.model, "resolved": name.resolved, "how": name.how,
                               "book": book.id.hex(), "currency": book.currency,
                               "entry": entry_json(entry) if entry else None}, indent=2))
    elif entry is None:
        click.echo(f"{model}: {name.how}; calls get a receipt with cost null "
                   "(pricing_status unknown_model)")
    else:
        click.echo(f"{name.provider}/{name.model}  (requested {model!r}: {name.how})")
        click.echo(f"book     {book.id.hex()}  {book.currency}, effective "
                   f"{_iso(book.effective_from)}")
        click.echo(f"source   {entry.get('source', book.payload['source'])}")
        for line in entry_lines(entry):
            click.echo(line)
    if entry is None:
        return 1
    return 0


@prices.command()
@click.argument("old", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def diff(old: Path, new: Path, as_json: bool) -> None:
    """Models added, removed and repriced from book OLD to book NEW."""
    from receipts.pricing.book_files import read_book
    from receipts.pricing.display import diff_books

    result = diff_books(read_book(old), read_book(new))
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    for side in ("old", "new"):
        info = result[side]
        click.echo(f"{side}: {info['id']}  {info['currency']}, effective "
                   f"{_iso(info['effective_from'])}  ({info['source']})")
    for key in result["added"]:
        click.echo(f"+ {key}")
    for key in result["removed"]:
        click.echo(f"- {key}")
    for item in result["changed"]:
        click.echo(f"~ {item['provider']}/{item['model']}")
        for change in item["changes"]:
            click.echo(f"    {change}")
    click.echo(f"{len(result['added'])} added, {len(result['removed'])} removed, "
               f"{len(result['changed'])} changed, {result['unchanged']} unchanged")


def _load(book_path: Path | None, at_text: str | None) -> PriceBook:
    from receipts.pricing.book_files import read_book
    from receipts.pricing.book_update import make_book

    try:
        if book_path is not None:
            return read_book(book_path)
        return make_book(_instant(at_text)).book
    except ImportError as e:
        raise ExtraMissing(f"genai-prices is not installed ({e}); pass --book") from e


def _stderr(text: str) -> None:
    click.echo(text, err=True)
