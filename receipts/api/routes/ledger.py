"""Ledger-level routes: the ledger file, keys, checkpoints, price books, health.

Whether ``/v1/ledger``, ``/v1/keys`` and ``/v1/checkpoint`` need the admin or a finance token
is a setting (``RECEIPTS_PUBLIC``; default: keys and checkpoint public, the ledger not). A team
token never reads them: the ledger holds every team's receipts, and a chain cannot be cut by
team and still verify.
"""

from __future__ import annotations

import base64
from typing import Any, Literal

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from receipts.api.dependencies import check_role, context
from receipts.api.errors import json_response
from receipts.api.ledger_schemas import Checkpoints, Health, Keys, PriceBookOut, PriceBooks
from receipts.api.openapi import ALL_TEAMS, ANY_TOKEN, errors
from receipts.clock import now_ms
from receipts.deployment.credentials import ADMIN, FINANCE
from receipts.errors import NotFound, Unavailable
from receipts.issuing.receipt_builder import checkpoint_payload
from receipts.storage import queries as store
from receipts.storage.export import ledger_chunks
from receipts.storage.ledger_file import key_item
from verifier import cose
from verifier.encoding import decode_strict
from verifier.jsonview import checkpoint_json, iso_ms
from verifier.keys import fingerprint, public_key_pem

router = APIRouter(tags=["ledger"])
GATES = {"/v1/ledger": "ledger", "/v1/keys": "keys", "/v1/checkpoint": "checkpoint"}
"""The routes ``RECEIPTS_PUBLIC`` can open to anyone; the others take the admin or a finance
token. They are documented so, and :func:`receipts.api.openapi.document` drops the credential from
the ones this deployment makes public."""
GATED_WHY = {401: "no credential, or an unknown or revoked one (not a public route here)",
             403: "an agent key or a team token (this needs the admin or a finance token "
                  "on this deployment)"}


def _gate(request: Request, what: str) -> None:
    ctx = context(request)
    if what in ctx.runtime.settings.public:
        return
    check_role(ctx.auth.principal_fresh(request.headers.get("authorization")), (ADMIN, FINANCE))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@router.get("/v1/ledger", response_class=Response, responses={
    200: {"content": {"application/cbor-seq": {"schema": {"type": "string",
                                                           "format": "binary"}}},
          "description": "the ledger file"},
    **errors(401, 403, 404, 422, why={**GATED_WHY, 404: "no such chain"})},
    openapi_extra=ALL_TEAMS)
def get_ledger(request: Request, chain: str | None = None) -> Response:
    """The ledger file (the same as ``receipt export``), streamed: ``receipt verify`` it."""
    _gate(request, "ledger")
    runtime = context(request).runtime
    with runtime.db.read() as conn:
        if chain is not None and not store.heads(conn, chain):
            raise NotFound(f"no chain {chain!r}")
    return StreamingResponse(ledger_chunks(runtime, chain), media_type="application/cbor-seq",
                             headers={"Content-Disposition": 'attachment; filename="ledger.cbor"'})


@router.get("/v1/keys", response_model=Keys, responses=errors(401, 403, why=GATED_WHY),
            openapi_extra=ALL_TEAMS)
def get_keys(request: Request) -> Response:
    """The public signing key(s): PEM, key id, fingerprint, validity and the signed key item."""
    _gate(request, "keys")
    runtime = context(request).runtime
    signer = runtime.signer
    return json_response({"keys": [{
        "kid": signer.kid.hex(), "fingerprint": fingerprint(signer.public_key),
        "public_key_pem": public_key_pem(signer.public_key).decode(),
        "valid_from": iso_ms(runtime.facts.key_valid_from), "valid_until": None,
        "cose": _b64(key_item(signer, runtime.facts.key_valid_from)),
    }]})


@router.get("/v1/checkpoint", response_model=Checkpoints, responses={
    200: {"content": {"application/cbor-seq": {"schema": {"type": "string",
                                                           "format": "binary"}}},
          "description": "signed checkpoints: JSON, or with format=cbor the checkpoint file"},
    **errors(401, 403, 422, why=GATED_WHY)}, openapi_extra=ALL_TEAMS)
def get_checkpoint(request: Request, format: Literal["json", "cbor"] = "json") -> Response:
    """A freshly signed checkpoint of every chain. ``format=cbor`` gives the file that
    ``receipt verify LEDGER --since FILE`` takes, to prove a later ledger extends this one."""
    _gate(request, "checkpoint")
    runtime = context(request).runtime
    with runtime.db.read() as conn:
        heads = store.heads(conn)
    now = now_ms()
    items = [runtime.signer.sign(cose.CHECKPOINT, checkpoint_payload(runtime.facts.issuer, h,
                                                                      now)) for h in heads]
    if format == "cbor":
        return Response(b"".join(items), media_type="application/cbor-seq")
    return json_response({"checkpoints": [
        {"checkpoint": checkpoint_json(decode_strict(cose.parse(i).payload)), "cose": _b64(i)}
        for i in items]})


def _book_summary(book_id: bytes, payload: dict[str, Any], item: bytes) -> dict[str, Any]:
    return {"id": book_id.hex(), "currency": payload["currency"],
            "effective_from": iso_ms(payload["effective_from"]), "source": payload["source"],
            "models": len(payload["models"]), "cose": _b64(item)}


@router.get("/v1/price-books", tags=["pricing"], response_model=PriceBooks,
            responses=errors(401), openapi_extra=ANY_TOKEN)
def list_price_books(request: Request) -> Response:
    """Stored price books (any valid key)."""
    ctx = context(request)
    ctx.auth.principal_fresh(request.headers.get("authorization"))
    with ctx.runtime.db.read() as conn:
        books = store.price_books(conn)
    return json_response({"price_books": [
        _book_summary(i, decode_strict(p), item) for i, p, item in books]})


@router.get("/v1/price-books/{book_hash}", tags=["pricing"], response_model=PriceBookOut,
            responses=errors(401, 404, 422, why={404: "no stored price book has this hash"}),
            openapi_extra=ANY_TOKEN)
def get_price_book(book_hash: str, request: Request) -> Response:
    """One price book: its payload (prices in 10^-6 currency units per 1M tokens) and item."""
    ctx = context(request)
    ctx.auth.principal_fresh(request.headers.get("authorization"))
    with ctx.runtime.db.read() as conn:
        books = store.price_books(conn)
    for book_id, payload_bytes, item in books:
        if book_id.hex() == book_hash.lower():
            payload = decode_strict(payload_bytes)
            body = _book_summary(book_id, payload, item)
            body["payload"] = {**payload, "price_unit": "1e-6 currency units per 1M tokens"}
            return json_response(body)
    raise NotFound(f"no price book {book_hash}")


@router.get("/healthz", tags=["ledger"], response_model=Health,
            responses=errors(503, why={503: "the database does not answer"}))
def healthz(request: Request) -> Response:
    """Liveness and database reachability (no credentials, no ledger details)."""
    try:
        with context(request).runtime.db.read() as conn:
            store.heads(conn)
    except Exception as e:
        raise Unavailable("database unreachable") from e
    return json_response({"status": "ok"})
