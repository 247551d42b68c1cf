"""CONNECT_ERROR payloads as real servers send them (codec fix found by interop tests).

python-socketio answers a CONNECT to a namespace it does not serve with a bare JSON
string, ``44/nope,"Unable to connect"``, where the v5 specification shows an object.
The Node parser accepts both, so the decoder does too; anything else stays an error.
"""

from __future__ import annotations

import pytest

from wslearn.exceptions import PacketError
from wslearn.packets import Decoder, Packet, PacketType


def test_a_connect_error_with_a_string_payload_decodes_as_a_str() -> None:
    packet = Decoder().feed('44/nope,"Unable to connect"')
    assert packet == Packet(PacketType.CONNECT_ERROR, "/nope", "Unable to connect")


def test_a_connect_error_with_an_object_payload_still_decodes_as_a_dict() -> None:
    packet = Decoder().feed('44{"message":"Not authorized","data":{"code":1}}')
    assert packet == Packet(
        PacketType.CONNECT_ERROR, "/", {"message": "Not authorized", "data": {"code": 1}}
    )


@pytest.mark.parametrize("frame", ["444", "44[1]", "44null", "44"])
def test_a_connect_error_with_any_other_payload_is_refused(frame: str) -> None:
    with pytest.raises(PacketError, match="CONNECT_ERROR payload must be a JSON object"):
        Decoder().feed(frame)
