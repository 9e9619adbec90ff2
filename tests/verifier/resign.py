"""Edit receipts of a committed vector ledger and sign it again with the public test key.

The verifier's tests may not import the service, yet rollups of retries and of awkward tag
values need signed ledgers that hold them. This takes ``spec/vectors/valid/ledger.cbor``,
changes receipt payloads (fields that do not enter prices: tags, ``retry_of``), re-links each
chain and re-signs the receipts and checkpoints with the RFC 8032 §7.1 TEST 1 key (public
knowledge, the vectors' key). Only cbor2 and PyNaCl: nothing of the verifier it tests.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cbor2
from nacl.signing import SigningKey

VECTORS = Path(__file__).resolve().parents[2] / "spec" / "vectors"
TEST_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RECEIPT = "application/vnd.receipts.receipt+cbor"
CHECKPOINT = "application/vnd.receipts.checkpoint+cbor"

Edit = Callable[[int, dict[str, Any]], None]
"""Changes the payload of the receipt at this index (0-based, in ledger order) in place."""


def _items(data: bytes) -> list[bytes]:
    stream = io.BytesIO(data)
    decoder = cbor2.CBORDecoder(stream)
    out = []
    while stream.tell() < len(data):
        start = stream.tell()
        decoder.decode()
        out.append(data[start:stream.tell()])
    return out


def _sign(protected: bytes, payload: dict[str, Any], key: SigningKey) -> bytes:
    # canonical=True orders text keys by length, then bytewise: RFC 8949 order for text keys
    body = cbor2.dumps(payload, canonical=True)
    signed = cbor2.dumps(["Signature1", protected, b"", body])
    signature = key.sign(signed).signature
    return cbor2.dumps(cbor2.CBORTag(18, [protected, {}, body, signature]))


def resigned(edit: Edit, ledger: Path = VECTORS / "valid" / "ledger.cbor") -> bytes:
    """The ledger with ``edit`` applied to every receipt, chains re-linked, all re-signed."""
    key = SigningKey(TEST_SEED)
    heads: dict[str, bytes] = {}
    out = []
    index = 0
    for item in _items(ledger.read_bytes()):
        protected, _, body, _ = cbor2.loads(item).value
        content_type = cbor2.loads(protected)[3]
        payload = cbor2.loads(body)
        if content_type == RECEIPT:
            edit(index, payload)
            index += 1
            payload["prev"] = heads.get(payload["chain"], bytes(32))
            item = _sign(protected, payload, key)
            heads[payload["chain"]] = hashlib.sha256(item).digest()
        elif content_type == CHECKPOINT:
            payload["head"] = heads.get(payload["chain"], bytes(32))
            item = _sign(protected, payload, key)
        out.append(item)
    return b"".join(out)


def receipts(ledger: bytes) -> list[dict[str, Any]]:
    """The receipt payloads of a ledger, in order."""
    found = []
    for item in _items(ledger):
        protected, _, body, _ = cbor2.loads(item).value
        if cbor2.loads(protected)[3] == RECEIPT:
            found.append(cbor2.loads(body))
    return found
