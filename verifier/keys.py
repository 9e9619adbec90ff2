"""Ed25519 public keys: strict loading, key ids, fingerprints and signature checks.

One rule set, libsodium's, pinned for the service and the verifier alike (spec §4): a public key
must be a canonical encoding of a point of the prime-order subgroup, not of small order (checked
when the key is loaded), and a signature must have S < L and a canonical, non-small-order R
(checked by ``crypto_sign_open``). OpenSSL, behind ``cryptography``, accepts more of these edge
cases, so it is used only to read PEM files, never to decide whether a signature is valid.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import nacl.bindings
import nacl.exceptions

from verifier.errors import UsageError, VerificationFailure

KID_BYTES = 16


def key_id(public_key: bytes) -> bytes:
    """Key id of a raw 32-byte Ed25519 public key: the first 16 bytes of its SHA-256 (spec §4.2)."""
    return hashlib.sha256(public_key).digest()[:KID_BYTES]


def fingerprint(public_key: bytes) -> str:
    """Full SHA-256 of the raw public key, hex, for people to compare out of band."""
    return "SHA256:" + hashlib.sha256(public_key).hexdigest()


def check_public_key(public_key: bytes) -> None:
    """Refuse a key that is not 32 bytes, not canonical, not on the curve, or of small order."""
    if len(public_key) != 32:
        raise VerificationFailure("bad_key", "an Ed25519 public key is 32 bytes")
    if not nacl.bindings.crypto_core_ed25519_is_valid_point(public_key):
        raise VerificationFailure(
            "bad_key", "public key is not a canonical point of the prime-order subgroup"
        )


@dataclass(frozen=True)
class PublicKey:
    """A strictly loaded Ed25519 public key with the validity window the ledger states for it.

    ``valid_from`` / ``valid_until`` are milliseconds since the Unix epoch; ``None`` means open.
    """

    raw: bytes
    valid_from: int | None = None
    valid_until: int | None = None

    def __post_init__(self) -> None:
        check_public_key(self.raw)

    @property
    def kid(self) -> bytes:
        """The key id receipts name in their protected header."""
        return key_id(self.raw)

    @property
    def fingerprint(self) -> str:
        """SHA-256 fingerprint, as printed by ``receipt verify``."""
        return fingerprint(self.raw)

    def valid_at(self, when_ms: int) -> bool:
        """True when ``when_ms`` lies in ``[valid_from, valid_until)``."""
        if self.valid_from is not None and when_ms < self.valid_from:
            return False
        return not (self.valid_until is not None and when_ms >= self.valid_until)

    def verify(self, signature: bytes, message: bytes) -> bool:
        """Strict Ed25519 verification (libsodium rules: S < L, R not small order)."""
        if len(signature) != 64:
            return False
        try:
            nacl.bindings.crypto_sign_open(signature + message, self.raw)
        except (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError, ValueError):
            return False
        return True


def load_public_key_pem(path: Path) -> PublicKey:
    """Read a PEM (SubjectPublicKeyInfo) Ed25519 public key file, strictly."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read key file {path}: {e.strerror}") from e
    # imported here: loading OpenSSL's bindings costs ~40 ms, a third of `receipt verify`'s
    # start-up, and only PEM files need them
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as e:
        raise UsageError(f"{path} is not a PEM public key") from e
    if not isinstance(key, Ed25519PublicKey):
        raise UsageError(f"{path} is not an Ed25519 public key")
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    try:
        return PublicKey(raw)
    except VerificationFailure as e:
        raise UsageError(f"{path}: {e.reason}") from e


def public_key_pem(raw: bytes) -> bytes:
    """PEM (SubjectPublicKeyInfo) form of a raw Ed25519 public key."""
    from cryptography.hazmat.primitives import serialization  # (see load_public_key_pem)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    return Ed25519PublicKey.from_public_bytes(raw).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
