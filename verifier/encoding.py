"""Deterministic CBOR (RFC 8949 §4.2.1) in and out: the only module that imports a CBOR library.

Why not ``cbor2.dumps(canonical=True)``: it orders map keys length-first, which is not the
bytewise order of RFC 8949 §4.2.1 for mixed key types, and its decoder by default accepts
duplicate keys, indefinite lengths, unsorted maps and trailing bytes. We encode with our own key
sort and verify strictly: decode with duplicates and indefinite lengths refused, then require that
the bytes equal their deterministic re-encoding. That one comparison rejects non-shortest
arguments, trailing bytes, unsorted maps and every other alternative encoding.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Iterator
from itertools import pairwise
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
    if kind is dict:
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


def encode_tagged(tag: int, value: Any) -> bytes:
    """Deterministic encoding of ``value`` under CBOR tag ``tag``."""
    return encode(cbor2.CBORTag(tag, value))


_FROZEN_MAP = type(cbor2.loads(b"\xd2\xa0").value)  # how cbor2 decodes maps inside tags


def _in_order(value: Any) -> bool:
    """True when every map in ``value`` already lists its keys in deterministic order.

    Decoded maps keep the order of the bytes; together with ``dumps(value) == data`` this proves
    the bytes are the deterministic encoding without paying for a full re-sort. Text keys (the
    only kind the payload schemas allow) sort by UTF-8 length, then bytes; other key types fall
    back to comparing their encodings. Floats, which the format forbids, fail too. Runs once
    per receipt, so it only descends into containers.
    """
    kind = type(value)
    if kind is dict:
        keys = tuple(value)
        if keys not in _ORDERED_KEYS:
            if not _keys_in_order(value):
                return False
            # Only text-key shapes are remembered: tuple equality says True == 1 == 1.0, so a
            # cached (1, 3, 4) must never vouch for (True, 3, 4).
            if len(_ORDERED_KEYS) < 4096 and all(type(k) is str for k in keys):
                _ORDERED_KEYS.add(keys)
        for item in value.values():
            item_kind = type(item)
            if (item_kind in _CONTAINERS and not _in_order(item)) or item_kind is float:
                return False
        return True
    if kind is list or kind is tuple:
        return all(_in_order(v) for v in value if type(v) in _CONTAINERS or type(v) is float)
    if kind is _FROZEN_MAP:
        return _in_order(dict(value))
    if kind is cbor2.CBORTag:
        return _in_order(value.value)
    return kind is not float


_CONTAINERS = frozenset({dict, list, tuple, _FROZEN_MAP, cbor2.CBORTag})
_ORDERED_KEYS: set[tuple[Any, ...]] = set()
"""Text-key tuples already proven in order: receipts repeat a handful of shapes, so most maps
are checked with one set lookup (a text key never equals a non-text one)."""


def _keys_in_order(mapping: dict[Any, Any]) -> bool:
    previous: tuple[int, bytes] | None = None
    for key in mapping:
        if type(key) is not str:
            return _exact_order(mapping)
        raw = key.encode()
        rank = (len(raw), raw)
        if previous is not None and rank <= previous:
            return False
        previous = rank
    return True


def _exact_order(mapping: dict[Any, Any]) -> bool:
    keys = [_sort_key(k) for k in mapping]
    return all(a < b for a, b in pairwise(keys))


def decode_strict(data: bytes) -> Any:
    """Decode one CBOR item and prove ``data`` is its deterministic encoding.

    Raises :class:`EncodingError` for malformed bytes, duplicate keys, indefinite lengths,
    trailing bytes, non-shortest forms, unsorted maps and floats.
    """
    if len(data) > MAX_ITEM_BYTES:
        raise EncodingError("item larger than 16 MiB")
    try:
        value = cbor2.loads(
            data, allow_indefinite=False, allow_duplicate_keys=False, max_depth=16
        )
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, RecursionError) as e:
        raise EncodingError(f"not well-formed CBOR: {e}") from e
    try:
        again = cbor2.dumps(value)
    except (cbor2.CBOREncodeError, ValueError, TypeError) as e:
        raise EncodingError(f"not re-encodable: {e}") from e
    if again != data:
        raise EncodingError("not in deterministic encoding (RFC 8949 §4.2.1)")
    if not _in_order(value):
        raise EncodingError("map keys not in deterministic order (RFC 8949 §4.2.1), or a float")
    return value


def _refuse_tag(_: bytes) -> Any:
    raise ValueError("tags are not part of a receipt payload")


def decode_text_map_fast(data: bytes) -> dict[str, Any] | None:
    """Strictly decode a receipt-shaped payload at C speed, or return ``None`` to decline.

    A receipt payload is a map with text keys whose values are unsigned integers, text, byte
    strings, null and maps of the same. For such values RFC 8949 §4.2.1 deterministic encoding
    and DAG-CBOR's strict canonical form are the same bytes: shortest heads, definite lengths,
    text keys ordered by UTF-8 length then bytewise, no duplicates, valid UTF-8, no trailing
    bytes. ``cbrrr`` decodes DAG-CBOR and refuses anything else, so whatever it accepts is
    deterministic, except the two kinds it allows and this format never does: floats and tag 42,
    (refused here via the tag constructor). A float can only reach a position the receipt
    schema types as integer or text, so callers must treat a schema failure of a fast-decoded
    payload as "ask :func:`decode_strict`", which then names the encoding fault. ``None`` (any
    refusal, or not a map) means: use :func:`decode_strict`, which gives the exact reason.

    About 4x faster than :func:`decode_strict`; the verifier runs it once per receipt.
    """
    try:
        value = cbrrr.decode_dag_cbor(data, cid_ctor=_refuse_tag)
    except (ValueError, TypeError, OverflowError, MemoryError, RecursionError):
        return None
    return value if type(value) is dict else None


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


def _bstr_end(buf: bytes, pos: int, end: int) -> int:
    """End of the byte string whose head is at ``pos``; -1 if it is not one (or is odd)."""
    if pos >= end:
        raise _Incomplete
    head = buf[pos]
    if head >> 5 != 2:
        return -1
    info = head & 0x1F
    if info < 24:
        stop = pos + 1 + info
    elif info <= 27:
        size = 1 << (info - 24)
        if pos + 1 + size > end:
            raise _Incomplete
        length = int.from_bytes(buf[pos + 1 : pos + 1 + size], "big")
        if length > MAX_ITEM_BYTES:
            return -1  # the general path reports it
        stop = pos + 1 + size + length
    else:
        return -1
    if stop > end:
        raise _Incomplete
    return stop


def usual_cose_layout(buf: bytes, pos: int, end: int) -> tuple[int, int, int] | None:
    """(protected end, payload end, item end) of the COSE_Sign1 at ``pos`` if its heads have
    the layout nearly every ledger item has, else None; read from ``buf[:end]``.

    That layout: ``d2 84``, a protected header under 256 bytes (head ``58 nn``), ``a0``, a
    payload under 65,536 bytes (head ``59 nnnn``), then a 64-byte signature (head ``58 40``).
    Only the heads are read (the item may extend past ``end``); lengths are not checked for
    being the shortest: framing does not need it, and :func:`verifier.cose.parse` checks it.
    """
    if end - pos <= 8 or buf[pos : pos + 3] != b"\xd2\x84\x58":
        return None
    protected_end = pos + 4 + buf[pos + 3]
    if protected_end + 3 >= end or buf[protected_end] != 0xA0 or buf[protected_end + 1] != 0x59:
        return None
    payload_end = protected_end + 4 + (buf[protected_end + 2] << 8 | buf[protected_end + 3])
    if payload_end + 1 >= end or buf[payload_end] != 0x58 or buf[payload_end + 1] != 0x40:
        return None
    return protected_end, payload_end, payload_end + 66


def _cose_item_end(buf: bytes, pos: int, end: int) -> int:
    """Fast framing of the common case, a tagged COSE_Sign1 with an empty unprotected map.

    Ledgers are almost entirely such items; anything else (or anything odd) goes through the
    general :func:`item_end`. Content is still checked in full later.
    """
    usual = usual_cose_layout(buf, pos, end)
    if usual is not None:
        if usual[2] > end:
            raise _Incomplete
        return usual[2]
    if buf[pos : pos + 2] != b"\xd2\x84":
        return item_end(buf, pos, end)
    stop = _bstr_end(buf, pos + 2, end)
    if stop < 0 or stop >= end:
        return item_end(buf, pos, end)
    if buf[stop] != 0xA0:
        return item_end(buf, pos, end)
    stop = _bstr_end(buf, stop + 1, end)
    if stop >= 0:
        stop = _bstr_end(buf, stop, end)
    return stop if stop >= 0 else item_end(buf, pos, end)


class SequenceReader:
    """Frames a CBOR sequence (RFC 8742) read from byte chunks, one item or one run at a time.

    Memory stays bounded by the chunk size plus one item. :meth:`next_item` gives the next item;
    :meth:`take_run` gives, as one ``bytes`` with the end offset of each item, the consecutive
    items ahead in the usual COSE_Sign1 layout whose protected header is one of a given set: the
    verifier hands receipts to its workers that way, with no Python object per receipt in the
    main process. Whatever :meth:`take_run` declines, :meth:`next_item` frames by the full rule.
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
                    stop = _cose_item_end(buf, pos, len(buf))
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

    def take_run(self, prefixes: Container[bytes], limit: int) -> tuple[int, list[int]]:
        """Up to ``limit`` items from the buffered bytes, as ``(offset of the first, end of each
        relative to that offset)``, while each has the usual layout (:func:`usual_cose_layout`)
        and begins with one of ``prefixes`` (see :func:`usual_prefix`); the list is empty when
        the next item does not qualify or is not all buffered. :meth:`recent` gives their bytes.

        Consecutive items usually share one prefix, so each is framed with one ``startswith``
        and two length bytes: this runs once per receipt in the verifier's main process.
        """
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


def usual_prefix(item: bytes) -> bytes | None:
    """The bytes an item in the usual layout has before its payload length (tag, array head,
    protected header, empty unprotected map, payload head): what :meth:`SequenceReader.take_run`
    matches. None for an item in another layout."""
    usual = usual_cose_layout(item, 0, len(item))
    return None if usual is None else item[: usual[0] + 2]


def split_sequence(chunks: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """Yield ``(offset, item_bytes)`` for each item of a CBOR sequence read from ``chunks``.

    ``chunks`` is an iterable of ``bytes`` (e.g. fixed-size file reads); memory stays bounded by
    the chunk size plus one item. A sequence that ends inside an item raises ``EncodingError``.
    """
    reader = SequenceReader(chunks)
    while (framed := reader.next_item()) is not None:
        yield framed
