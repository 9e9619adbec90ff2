"""Step 10 of verification (spec §9.2): the ledger's checkpoints, and saved ones (``--since``).

A ledger ends with one signed checkpoint per chain, in the header's order, each stating the
chain's size and head. A checkpoint saved at an earlier audit (§7.7) comes into a run as the
item it is, in :attr:`verifier.report.VerifyOptions.since`: :func:`read_saved` checks its form,
step 9 (:class:`verifier.chain.ChainLinks`) proves the ledger extends it, and
:meth:`CheckpointSection.finish` authenticates it with the keys trusted in this run; until then
nothing it says counts (a run whose saved checkpoints fail to authenticate is INVALID).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from verifier import cose
from verifier.chain import ChainLinks
from verifier.encoding import decode_strict
from verifier.errors import EncodingError, SchemaError, UsageError, VerificationFailure
from verifier.keys import PublicKey
from verifier.preamble import authenticate, fail, open_item, schema, time_of
from verifier.schema import check_checkpoint


@dataclass(frozen=True)
class SavedCheckpoint:
    """A checkpoint saved by an earlier audit, well-formed but not yet authenticated."""

    envelope: cose.Envelope
    payload: dict[str, Any]


def read_saved(items: Iterable[bytes]) -> list[SavedCheckpoint]:
    """The saved checkpoints ``items`` (as ``--save-checkpoint`` wrote them); anything that is
    not a well-formed checkpoint item is a usage error (spec §9.4), not a ledger failure."""
    saved = []
    for item in items:
        try:
            env = cose.parse(item)
            payload = decode_strict(env.payload)
            check_checkpoint(payload)
        except (VerificationFailure, EncodingError, SchemaError) as e:
            raise UsageError(str(e)) from e
        if env.content_type != cose.CHECKPOINT:
            raise UsageError("not a checkpoint")
        saved.append(SavedCheckpoint(env, payload))
    return saved


def saved_heads(saved: Iterable[SavedCheckpoint]) -> dict[str, tuple[int, bytes]]:
    """Per chain, the saved size and head the ledger must extend (the last saved for a chain)."""
    return {s.payload["chain"]: (s.payload["size"], s.payload["head"]) for s in saved}


def authenticate_saved(saved: Iterable[SavedCheckpoint], trusted: dict[bytes, PublicKey],
                       issuer: str) -> None:
    """§7.7: a saved checkpoint counts only if a key trusted in this run signed it, for this
    ledger's issuer (``untrusted_key``, ``bad_signature``, ``not_an_extension``; no position:
    the item is not in the ledger)."""
    for checkpoint in saved:
        env = checkpoint.envelope
        key = trusted.get(env.kid)
        if key is None:
            raise VerificationFailure("untrusted_key", "the --since checkpoint is signed by a "
                                      "key not trusted in this run")
        try:
            cose.verify_signature(env, key)
        except VerificationFailure as e:
            raise VerificationFailure(e.code, "the --since checkpoint's signature does not "
                                      "verify") from e
        if checkpoint.payload["issuer"] != issuer:
            raise VerificationFailure("not_an_extension", "the --since checkpoint is of "
                                      "another issuer")


class CheckpointSection:
    """Step 10, item by item after the receipts, then :meth:`finish` at the end of the file."""

    def __init__(self, header: dict[str, Any], links: ChainLinks) -> None:
        self.header = header
        self.links = links
        self.items: list[bytes] = []
        self.payloads: list[dict[str, Any]] = []

    def take(self, index: int, item: bytes, trusted: dict[bytes, PublicKey]) -> None:
        """The ``i``-th checkpoint: its form, signature, and the chain it must state."""
        chains = self.header["chains"]
        if len(self.items) >= len(chains):
            raise fail("unexpected_item", "item after the last checkpoint", index)
        expected_chain = chains[len(self.items)]
        env, payload = open_item(index, item, cose.CHECKPOINT, "unexpected_item")
        authenticate(index, env, payload, trusted.get(env.kid), time_of(payload, "time"))
        schema(index, check_checkpoint, payload)
        if payload["chain"] != expected_chain:
            raise fail("missing_checkpoint", f"no checkpoint for chain {expected_chain}", index,
                       expected_chain)
        if payload["issuer"] != self.header["issuer"]:
            raise fail("checkpoint_mismatch", "checkpoint of another issuer", index)
        state = self.links.chains[expected_chain]
        if payload["size"] != state.size or payload["head"] != state.head:
            raise fail("checkpoint_mismatch", f"checkpoint says size {payload['size']}, ledger "
                       f"holds {state.size} receipts (truncated or extended)", index,
                       expected_chain)
        self.items.append(item)
        self.payloads.append(payload)

    def finish(self, items: int, saved: list[SavedCheckpoint],
               trusted: dict[bytes, PublicKey]) -> None:
        """At the end of the file (item index ``items``): every chain's checkpoint, the saved
        chains extended, and the saved checkpoints authenticated."""
        chains = self.header["chains"]
        if len(self.items) < len(chains):
            missing = chains[len(self.items)]
            raise fail("missing_checkpoint", f"no checkpoint for chain {missing}", items, missing)
        for chain, (size, _) in saved_heads(saved).items():
            state = self.links.chains.get(chain)
            if state is None or state.size < size:
                raise fail("not_an_extension", f"chain {chain} is shorter than the saved "
                           "checkpoint", items, chain)
        authenticate_saved(saved, trusted, self.header["issuer"])

