"""The pinned strict Ed25519 rule set (libsodium's): checked on the edge cases it exists for."""

from __future__ import annotations

import nacl.signing
import pytest

from verifier.errors import VerificationFailure
from verifier.keys import PublicKey

ED25519_L = 2**252 + 27742317777372353535851937790883648493
P = 2**255 - 19

# Encodings of the points of small order (RFC 8032 / "Taming the many EdDSAs" list).
SMALL_ORDER = [
    "0100000000000000000000000000000000000000000000000000000000000000",  # identity, order 1
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # order 2
    "0000000000000000000000000000000000000000000000000000000000000080",  # order 4
    "0000000000000000000000000000000000000000000000000000000000000000",  # order 4
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",  # order 8
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",  # order 8
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",  # order 8
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",  # order 8
]


@pytest.mark.parametrize("encoding", SMALL_ORDER)
def test_small_order_public_keys_are_refused_at_load(encoding: str) -> None:
    with pytest.raises(VerificationFailure) as caught:
        PublicKey(bytes.fromhex(encoding))
    assert caught.value.code == "bad_key"


def test_non_canonical_public_key_is_refused() -> None:
    # y = p + 1 encodes the same field element as y = 1 (non-canonical: y >= p).
    non_canonical = (P + 1).to_bytes(32, "little")
    with pytest.raises(VerificationFailure):
        PublicKey(non_canonical)


def test_wrong_length_key_is_refused() -> None:
    with pytest.raises(VerificationFailure):
        PublicKey(b"\x01" * 31)


def test_signature_with_s_plus_l_is_refused_though_lax_verifiers_accept_it() -> None:
    signing = nacl.signing.SigningKey(b"\x07" * 32)
    message = b"receipt"
    signature = signing.sign(message).signature
    key = PublicKey(bytes(signing.verify_key))
    assert key.verify(signature, message)
    s = int.from_bytes(signature[32:], "little") + ED25519_L
    malleated = signature[:32] + s.to_bytes(32, "little")
    assert not key.verify(malleated, message)


def test_signature_with_small_order_r_is_refused() -> None:
    signing = nacl.signing.SigningKey(b"\x09" * 32)
    key = PublicKey(bytes(signing.verify_key))
    for encoding in SMALL_ORDER:
        assert not key.verify(bytes.fromhex(encoding) + bytes(32), b"m")


def test_validity_window() -> None:
    key = PublicKey(bytes(nacl.signing.SigningKey(b"\x05" * 32).verify_key), 100, 200)
    assert not key.valid_at(99) and key.valid_at(100) and key.valid_at(199)
    assert not key.valid_at(200)
