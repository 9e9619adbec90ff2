"""Price book files: the deterministic payload bytes, named by their own SHA-256.

A book file is exactly the bytes that are hashed, signed and included in ledgers, so anyone can
check a file with ``sha256sum``. Reading refuses a file whose name claims another hash.
"""

from __future__ import annotations

import re
from pathlib import Path

from receipts.errors import PriceBookFileError
from verifier.encoding import decode_strict
from verifier.errors import VerifierError
from verifier.pricing import PriceBook, book_id

_HASH_NAME = re.compile(r"^[0-9a-f]{64}$")
SUFFIX = ".cbor"


def book_path(out_dir: Path, payload_bytes: bytes) -> Path:
    """``DIR/<sha256 hex>.cbor`` for a book payload."""
    return out_dir / (book_id(payload_bytes).hex() + SUFFIX)


def write_book(out_dir: Path, payload_bytes: bytes) -> Path:
    """Write a book file atomically (same content, same name: writing twice is harmless)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = book_path(out_dir, payload_bytes)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(payload_bytes)
    tmp.replace(path)
    return path


def read_book(path: Path) -> PriceBook:
    """Load and check a book file (strict deterministic CBOR, the format's book rules)."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise PriceBookFileError(f"{path}: {e.strerror}") from e
    try:
        book = PriceBook.from_payload(decode_strict(data), data)
    except VerifierError as e:
        raise PriceBookFileError(f"{path}: not a valid price book: {e}") from e
    stem = path.name.removesuffix(SUFFIX)
    if _HASH_NAME.match(stem) and stem != book.id.hex():
        raise PriceBookFileError(f"{path}: named {stem} but its content hashes to "
                                 f"{book.id.hex()}")
    return book
