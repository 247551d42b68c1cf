"""wslearn._session: the client's URL, ack values and send buffer."""

from __future__ import annotations

import pytest

from wslearn._session import Buffered, SendBuffer, ack_data, socketio_url
from wslearn.exceptions import QueueFullError


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8000", "ws://127.0.0.1:8000/socket.io/?EIO=4&transport=websocket"),
        ("https://example.org/", "wss://example.org/socket.io/?EIO=4&transport=websocket"),
        ("ws://h:1?room=a", "ws://h:1/socket.io/?room=a&EIO=4&transport=websocket"),
        ("wss://h?EIO=3&transport=polling", "wss://h/socket.io/?EIO=4&transport=websocket"),
    ],
)
def test_socketio_url_builds_the_engineio_websocket_endpoint(url: str, expected: str) -> None:
    assert socketio_url(url) == expected


def test_socketio_url_takes_a_custom_path() -> None:
    assert socketio_url("http://h", path="/rt/") == "ws://h/rt/?EIO=4&transport=websocket"


@pytest.mark.parametrize(
    ("url", "advice"),
    [("ftp://h", "must start with"), ("http://", "no host"), ("http://h/chat", "namespaces=")],
)
def test_socketio_url_refuses_urls_it_cannot_use(url: str, advice: str) -> None:
    with pytest.raises(ValueError, match=advice):
        socketio_url(url)


@pytest.mark.parametrize(
    ("value", "args"),
    [(None, []), (3, [3]), (("a", 1), ["a", 1]), ([1, 2], [[1, 2]]), ((), [])],
)
def test_ack_data_turns_a_return_value_into_ack_arguments(
    value: object, args: list[object]
) -> None:
    assert ack_data(value) == args


def test_the_send_buffer_keeps_order_until_each_item_is_popped() -> None:
    buffer = SendBuffer(capacity=3)
    for n in range(3):
        buffer.put(Buffered("/", [f'42["n",{n}]']))
    assert len(buffer) == 3
    first = buffer.peek()
    assert first is not None and first.frames == ['42["n",0]']
    assert buffer.peek() is first  # peeking does not consume: a failed send keeps it
    assert [buffer.pop().frames[0] for _ in range(3)] == [f'42["n",{n}]' for n in range(3)]
    assert buffer.peek() is None


def test_a_full_send_buffer_refuses_and_stays_unchanged() -> None:
    buffer = SendBuffer(capacity=1)
    buffer.put(Buffered("/", ['42["a"]']))
    with pytest.raises(QueueFullError) as info:
        buffer.put(Buffered("/", ['42["b"]']))
    assert info.value.capacity == 1 and len(buffer) == 1
    assert buffer.clear() == 1 and len(buffer) == 0


def test_a_send_buffer_needs_room_for_one_emit() -> None:
    with pytest.raises(ValueError, match="at least one"):
        SendBuffer(capacity=0)
