"""Tests for wslearn.envelope: what processes publish about a broadcast."""

from __future__ import annotations

import pytest

from wslearn.envelope import Envelope, decode_envelope, encode_envelope
from wslearn.exceptions import PacketError
from wslearn.rooms import ALL


def test_an_envelope_round_trips_text_and_binary_frames_and_every_target_field() -> None:
    envelope = Envelope(
        "proc-1",
        "/chat",
        ('451-["file",{"_placeholder":true,"num":0}]', b"\x00\xff\n\x01"),
        frozenset({"r1", "r2"}),
        frozenset({"muted"}),
        frozenset({"sid-9"}),
    )
    data = encode_envelope(envelope)
    assert data.endswith(b"\n\x00\xff\n\x01")  # raw bytes after the header line
    assert decode_envelope(data) == envelope


def test_everyone_travels_as_null_rooms() -> None:
    data = encode_envelope(Envelope("p", "/", ('42["x"]',)))
    assert b'"rooms":null' in data
    assert decode_envelope(data).rooms is ALL


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"no newline", "header line"),
        (b"{\n", "not JSON"),
        (b'{"v":2}\n', "version 1"),
        (b'{"v":1,"nsp":"/","frames":["x"]}\n', "origin or namespace"),
        (b'{"v":1,"origin":"p","nsp":"/","frames":[]}\n', "without frames"),
        (b'{"v":1,"origin":"p","nsp":"/","frames":[3]}\nab', "shorter"),
        (b'{"v":1,"origin":"p","nsp":"/","frames":[1]}\nab', "longer"),
        (b'{"v":1,"origin":"p","nsp":"/","frames":[true]}\n', "string or a length"),
        (b'{"v":1,"origin":"p","nsp":"/","frames":["x"],"rooms":[1]}\n', "rooms must be"),
        (b'{"v":1,"origin":"p","nsp":"/","frames":["x"],"except_sids":"s"}\n', "except_sids"),
    ],
)
def test_anything_else_is_refused_with_a_packet_error(data: bytes, says: str) -> None:
    with pytest.raises(PacketError, match=says):
        decode_envelope(data)
