"""The verifier's error tree.

One base, :class:`VerifierError`, so the CLI handles every failure in one place. A ledger that is
not valid raises :class:`VerificationFailure` carrying a stable machine ``code`` (the spec lists
them, and each tampering class in the tests maps to exactly one) and the position of the first
offending item. Usage problems (a missing file, an unreadable key) are :class:`UsageError`.
"""

from __future__ import annotations

from dataclasses import dataclass


class VerifierError(Exception):
    """Base of every error the verifier raises on purpose."""


class UsageError(VerifierError):
    """The caller asked for something impossible (missing file, bad key file, bad option)."""


class EncodingError(VerifierError):
    """Bytes that are not well-formed, strictly decodable, deterministic CBOR."""


class TruncatedError(EncodingError):
    """The input ends inside a CBOR item."""


class SchemaError(VerifierError):
    """A well-formed CBOR item whose fields do not follow the spec (names, types, ranges)."""


@dataclass(frozen=True)
class Position:
    """Where in a ledger a failure was found. ``item`` is the 0-based index in the CBOR sequence."""

    item: int
    chain: str | None = None
    seq: int | None = None

    def describe(self) -> str:
        """Human form: ``item 12 (chain c0, seq 9)``."""
        where = f"item {self.item}"
        if self.chain is not None:
            where += f" (chain {self.chain}, seq {self.seq})"
        return where


class VerificationFailure(VerifierError):
    """The ledger is invalid. ``code`` is stable (spec §9); ``reason`` says what was seen."""

    def __init__(self, code: str, reason: str, position: Position | None = None) -> None:
        self.code = code
        self.reason = reason
        self.position = position
        where = f" at {position.describe()}" if position else ""
        super().__init__(f"{code}{where}: {reason}")

    def __reduce__(self) -> tuple[type[VerificationFailure], tuple[str, str, Position | None]]:
        """Pickled with its fields (a worker process returns it to the main process)."""
        return VerificationFailure, (self.code, self.reason, self.position)

    def at(self, position: Position) -> VerificationFailure:
        """The same failure, located (used when a lower layer did not know the position)."""
        return VerificationFailure(self.code, self.reason, position)
