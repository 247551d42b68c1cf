"""jsonwire.loads: the C scanner called directly agrees with the full decoder on every
input, whitespace, trailing data and errors included."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wslearn import jsonwire

_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
_space = st.sampled_from(["", " ", "\n", "\t ", "\r\n"])


@given(_values, _space, _space)
def test_loads_matches_json_with_any_surrounding_whitespace(
    value: object, left: str, right: str
) -> None:
    text = left + json.dumps(value, separators=(",", ":"), ensure_ascii=False) + right
    assert jsonwire.loads(text) == json.loads(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Expecting value"),
        ("  ", "Expecting value"),
        ("[1] x", "Extra data"),
        ("[1]]", "Extra data"),
        ('["a"', "Expecting ',' delimiter"),
        ("NaN", "NaN is not valid JSON"),
        ("[1, -Infinity]", "-Infinity is not valid JSON"),
        ("1e999", "too large for a float"),
    ],
)
def test_loads_refuses_what_the_full_decoder_refuses(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        jsonwire.loads(text)


def test_loads_replaces_lone_surrogates_on_the_fast_path() -> None:
    assert jsonwire.loads('["chat","a\\ud800b"]') == ["chat", "a\ufffdb"]
