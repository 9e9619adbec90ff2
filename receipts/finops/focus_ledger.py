"""The receipts of a ledger file that the verifier verified, for exports built on them.

The verifier's public API does the verifying (:func:`verifier.verify.audit_ledger`: every
signature, chain link, checkpoint, price and FX conversion); nothing here checks a rule. It is
given the file's bytes through a reader that hashes them, so the digest names exactly the bytes
verified. The receipts are then read from the file a second time, with the verifier's own
decoder, and the second read must hash to the same digest: an export is made only from the
very bytes the verifier found VALID (a file changed in between fails the export, which then
leaves no output behind).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from receipts.errors import LedgerInvalid
from verifier import cose
from verifier.encoding import decode_strict, split_sequence
from verifier.keys import PublicKey
from verifier.verify import LedgerReport, VerifyOptions, audit_ledger, read_chunks


def _hashed(chunks: Iterable[bytes], digest: Any) -> Iterator[bytes]:
    for chunk in chunks:
        digest.update(chunk)
        yield chunk


@dataclass
class VerifiedLedger:
    """A ledger file the verifier found VALID, and the digest of the bytes it verified."""

    path: Path
    report: LedgerReport
    digest: bytes

    @property
    def issuer(self) -> str:
        """The ledger's issuer (its header's), who billed these receipts."""
        assert self.report.issuer is not None
        return self.report.issuer

    def receipts(self) -> Iterator[dict[str, Any]]:
        """Every receipt payload of the ledger in file order; raises :class:`LedgerInvalid`
        at the end if the file no longer holds the bytes that were verified."""
        digest = hashlib.sha256()
        for _, item in split_sequence(_hashed(read_chunks(self.path), digest)):
            env = cose.parse(item)
            if env.content_type == cose.RECEIPT:
                payload: dict[str, Any] = decode_strict(env.payload)
                yield payload
        if digest.digest() != self.digest:
            raise LedgerInvalid(f"{self.path} changed after it was verified; nothing exported")


def verify_ledger_file(path: Path, keys: tuple[PublicKey, ...], workers: int = 0
                       ) -> VerifiedLedger:
    """Verify ``path`` with the verifier, trusting ``keys`` (the ledger's own if empty);
    raises :class:`LedgerInvalid` with the verifier's first failure if it is not VALID."""
    digest = hashlib.sha256()
    report = audit_ledger(_hashed(read_chunks(path), digest),
                          VerifyOptions(trusted_keys=keys, workers=workers))
    if not report.valid:
        raise LedgerInvalid(f"{path} is INVALID, nothing exported: {report.failure}")
    return VerifiedLedger(path, report, digest.digest())
