"""A fast deterministic CBOR encoder for the service's signing path.

``verifier.encoding.encode`` is the reference (RFC 8949 §4.2.1): it sorts every map by the
``cbor2`` encoding of each key and walks the value a second time to refuse floats, which costs
about twice the Ed25519 signature. This encoder produces the same bytes with one cheap pass: it
rebuilds maps in §4.2.1 order using a cached sort key (for a text key, the bytewise order of its
encoding is the order of (UTF-8 length, UTF-8 bytes), because the length is in the head), then
lets ``cbor2``'s C encoder write them in insertion order. Anything but text-keyed maps, lists,
text, bytes, integers, booleans and null (floats included) goes to the reference encoder, which
refuses what the format refuses.

It cannot drift silently: the tests compare it byte for byte with the reference on generated
values, and every receipt is re-checked by the verifier at export and start-up
(``decode_strict`` refuses a payload that is not its own deterministic re-encoding).
"""

from __future__ import annotations

from typing import Any

import cbor2

from verifier.encoding import encode as reference_encode

_ORDER: dict[str, tuple[int, bytes]] = {}
_SCALARS = frozenset({str, int, bytes, bool, type(None)})


class _Unsupported(Exception):
    """A value this encoder leaves to the reference encoder."""


def _remember(key: Any) -> None:
    if type(key) is not str:
        raise _Unsupported
    raw = key.encode()
    if len(_ORDER) < 4096:
        _ORDER[key] = (len(raw), raw)


def _sorted_map(value: dict[Any, Any]) -> dict[Any, Any]:
    order = _ORDER
    for key in value:
        if key not in order:
            _remember(key)
            if key not in order:  # cache full: sort this map the slow way
                return {k: _sorted_value(value[k]) for k in sorted(
                    value, key=lambda k: (len(k.encode()), k.encode()))}
    out = {}
    for key in sorted(value, key=order.__getitem__):
        v = value[key]
        t = type(v)
        if t is dict:
            v = _sorted_map(v)
        elif t is list:
            v = [_sorted_value(x) for x in v]
        elif t not in _SCALARS:
            raise _Unsupported
        out[key] = v
    return out


def _sorted_value(value: Any) -> Any:
    t = type(value)
    if t in _SCALARS:
        return value
    if t is dict:
        return _sorted_map(value)
    if t is list:
        return [_sorted_value(v) for v in value]
    raise _Unsupported


def encode(value: Any) -> bytes:
    """Deterministic CBOR of ``value``: the same bytes as ``verifier.encoding.encode``."""
    try:
        ordered = _sorted_value(value)
    except _Unsupported:
        return reference_encode(value)
    return bytes(cbor2.dumps(ordered))
