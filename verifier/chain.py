"""Chain links (spec §6.2) and step 9 of verification (spec §9.2): the one place they live.

Every receipt commits to its predecessor in its chain: ``prev`` is :func:`link_hash` of the
previous receipt's bytes (``ZERO_HASH`` for the first). The service chains receipts with
:func:`link_hash`; the verifier checks the links with :class:`ChainLinks`, which tells each
kind of tampering apart (a gap, a swap, a repeat, a fork, a broken link) and, with ``--since``,
that the ledger extends the saved checkpoints.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from verifier.errors import Position, VerificationFailure
from verifier.schema import ZERO_HASH


def link_hash(item: bytes) -> bytes:
    """What the next receipt of the chain holds as ``prev``: SHA-256 of this receipt's bytes
    as they appear in the ledger (the whole COSE_Sign1 item)."""
    return hashlib.sha256(item).digest()


@dataclass
class ChainState:
    """Where a chain stands: ``size`` receipts linked so far, ending at ``head``."""

    size: int = 0
    head: bytes = ZERO_HASH
    gap: tuple[int, int] | None = None
    """(item index, seq) of a receipt that came ahead of its place, if one is pending."""


def _fail(code: str, reason: str, index: int, chain: str | None = None,
          seq: int | None = None) -> VerificationFailure:
    return VerificationFailure(code, reason, Position(index, chain, seq))


class ChainLinks:
    """Step 9's chain links, receipt by receipt in ledger order, per chain.

    ``chains`` are the chains the header lists; None accepts any chain and starts each one at
    its first receipt seen (a run of receipts checked on its own, whose joins with the rest of
    the ledger are checked later: see :meth:`advance`). ``saved`` maps a chain to the size and
    head of a saved checkpoint the ledger must extend (§7.7).
    """

    def __init__(self, chains: Iterable[str] | None,
                 saved: dict[str, tuple[int, bytes]] | None = None) -> None:
        self.open = chains is None
        self.chains: dict[str, ChainState] = {c: ChainState() for c in chains or ()}
        self.saved = saved or {}

    def link(self, index: int, chain: str, seq: int, prev: bytes, digest: bytes) -> None:
        """Step 9 for the receipt at item ``index`` whose bytes hash to ``digest``."""
        state = self.chains.get(chain)
        if state is None:
            if not self.open:  # 9: the chain is listed in the header
                raise _fail("unknown_chain", "chain not listed in the ledger header", index,
                            chain, seq)
            state = self.chains[chain] = ChainState(seq, prev)
        self._no_gap_pending(state, chain, seq)
        if seq > state.size:  # 9: ahead of its place; decided by the chain's next receipt
            state.gap = (index, seq)
            return
        if seq < state.size:
            if seq == state.size - 1 and digest == state.head:
                raise _fail("duplicate_receipt", "the previous receipt is repeated", index,
                            chain, seq)
            if seq == state.size - 1:
                raise _fail("chain_fork", "a second receipt claims this position", index, chain,
                            seq)
            raise _fail("out_of_order", f"seq {seq} after seq {state.size - 1}", index, chain,
                        seq)
        if prev != state.head:  # 9: seq = n, prev MUST be the head
            raise _fail("broken_link", "prev is not the hash of the previous receipt", index,
                        chain, seq)
        saved = self.saved.get(chain)
        if saved is not None and seq == saved[0] - 1 and digest != saved[1]:  # 9, §7.7
            raise _fail("not_an_extension", "differs from the saved checkpoint's head", index,
                        chain, seq)
        state.size += 1
        state.head = digest

    def advance(self, chain: str, next_seq: int, size: int, head: bytes) -> None:
        """Take the state a run of this chain's receipts reached after the one just linked:
        :meth:`link` ran on the rest of the run in a :class:`ChainLinks` of the run's own, and
        the run's next receipt, with ``next_seq``, is judged here as :meth:`link` would."""
        state = self.chains[chain]
        self._no_gap_pending(state, chain, next_seq)
        state.size, state.head = size, head

    @staticmethod
    def _no_gap_pending(state: ChainState, chain: str, seq: int) -> None:
        """9: a receipt came ahead of its place, and the chain's next receipt has ``seq``: if
        that is the missing one, the two were swapped; otherwise it is missing."""
        if state.gap is None:
            return
        gap_index, gap_seq = state.gap
        if seq == state.size:
            raise _fail("out_of_order", f"seq {gap_seq} appears before seq {seq}", gap_index,
                        chain, gap_seq)
        raise _fail("missing_receipt", f"seq {state.size} is missing", gap_index, chain, gap_seq)

    def pending_gap_before(self, index: int) -> None:
        """9: a receipt ahead of its place, before item ``index``, that nothing followed in
        its chain: the receipt before it is missing (reported when the receipts end)."""
        for chain, state in self.chains.items():
            if state.gap is not None and state.gap[0] < index:
                raise _fail("missing_receipt", f"seq {state.size} is missing", state.gap[0],
                            chain, state.gap[1])

    def sizes(self) -> dict[str, int]:
        """Receipts per chain."""
        return {chain: state.size for chain, state in self.chains.items()}
