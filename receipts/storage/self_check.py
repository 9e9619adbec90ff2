"""The start-up self-check: the service verifies its own ledger before it signs anything.

The stored ledger is streamed into the verifier (``verifier.audit_ledger``) with our public key
pinned, through the same API as ``receipt verify --since``: the newest stored checkpoint of each
chain is passed as an item in ``VerifyOptions.since``, which the verification authenticates
with that key (a stored checkpoint it does not sign makes the check fail), so receipts it covers
are only re-linked (hash chain, seq continuity, duplicates, schema), not re-verified and
re-priced; everything after it is verified in full. Any failure means a broken chain: the
service refuses to start signing on it.
After a successful check, a fresh checkpoint per chain is stored for the next start.
"""

from __future__ import annotations

from dataclasses import dataclass

from receipts.clock import now_ms
from receipts.deployment.runtime import Runtime
from receipts.errors import ChainBroken
from receipts.storage import queries as store
from receipts.storage.export import ledger_chunks
from verifier.checkpoints import read_saved, saved_heads
from verifier.errors import VerifierError
from verifier.keys import PublicKey
from verifier.verify import VerifyOptions, audit_ledger


@dataclass(frozen=True)
class SelfCheck:
    """What the check covered."""

    receipts: int
    fully_verified: int
    chains: dict[str, int]


def _saved_checkpoints(runtime: Runtime) -> list[bytes]:
    """The newest stored checkpoint of each chain, as items for the verification, which
    authenticates them with our key (a stored checkpoint that does not even parse as one, or
    names another chain, is left out: the chain is then verified from its first receipt)."""
    with runtime.db.read() as conn:
        stored = store.latest_checkpoints(conn)
    items = []
    for chain, item in stored.items():
        try:
            (saved,) = read_saved([item])
        except VerifierError:
            continue
        if saved.payload["chain"] == chain:
            items.append(item)
    return items


def self_check(runtime: Runtime) -> SelfCheck:
    """Verify the stored ledger; raise :class:`ChainBroken` if it does not verify."""
    key = PublicKey(runtime.signer.public_key)
    saved = _saved_checkpoints(runtime)
    since = saved_heads(read_saved(saved))
    report = audit_ledger(ledger_chunks(runtime),
                          VerifyOptions(trusted_keys=(key,), since=saved, workers=1))
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
