"""Third-party COSE libraries verify our receipts with the public key alone (pycose)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import cbor2
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pycose.keys import OKPKey
from pycose.keys.curves import Ed25519
from pycose.messages import Sign1Message

from verifier.encoding import decode_strict


def _decode(data: bytes) -> Sign1Message:
    """``CoseMessage.decode`` as pycose does it, adapted to cbor2 >= 6.

    pycose 1.1 checks ``isinstance(value, list)`` on the tag's content, but cbor2 6 decodes
    arrays inside tags as tuples; this only hands pycose the list it expects (the tag and the
    bytes are still checked by pycose's own Sign1 parser).
    """
    tagged = cbor2.loads(data)
    assert tagged.tag == Sign1Message.cbor_tag
    body = [dict(v) if isinstance(v, Mapping) else v for v in tagged.value]
    message = Sign1Message.from_cose_obj(body, True)
    assert isinstance(message, Sign1Message)
    return message


def _okp(path: Path) -> OKPKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    assert isinstance(key, Ed25519PublicKey)
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return OKPKey(crv=Ed25519, x=raw)


def test_pycose_verifies_receipt(vectors: Path) -> None:
    message = _decode((vectors / "receipt.cose").read_bytes())
    message.key = _okp(vectors / "test-key.pub.pem")
    assert message.verify_signature()
    assert decode_strict(message.payload)["seq"] == 0


def test_pycose_rejects_receipt_under_other_key(vectors: Path) -> None:
    message = _decode((vectors / "receipt.cose").read_bytes())
    message.key = _okp(vectors / "other-key.pub.pem")
    assert not message.verify_signature()


def test_pycose_round_trip_of_every_ledger_item(vectors: Path) -> None:
    from verifier.encoding import split_sequence

    key = _okp(vectors / "test-key.pub.pem")
    for _, item in split_sequence([(vectors / "valid/ledger.cbor").read_bytes()]):
        message = _decode(item)
        message.key = key
        assert message.verify_signature()
