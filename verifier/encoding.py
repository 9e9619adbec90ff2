"""Deterministic CBOR (RFC 8949 §4.2.1) in and out: the only module that imports a CBOR library.

Why not ``cbor2.dumps(canonical=True)``: it orders map keys length-first, which is not the
bytewise order of RFC 8949 §4.2.1 for mixed key types, and its decoder by default accepts
duplicate keys, indefinite lengths, unsorted maps and trailing bytes. We encode with our own key
sort and verify strictly: decode with duplicates and indefinite lengths refused, then require that
the bytes equal their deterministic re-encoding. That one comparison rejects non-shortest
arguments, trailing bytes, unsorted maps and every other alternative encoding.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import cbor2
import cbrrr

from verifier.errors import EncodingError, TruncatedError

MAX_ITEM_BYTES = 1 << 24
"""No ledger item may exceed 16 MiB: bounds memory whatever the input claims."""


def _sort_key(key: Any) -> bytes:
    return bytes(cbor2.dumps(key))


_TEXT_RANK: dict[str, tuple[int, bytes]] = {}
"""Sort rank of text keys, cached: the bytewise order of a text key's encoding is the order of
(UTF-8 length, UTF-8 bytes), because the length is in the head. Receipts reuse few keys."""
_SCALARS = frozenset({str, int, bytes, bool, type(None)})


def _text_rank(key: str) -> tuple[int, bytes]:
    rank = _TEXT_RANK.get(key)
    if rank is None:
        raw = key.encode()
        rank = (len(raw), raw)
        if len(_TEXT_RANK) < 4096:
            _TEXT_RANK[key] = rank
    return rank


def _sorted(value: Any) -> Any:
    """Rebuild ``value`` with every map in RFC 8949 §4.2.1 order (bytewise encoded keys).

    Text-keyed maps (all of the format's payloads) sort by a cached rank; maps with other keys
    sort by each key's encoding. Floats and types the format has no use for are refused.
    """
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is dict or kind is _FROZEN_MAP:
        try:  # the common case: every key a text key whose rank is cached
            keys = sorted(value, key=_TEXT_RANK.__getitem__)
        except KeyError:
            if all(type(k) is str for k in value):
                keys = sorted(value, key=_text_rank)
            else:
                keys = sorted(value, key=_sort_key)
        out = {}
        for key in keys:
            item = value[key]
            out[key] = item if type(item) in _SCALARS else _sorted(item)
        return out
    if kind is list or kind is tuple:
        return [v if type(v) in _SCALARS else _sorted(v) for v in value]
    if kind is cbor2.CBORTag:
        return cbor2.CBORTag(value.tag, _sorted(value.value))
    if kind is float:
        raise EncodingError("floats are not allowed in this format")
    raise EncodingError(f"{kind.__name__} values are not allowed in this format")


def encode(value: Any) -> bytes:
    """Deterministic encoding of ``value`` (maps sorted, shortest forms, definite lengths).

    Text-keyed maps of integers, text, bytes, null, booleans, lists and such maps (every
    payload the service signs) are written by ``cbrrr``'s C encoder: for them DAG-CBOR's
    canonical form is RFC 8949 §4.2.1 deterministic encoding (text keys sorted by encoded length
    then bytewise, shortest heads, definite lengths). Its one difference, writing floats as
    64-bit, is shut off by naming ``float`` as its link type: a float then fails (it has no
    ``__bytes__``) instead of being written, and takes the general path below, which refuses it.

    Everything else (other key types, tags, integers beyond 64 bits, tuples) and any refusal
    goes the general way: one pass rebuilds maps in order, then ``cbor2``'s encoder writes them
    as given (it keeps insertion order and always uses the shortest argument). Both ways give
    the same bytes (tests/verifier/test_encoder.py checks them against the rule itself).
    """
    if type(value) is dict:
        try:
            return cbrrr.encode_dag_cbor(value, cid_type=float)
        except (TypeError, ValueError, AttributeError, OverflowError, RecursionError):
            pass
    return bytes(cbor2.dumps(_sorted(value)))


_FROZEN_MAP = type(cbor2.loads(b"\xd2\xa0").value)  # how cbor2 decodes maps inside tags
MAX_DEPTH = 16
"""No data item nests arrays, maps and tags more than 16 deep (spec §3.1)."""


def _refuse_tag(_: bytes) -> Any:
    raise ValueError("tag 42 is not part of this format")


def _decode(data: bytes) -> Any:
    """The value ``data`` encodes, with duplicate keys and indefinite lengths refused.

    ``cbrrr`` (C, strict DAG-CBOR) decodes text-keyed maps; whatever it declines (other key
    types, tags, a byte it refuses) is decoded by ``cbor2``. Which library decoded the value
    does not matter: :func:`decode_strict` accepts it only if it re-encodes to ``data``.
    """
    try:
        return cbrrr.decode_dag_cbor(data, cid_ctor=_refuse_tag)
    except (ValueError, TypeError, OverflowError, MemoryError, RecursionError):
        pass
    try:
        return cbor2.loads(data, allow_indefinite=False, allow_duplicate_keys=False,
                           max_depth=MAX_DEPTH)
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, RecursionError) as e:
        raise EncodingError(f"not well-formed CBOR: {e}") from e


def _depth_exceeds(value: Any, room: int) -> bool:
    """Whether ``value`` nests containers deeper than ``room`` more levels."""
    kind = type(value)
    if kind is dict or kind is _FROZEN_MAP:
        values: Any = value.values()
    elif kind is list:
        values = value
    elif kind is cbor2.CBORTag:
        values = (value.value,)
    else:
        return False
    if room == 0:
        return True
    return any(type(v) in _CONTAINERS and _depth_exceeds(v, room - 1) for v in values)


_CONTAINERS = frozenset({dict, list, _FROZEN_MAP, cbor2.CBORTag})


def decode_strict(data: bytes) -> Any:
    """Decode one CBOR item and prove ``data`` is its deterministic encoding (spec §3.2).

    The rule is one comparison: the bytes must equal :func:`encode` of the value they decode
    to. That refuses malformed bytes, trailing bytes, non-shortest forms, unsorted maps and
    floats (which :func:`encode` refuses); decoding itself refuses duplicate keys, indefinite
    lengths and nesting deeper than 16. Raises :class:`EncodingError`.
    """
    if len(data) > MAX_ITEM_BYTES:
        raise EncodingError("item larger than 16 MiB")
    value = _decode(data)
    if _depth_exceeds(value, MAX_DEPTH):
        raise EncodingError(f"nesting deeper than {MAX_DEPTH}")
    try:
        again = encode(value)
    except EncodingError as e:
        raise EncodingError(f"not re-encodable: {e}") from e
    if again != data:
        raise EncodingError("not in deterministic encoding (RFC 8949 §4.2.1)")
    return value


# --- CBOR sequence framing (RFC 8742) -------------------------------------------------------

_INDEFINITE = 31


def _argument(buf: bytes | memoryview, pos: int, end: int) -> tuple[int, int, int]:
    """Read an item head at ``pos``: returns (major type, argument, position after the head)."""
    if pos >= end:
        raise _Incomplete
    initial = buf[pos]
    major, info = initial >> 5, initial & 0x1F
    if info < 24:
        return major, info, pos + 1
    if info > 27:
        if info == _INDEFINITE:
            raise EncodingError("indefinite-length items are not allowed")
        raise EncodingError(f"reserved additional information {info}")
    size = 1 << (info - 24)
    if pos + 1 + size > end:
        raise _Incomplete
    return major, int.from_bytes(buf[pos + 1 : pos + 1 + size], "big"), pos + 1 + size


class _Incomplete(Exception):
    """The buffer ends inside an item: read more, or it is truncated."""


def item_end(buf: bytes | memoryview, pos: int, end: int, depth: int = 0) -> int:
    """Return the offset just after the CBOR item starting at ``pos``.

    Only framing is checked here (lengths, nesting); content is checked by :func:`decode_strict`.
    Raises ``_Incomplete`` when ``buf[:end]`` ends inside the item.
    """
    if depth > 16:
        raise EncodingError("nesting deeper than 16")
    major, arg, pos = _argument(buf, pos, end)
    if major in (2, 3):
        if arg > MAX_ITEM_BYTES:
            raise EncodingError("string longer than 16 MiB")
        if pos + arg > end:
            raise _Incomplete
        return pos + arg
    if major == 4:
        for _ in range(arg):
            pos = item_end(buf, pos, end, depth + 1)
        return pos
    if major == 5:
        for _ in range(2 * arg):
            pos = item_end(buf, pos, end, depth + 1)
        return pos
    if major == 6:
        return item_end(buf, pos, end, depth + 1)
    return pos


class SequenceReader:
    """Frames a CBOR sequence (RFC 8742) read from byte chunks, one item at a time (spec §9.2
    step 1). Memory stays bounded by the chunk size plus one item.
    """

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buf = b""
        self._pos = 0
        self._offset = 0  # absolute offset of _buf[0] in the sequence

    def _fill(self) -> bool:
        """Keep the unread bytes and append the next chunk; False at the end of the input."""
        chunk = next(self._chunks, None)
        if chunk is None:
            return False
        self._offset += self._pos
        self._buf = self._buf[self._pos :] + chunk
        self._pos = 0
        return True

    def next_item(self) -> tuple[int, bytes] | None:
        """``(offset, item bytes)`` of the next item, or None at the end of the sequence.

        Raises ``TruncatedError`` when the sequence ends inside an item and ``EncodingError``
        for an item that cannot be framed (or claims more than 16 MiB).
        """
        while True:
            buf, pos = self._buf, self._pos
            if pos < len(buf):
                try:
                    stop = item_end(buf, pos, len(buf))
                except _Incomplete:
                    if len(buf) - pos > MAX_ITEM_BYTES + 64:
                        raise EncodingError("an item larger than 16 MiB") from None
                else:
                    self._pos = stop
                    return self._offset + pos, buf[pos:stop]
            if not self._fill():
                if self._pos < len(self._buf):
                    raise TruncatedError("the sequence ends inside an item (truncated)")
                return None


def split_sequence(chunks: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """Yield ``(offset, item_bytes)`` for each item of a CBOR sequence read from ``chunks``.

    ``chunks`` is an iterable of ``bytes`` (e.g. fixed-size file reads); memory stays bounded by
    the chunk size plus one item. A sequence that ends inside an item raises ``EncodingError``.
    """
    reader = SequenceReader(chunks)
    while (framed := reader.next_item()) is not None:
        yield framed
