"""The service's fast encoder writes exactly the reference deterministic encoding."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from receipts import fastcbor
from verifier.encoding import EncodingError
from verifier.encoding import encode as reference

scalars = (st.none() | st.booleans() | st.integers(-(2**64), 2**64 - 1)
           | st.text(max_size=40) | st.binary(max_size=40))
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=30), inner,
                                                                max_size=6),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(values)
def test_same_bytes_as_the_reference(value: Any) -> None:
    assert fastcbor.encode(value) == reference(value)


def test_non_text_keys_and_big_integers_go_to_the_reference() -> None:
    for value in ({1: "a", "b": 2}, {"n": 2**70}, {b"k": 1}):
        assert fastcbor.encode(value) == reference(value)


def test_floats_are_refused() -> None:
    with pytest.raises(EncodingError):
        fastcbor.encode({"cost": 1.5})
