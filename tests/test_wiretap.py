"""wslearn.wiretap: reading a captured ws:// stream as an eavesdropper would."""

from __future__ import annotations

import zlib

from wslearn.frames import Frame, Opcode, encode_frame
from wslearn.wiretap import read_capture

REQUEST = b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n\r\n"


def deflated(messages: list[bytes]) -> list[bytes]:
    """permessage-deflate payloads, one shared window, the sync tail removed."""
    compressor = zlib.compressobj(wbits=-15)
    out = []
    for message in messages:
        data = compressor.compress(message) + compressor.flush(zlib.Z_SYNC_FLUSH)
        out.append(data[:-4])
    return out


def test_masked_frames_are_read_in_the_clear() -> None:
    stream = REQUEST
    stream += encode_frame(Frame(True, Opcode.TEXT, b'40{"token":"t"}'), mask=b"\x01\x02\x03\x04")
    stream += encode_frame(Frame(True, Opcode.PING, b""), mask=b"abcd")
    stream += encode_frame(Frame(True, Opcode.BINARY, b"\x00\xff"), mask=b"wxyz")
    capture = read_capture(stream)
    assert capture.readable
    assert capture.head == REQUEST[:-4].decode()
    assert capture.messages == ['40{"token":"t"}', b"\x00\xff"]


def test_compressed_messages_are_inflated_with_the_shared_window() -> None:
    first, second = deflated([b'42["send-message","hello"]', b'42["send-message","hello"]'])
    stream = REQUEST
    stream += encode_frame(Frame(True, Opcode.TEXT, first, rsv1=True), mask=b"mask")
    stream += encode_frame(Frame(True, Opcode.TEXT, second, rsv1=True), mask=b"mask")
    assert len(second) < len(first)  # the second refers back to the first
    assert read_capture(stream).messages == ['42["send-message","hello"]'] * 2


def test_fragments_are_joined_and_a_stream_cut_mid_frame_keeps_what_came_before() -> None:
    stream = REQUEST
    stream += encode_frame(Frame(False, Opcode.TEXT, b'42["he'))
    stream += encode_frame(Frame(True, Opcode.CONT, b'llo"]'))
    whole = encode_frame(Frame(True, Opcode.TEXT, b"cut off"))
    assert read_capture(stream + whole[:4]).messages == ['42["hello"]']


def test_tls_records_reveal_nothing() -> None:
    client_hello = bytes([0x16, 0x03, 0x01, 0x00, 0x05]) + b"\x01\x00\x00\x01\x00"
    capture = read_capture(client_hello + b"\r\n\r\n")
    assert not capture.readable and capture.messages == []
