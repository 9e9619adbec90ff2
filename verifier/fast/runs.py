"""Framing runs of receipts in one step: the main process's share of step 1 (spec §9.2).

Nearly every ledger item has one layout: ``d2 84``, a protected header under 256 bytes (head
``58 nn``), ``a0``, a payload under 65,536 bytes (head ``59 nnnn``) and a 64-byte signature
(head ``58 40``). For consecutive receipts of one signer, everything before the payload length
is the same bytes (the *prefix*), so :meth:`RunReader.take_run` frames each one with a
``startswith`` and two length bytes, and hands a whole run to the workers with no Python object
per receipt in the main process. This only splits the bytes: an item framed here ends where
:func:`verifier.encoding.item_end` says it ends (a property test compares them), and every item
is then checked in full by step 3 (:func:`verifier.cose.parse`). Whatever does not qualify is
declined and framed by :meth:`SequenceReader.next_item`.
"""

from __future__ import annotations

from collections.abc import Container

from verifier.encoding import SequenceReader


def usual_cose_layout(buf: bytes, pos: int, end: int) -> tuple[int, int, int] | None:
    """(protected end, payload end, item end) of the COSE_Sign1 at ``pos`` if its heads have
    the usual layout, else None; only the heads are read, from ``buf[:end]`` (the item may
    extend past ``end``)."""
    if end - pos <= 8 or buf[pos : pos + 3] != b"\xd2\x84\x58":
        return None
    protected_end = pos + 4 + buf[pos + 3]
    if protected_end + 3 >= end or buf[protected_end] != 0xA0 or buf[protected_end + 1] != 0x59:
        return None
    payload_end = protected_end + 4 + (buf[protected_end + 2] << 8 | buf[protected_end + 3])
    if payload_end + 1 >= end or buf[payload_end] != 0x58 or buf[payload_end + 1] != 0x40:
        return None
    return protected_end, payload_end, payload_end + 66


def usual_prefix(item: bytes) -> bytes | None:
    """The bytes an item in the usual layout has before its payload length (tag, array head,
    protected header, empty unprotected map, payload head): what :meth:`RunReader.take_run`
    matches. None for an item in another layout."""
    usual = usual_cose_layout(item, 0, len(item))
    return None if usual is None else item[: usual[0] + 2]


class RunReader(SequenceReader):
    """A :class:`SequenceReader` that can also frame a run of receipts at once."""

    def take_run(self, prefixes: Container[bytes], limit: int) -> tuple[int, list[int]]:
        """Up to ``limit`` items from the buffered bytes, as ``(offset of the first, end of each
        relative to that offset)``, while each has the usual layout and begins with one of
        ``prefixes`` (see :func:`usual_prefix`); the list is empty when the next item does not
        qualify or is not all buffered. :meth:`recent` gives their bytes."""
        buf, start = self._buf, self._pos
        end, pos = len(buf), start
        ends: list[int] = []
        append = ends.append
        prefix, size = b"\xff", 1  # no item starts with a break code
        for _ in range(limit):
            if not buf.startswith(prefix, pos):
                usual = usual_cose_layout(buf, pos, end)
                if usual is None:
                    break
                prefix = buf[pos : usual[0] + 2]
                if prefix not in prefixes:
                    break
                size = len(prefix)
            length_at = pos + size
            if length_at + 2 > end:
                break
            payload_end = length_at + 2 + (buf[length_at] << 8 | buf[length_at + 1])
            stop = payload_end + 66
            if stop > end or buf[payload_end] != 0x58 or buf[payload_end + 1] != 0x40:
                break
            pos = stop
            append(stop - start)
        self._pos = pos
        return self._offset + start, ends

    def recent(self, offset: int, length: int) -> bytes:
        """Bytes of the sequence from ``offset``, which must be within what the last call
        returned (the buffer is kept until the next call)."""
        at = offset - self._offset
        return self._buf[at : at + length]
