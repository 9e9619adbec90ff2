"""COSE_Sign1 (RFC 9052 §4.2) as this format uses it: every ledger item is one.

An item is ``#6.18([protected: bstr, unprotected: {}, payload: bstr, signature: bstr .size 64])``.
The protected header is the deterministic map ``{1: -8, 3: content type, 4: kid}``: EdDSA (-8),
which deployed COSE libraries verify today; the content type says which kind of ledger item the
payload is, so a signature over one kind can never be replayed as another (domain separation);
the key id names the signer. The unprotected header is always empty, so every byte of an item is
covered by its signature. The signature is over the RFC 9052 ``Sig_structure``
``["Signature1", protected, h'', payload]``.
"""

from __future__ import annotations

from typing import NamedTuple

from verifier.encoding import decode_strict, encode
from verifier.errors import EncodingError, VerificationFailure
from verifier.keys import PublicKey

COSE_SIGN1_TAG = 18
ALG_EDDSA = -8
HEADER_ALG = 1
HEADER_CONTENT_TYPE = 3
HEADER_KID = 4

CONTENT_TYPE_PREFIX = "application/vnd.receipts."
RECEIPT = CONTENT_TYPE_PREFIX + "receipt+cbor"
LEDGER_HEADER = CONTENT_TYPE_PREFIX + "ledger-header+cbor"
PUBLIC_KEY = CONTENT_TYPE_PREFIX + "public-key+cbor"
PRICE_BOOK = CONTENT_TYPE_PREFIX + "price-book+cbor"
FX_RATE = CONTENT_TYPE_PREFIX + "fx-rate+cbor"
ALLOCATION_SET = CONTENT_TYPE_PREFIX + "allocation-set+cbor"
CHECKPOINT = CONTENT_TYPE_PREFIX + "checkpoint+cbor"
CONTENT_TYPES = (LEDGER_HEADER, PUBLIC_KEY, PRICE_BOOK, FX_RATE, ALLOCATION_SET, RECEIPT,
                 CHECKPOINT)


def protected_header(content_type: str, kid: bytes) -> bytes:
    """The deterministic encoding of the protected header for ``content_type`` signed by ``kid``."""
    return encode({HEADER_ALG: ALG_EDDSA, HEADER_CONTENT_TYPE: content_type, HEADER_KID: kid})


def _bstr_head(length: int) -> bytes:
    if length < 24:
        return bytes([0x40 | length])
    if length < 0x100:
        return bytes([0x58, length])
    if length < 0x10000:
        return b"\x59" + length.to_bytes(2, "big")
    if length < 0x100000000:
        return b"\x5a" + length.to_bytes(4, "big")
    return b"\x5b" + length.to_bytes(8, "big")


SIG1_PREFIX = b"\x84\x6aSignature1"
"""How every Sig_structure of this format begins: an array of four, then the context text."""


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """RFC 9052 §4.4 ``Sig_structure`` bytes for Sign1 with empty external AAD."""
    return b"".join(
        (SIG1_PREFIX, _bstr_head(len(protected)), protected, b"\x40",
         _bstr_head(len(payload)), payload)
    )


def assemble(protected: bytes, payload: bytes, signature: bytes) -> bytes:
    """The tagged COSE_Sign1 bytes (deterministic: tag 18, array of 4, empty unprotected map)."""
    return b"".join(
        (b"\xd2\x84", _bstr_head(len(protected)), protected, b"\xa0",
         _bstr_head(len(payload)), payload, _bstr_head(len(signature)), signature)
    )


class Envelope(NamedTuple):
    """A parsed COSE_Sign1 item; nothing in it is trusted until :func:`verify_signature` says
    so. A named tuple, not a frozen dataclass: one is built per receipt."""

    protected: bytes
    payload: bytes
    signature: bytes
    content_type: str
    kid: bytes

    def signed_bytes(self) -> bytes:
        """What the signature covers."""
        return sig_structure(self.protected, self.payload)


_header_cache: dict[bytes, tuple[str, bytes]] = {}


def parse_protected(protected: bytes) -> tuple[str, bytes]:
    """Check a protected header; cached because every item of one signer repeats it."""
    cached = _header_cache.get(protected)
    if cached is not None:
        return cached
    try:
        header = decode_strict(protected)
    except EncodingError as e:
        raise VerificationFailure("bad_protected_header", str(e)) from e
    if type(header) is not dict or set(header) != {HEADER_ALG, HEADER_CONTENT_TYPE, HEADER_KID}:
        raise VerificationFailure(
            "bad_protected_header", "protected header must be exactly {1: alg, 3: ctype, 4: kid}"
        )
    if header[HEADER_ALG] != ALG_EDDSA or type(header[HEADER_ALG]) is not int:
        raise VerificationFailure("bad_protected_header", f"unsupported alg {header[HEADER_ALG]!r}")
    ctype, kid = header[HEADER_CONTENT_TYPE], header[HEADER_KID]
    if type(ctype) is not str or ctype not in CONTENT_TYPES:
        raise VerificationFailure("bad_protected_header", f"unknown content type {ctype!r}")
    if type(kid) is not bytes or len(kid) != 16:
        raise VerificationFailure("bad_protected_header", "kid must be a 16-byte bstr")
    if protected != protected_header(ctype, kid):  # e.g. a label true or 1.0 instead of 1
        raise VerificationFailure("bad_protected_header", "protected header is not exactly "
                                  "{1: -8, 3: ctype, 4: kid} in deterministic encoding")
    if len(_header_cache) < 4096:
        _header_cache[protected] = (ctype, kid)
    return ctype, kid


_SHORTEST_FROM = {24: 24, 25: 0x100, 26: 0x10000, 27: 0x100000000}
"""Smallest length each head size may carry: anything less has a shorter head (RFC 8949 §4.2.1)."""


def _bstr_at(item: bytes, pos: int) -> tuple[bytes, int]:
    """The byte string whose head is at ``pos`` and the position after it."""
    if pos >= len(item):
        raise VerificationFailure("malformed_item", "COSE_Sign1 is truncated")
    head = item[pos]
    if head >> 5 != 2:
        raise VerificationFailure("malformed_item", "COSE_Sign1 fields must be byte strings")
    info = head & 0x1F
    if info < 24:
        start, length = pos + 1, info
    elif info <= 27:
        size = 1 << (info - 24)
        start = pos + 1 + size
        length = int.from_bytes(item[pos + 1 : start], "big")
        if length < _SHORTEST_FROM[info]:
            raise VerificationFailure("malformed_item", "COSE_Sign1 not in deterministic "
                                      "encoding (a length head is not the shortest)")
    else:
        raise VerificationFailure("malformed_item", "indefinite or reserved length")
    end = start + length
    if end > len(item):
        raise VerificationFailure("malformed_item", "COSE_Sign1 is truncated")
    return item[start:end], end


def parse(item: bytes) -> Envelope:
    """Parse one ledger item strictly into an :class:`Envelope` (no signature check yet).

    The item must be exactly the deterministic encoding ``assemble`` produces: tag 18, an array
    of four, shortest length heads, an empty unprotected map and nothing after the signature.
    Parsing reads the heads directly, refusing any head longer than needed and any byte after
    the signature: what remains can only be the bytes ``assemble`` would write (a test checks it).
    """
    if item[:2] != b"\xd2\x84":
        if item[:1] == b"\xd2":
            raise VerificationFailure("malformed_item", "COSE_Sign1 must be an array of 4")
        raise VerificationFailure("malformed_item", "not a tagged COSE_Sign1 (tag 18)")
    protected, pos = _bstr_at(item, 2)
    if item[pos : pos + 1] != b"\xa0":
        raise VerificationFailure("bad_unprotected_header", "unprotected header must be empty")
    payload, pos = _bstr_at(item, pos + 1)
    signature, pos = _bstr_at(item, pos)
    if len(signature) != 64:
        raise VerificationFailure("bad_signature", "an Ed25519 signature is 64 bytes")
    if pos != len(item):  # with shortest heads checked above, the item is exactly `assemble`'s
        raise VerificationFailure("malformed_item", "COSE_Sign1 not in deterministic encoding "
                                  "(bytes after the signature)")
    ctype, kid = parse_protected(protected)
    return Envelope(protected, payload, signature, ctype, kid)


ED25519_L = 2**252 + 27742317777372353535851937790883648493
"""The order of the Ed25519 base point: a signature's S must be below it (spec §4.1)."""


def verify_signature(env: Envelope, key: PublicKey) -> None:
    """Spec §9.2 step 4, for every item of a ledger: the Ed25519 signature over the item's
    Sig_structure (§2.3) verifies with ``key`` under §4.1's rules. Every signature the verifier
    checks goes through here. Raises ``non_canonical_signature`` when S ≥ L, else
    ``bad_signature``."""
    if key.verify(env.signature, env.signed_bytes()):
        return
    if int.from_bytes(env.signature[32:], "little") >= ED25519_L:
        raise VerificationFailure("non_canonical_signature", "signature S is not below L")
    raise VerificationFailure("bad_signature", "Ed25519 signature does not verify")


def peek_content_type(item: bytes) -> str | None:
    """The content type of an item from its protected header, without checking anything else.

    Used to route items cheaply; ``None`` when the item does not even look like COSE_Sign1
    (the full check then reports why).
    """
    if len(item) < 4 or item[0] != 0xD2 or item[1] != 0x84:
        return None
    head = item[2]
    if head >> 5 != 2:
        return None
    info = head & 0x1F
    if info < 24:
        start, length = 3, info
    elif info == 24:
        start, length = 4, item[3]
    else:
        return None
    try:
        return parse_protected(item[start : start + length])[0]
    except VerificationFailure:
        return None
