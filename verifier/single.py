"""One receipt checked on its own: what an agent does with the receipt the service just returned.

The ledger audit (:mod:`verifier.verify`) checks chains, pricing and checkpoints; a client that
receives one receipt can check only what the receipt itself proves: it is a well-formed
COSE_Sign1 receipt, signed by the key the client pinned, with a payload the format allows. The
steps are the audit's own (:func:`verifier.cose.parse`, :func:`verifier.cose.verify_signature`,
:func:`verifier.encoding.decode_strict`, :func:`verifier.schema.check_receipt`), so there is one
rule for what a valid signed receipt is.
"""

from __future__ import annotations

from typing import Any

from verifier import cose
from verifier.encoding import decode_strict
from verifier.errors import EncodingError, SchemaError, VerificationFailure
from verifier.keys import PublicKey
from verifier.schema import check_receipt


def verify_receipt(item: bytes, key: PublicKey) -> dict[str, Any]:
    """The payload of ``item`` if it is a receipt signed by ``key``; else VerificationFailure."""
    env = cose.parse(item)
    if env.content_type != cose.RECEIPT:
        raise VerificationFailure("unexpected_item", f"{env.content_type} is not a receipt")
    if env.kid != key.kid:
        raise VerificationFailure("untrusted_key", f"kid {env.kid.hex()} is not the pinned key")
    cose.verify_signature(env, key)
    try:
        payload = decode_strict(env.payload)
    except EncodingError as e:
        raise VerificationFailure("non_deterministic_encoding", str(e)) from e
    try:
        check_receipt(payload)
    except SchemaError as e:
        raise VerificationFailure("schema_violation", str(e)) from e
    if not key.valid_at(payload["issued_at"]):
        raise VerificationFailure("key_not_valid", "key not valid at issued_at")
    assert isinstance(payload, dict)
    return payload
