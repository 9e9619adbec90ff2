"""Standalone, offline verifier for receipts ledgers: the format core of the project.

It imports only ``cbor2``, ``cbrrr``, ``pynacl``, ``cryptography`` and ``click``, never the
``receipts`` service, so an auditor needs to trust only this small package. Typical use::

    from verifier import VerifyOptions, audit_ledger_file
    report = audit_ledger_file("ledger.cbor", VerifyOptions())
    print("VALID" if report.valid else report.failure)

(``audit_ledger(chunks)`` takes any iterable of byte chunks, e.g. a download.)
"""

from verifier.errors import VerificationFailure, VerifierError
from verifier.verify import (
    LedgerReport,
    VerifyOptions,
    audit_ledger,
    audit_ledger_file,
    read_chunks,
    verify_ledger,
)

__all__ = [
    "LedgerReport",
    "VerificationFailure",
    "VerifierError",
    "VerifyOptions",
    "audit_ledger",
    "audit_ledger_file",
    "read_chunks",
    "verify_ledger",
]
