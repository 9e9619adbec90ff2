"""FOCUS rows (:mod:`receipts.finops.focus`) as CSV or Parquet, streamed in chunks.

CSV: one header row, then the rows; decimals as exact decimal text (12 decimals for money, the
scale of the receipts), times as ``YYYY-MM-DDTHH:MM:SSZ`` (FOCUS's Date/Time format; the
receipt's own ``x_IssuedAt`` keeps its milliseconds), an empty cell for null, ``Tags`` as a
JSON object, and text a spreadsheet would run as a formula defused like every CSV of the
project (:mod:`verifier.csvcell`).

Parquet (the ``parquet`` extra, ``pyarrow``): decimals are ``decimal128(38, scale)`` with the
column's scale, never floats; times are UTC timestamps; ``Tags`` is JSON text. The file's
key-value metadata names the FOCUS version. Rows are written in row groups of
:data:`ROW_GROUP` rows, so memory stays bounded whatever the number of receipts.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from receipts.errors import ExtraMissing
from receipts.finops.focus import (
    COLUMNS,
    DATETIME,
    DECIMAL,
    FOCUS_VERSION,
    INTEGER,
    JSON,
    STRING,
    Column,
    Row,
)
from verifier.csvcell import spreadsheet_safe
from verifier.jsonview import iso_ms
from verifier.money import format_amount, to_decimal

ROW_GROUP = 10_000
CSV_CHUNK_ROWS = 1_000
FORMATS = ("csv", "parquet")
PARQUET_HINT = "Parquet needs the parquet extra: pip install '.[parquet]'"


def _seconds(ms: int) -> str:
    return iso_ms(ms)[:19] + "Z"


def _csv_cell(column: Column) -> Callable[[Any], Any]:
    """How one column's values become CSV text."""
    if column.kind == DECIMAL:
        scale = column.scale
        return lambda v: "" if v is None else format_amount(v, scale)
    if column.kind == DATETIME:
        fmt = iso_ms if column.scale == 3 else _seconds
        return lambda v: "" if v is None else fmt(v)
    if column.kind == INTEGER:
        return lambda v: "" if v is None else str(v)
    return lambda v: "" if v is None else spreadsheet_safe(v)


def csv_chunks(rows: Iterable[Row]) -> Iterator[bytes]:
    """The CSV (header first) as UTF-8 byte chunks of about :data:`CSV_CHUNK_ROWS` rows."""
    cells = [_csv_cell(c) for c in COLUMNS]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([c.name for c in COLUMNS])
    for n, row in enumerate(rows, 1):
        writer.writerow([cell(v) for cell, v in zip(cells, row, strict=True)])
        if n % CSV_CHUNK_ROWS == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def _pyarrow() -> Any:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as e:
        raise ExtraMissing(f"{PARQUET_HINT} ({e})") from e
    return pa, pq


def arrow_schema() -> Any:
    """The Arrow schema of the export (FOCUS data types: decimal, timestamp, string)."""
    pa, _ = _pyarrow()

    def arrow_type(column: Column) -> Any:
        if column.kind == DECIMAL:
            return pa.decimal128(38, column.scale)
        if column.kind == DATETIME:
            return pa.timestamp("ms" if column.scale == 3 else "s", tz="UTC")
        if column.kind == INTEGER:
            return pa.int64()
        assert column.kind in (STRING, JSON)
        return pa.string()

    fields = [pa.field(c.name, arrow_type(c), nullable=c.nullable) for c in COLUMNS]
    return pa.schema(fields, metadata={"FocusVersion": FOCUS_VERSION,
                                       "DataGenerator": "receipts"})


def _arrow_values(column: Column, values: list[Any]) -> list[Any]:
    if column.kind == DECIMAL:
        scale = column.scale
        return [None if v is None else to_decimal(v, scale) for v in values]
    if column.kind == DATETIME and column.scale == 0:
        return [None if v is None else v // 1000 for v in values]
    return values


class _Sink:
    """A write-only file for ``pyarrow``: what it writes is handed on in chunks."""

    closed = False

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.parts.append(chunk)
        self.position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self.position

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        """Nothing buffered here (``take`` hands the bytes on)."""

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def parquet_chunks(rows: Iterable[Row]) -> Iterator[bytes]:
    """The Parquet file as byte chunks, one or more per row group of :data:`ROW_GROUP` rows."""
    pa, pq = _pyarrow()
    schema = arrow_schema()
    sink = _Sink()
    writer = pq.ParquetWriter(sink, schema, compression="zstd")

    def table(batch: list[Row]) -> Any:
        arrays = [pa.array(_arrow_values(c, [r[i] for r in batch]), type=schema.field(i).type)
                  for i, c in enumerate(COLUMNS)]
        return pa.Table.from_arrays(arrays, schema=schema)

    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= ROW_GROUP:
            writer.write_table(table(batch))
            batch = []
            yield sink.take()
    if batch:
        writer.write_table(table(batch))
    writer.close()
    yield sink.take()


WRITERS: dict[str, Callable[[Iterable[Row]], Iterator[bytes]]] = {
    "csv": csv_chunks, "parquet": parquet_chunks}
"""``--format`` name -> writer."""
