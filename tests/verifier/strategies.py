"""Hypothesis strategies shared by the verifier's property tests: CBOR-able values."""

from __future__ import annotations

from hypothesis import strategies as st

texts = st.text(max_size=12)
scalars = st.one_of(st.integers(min_value=-(2**64), max_value=2**64 - 1), texts,
                    st.binary(max_size=16), st.booleans(), st.none())
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(texts, inner, max_size=5)),
    max_leaves=20,
)
"""Any value the format's encoder accepts: integers, text, bytes, booleans, null, lists, maps."""
