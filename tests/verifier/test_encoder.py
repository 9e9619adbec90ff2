"""The encoder writes exactly RFC 8949 §4.2.1 deterministic CBOR, checked against the rule."""

from __future__ import annotations

from typing import Any

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verifier.encoding import EncodingError, encode


def rule(value: Any) -> bytes:
    """The spec's rule, written as plainly as possible: sort map entries by encoded key bytes."""
    def rebuild(v: Any) -> Any:
        if isinstance(v, dict):
            items = sorted(v.items(), key=lambda kv: bytes(cbor2.dumps(rebuild(kv[0]))))
            return {k: rebuild(x) for k, x in items}
        if isinstance(v, list):
            return [rebuild(x) for x in v]
        return v
    return bytes(cbor2.dumps(rebuild(value)))


scalars = (st.none() | st.booleans() | st.integers(-(2**64), 2**64 - 1)
           | st.text(max_size=40) | st.binary(max_size=40))
keys = st.text(max_size=30) | st.integers(-(2**40), 2**40) | st.binary(max_size=8)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(keys, inner, max_size=6),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(values)
def test_encoding_follows_the_rule(value: Any) -> None:
    assert encode(value) == rule(value)


def test_text_keys_sort_by_length_then_bytes_not_alphabetically() -> None:
    assert list(cbor2.loads(encode({"zz": 1, "b": 2, "aaa": 3}))) == ["b", "zz", "aaa"]
    assert list(cbor2.loads(encode({10: 1, -1: 2, 1000: 3}))) == [10, 1000, -1]


@pytest.mark.parametrize("bad", [{"cost": 1.5}, [0.1], {"x": object()}])
def test_floats_and_foreign_types_are_refused(bad: Any) -> None:
    with pytest.raises(EncodingError):
        encode(bad)


text_keyed = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner,
                                                                max_size=6),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=20), text_keyed, max_size=8))
def test_text_keyed_maps_take_the_c_encoder_and_still_follow_the_rule(value: Any) -> None:
    """Payload-shaped values go through cbrrr (encoding.encode): same bytes as the rule."""
    assert encode(value) == rule(value)


@pytest.mark.parametrize("bad", [{"a": {"b": [1, 2.5]}}, {"a": float("nan")}, {"a": -0.0}])
def test_a_float_deep_in_a_text_keyed_map_is_refused(bad: Any) -> None:
    with pytest.raises(EncodingError):
        encode(bad)
