"""The start-up self-check: the service verifies its own ledger before it signs anything.

The stored ledger is streamed into the verifier (``verifier.audit_ledger``) with our public key
pinned. Fast path: the newest stored checkpoint of each chain, once its signature is checked with
that key, is passed as ``VerifyOptions.since``, so receipts it covers are only re-linked (hash
chain, seq continuity, duplicates, schema), not re-verified and re-priced; everything after it is
verified in full. Any failure means a broken chain: the service refuses to start signing on it.
After a successful check, a fresh checkpoint per chain is stored for the next start.
"""

from __future__ import annotations

from dataclasses import dataclass

from receipts.clock import now_ms
from receipts.deployment.runtime import Runtime
from receipts.errors import ChainBroken
from receipts.storage import queries as store
from receipts.storage.export import ledger_chunks
from verifier import cose
from verifier.encoding import decode_strict
from verifier.errors import VerifierError
from verifier.keys import PublicKey
from verifier.schema import check_checkpoint
from verifier.verify import VerifyOptions, audit_ledger


@dataclass(frozen=True)
class SelfCheck:
    """What the check covered."""

    receipts: int
    fully_verified: int
    chains: dict[str, int]


def _trusted_since(runtime: Runtime, key: PublicKey) -> dict[str, tuple[int, bytes]]:
    """Stored checkpoints signed by our key (anything else is ignored: full check instead)."""
    since: dict[str, tuple[int, bytes]] = {}
    with runtime.db.read() as conn:
        stored = store.latest_checkpoints(conn)
    for chain, item in stored.items():
        try:
            env = cose.parse(item)
            payload = decode_strict(env.payload)
            check_checkpoint(payload)
        except VerifierError:
            continue
        if env.content_type != cose.CHECKPOINT or env.kid != key.kid \
                or not key.verify(env.signature, env.signed_bytes()) \
                or payload["chain"] != chain:
            continue
        since[chain] = (payload["size"], payload["head"])
    return since


def self_check(runtime: Runtime) -> SelfCheck:
    """Verify the stored ledger; raise :class:`ChainBroken` if it does not verify."""
    key = PublicKey(runtime.signer.public_key)
    since = _trusted_since(runtime, key)
    report = audit_ledger(ledger_chunks(runtime),
                          VerifyOptions(trusted_keys=(key,), since=since or None, workers=1))
    if not report.valid:
        raise ChainBroken(f"the stored ledger does not verify ({report.failure}); refusing to "
                          "sign on a broken chain")
    now = now_ms()
    with runtime.db.write() as conn:
        for checkpoint in report.checkpoint_payloads:  # exactly what was verified
            chain, size = checkpoint["chain"], checkpoint["size"]
            if size and since.get(chain, (0, b""))[0] < size:
                runtime.service.save_checkpoint(conn, chain, size, checkpoint["head"], now)
    return SelfCheck(report.receipts, report.newly_verified, dict(report.chains))
