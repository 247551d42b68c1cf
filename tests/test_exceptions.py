"""wslearn.exceptions: the error tree as the module docstring draws it, and the
messages users read."""

from __future__ import annotations

import builtins
import re

import pytest

from wslearn import exceptions
from wslearn.exceptions import (
    AckTimeoutError,
    ConnectFailedError,
    ConnectRefusedError,
    EventRefusedError,
    FrameError,
    HandshakeError,
    KernelLoopError,
    MessageDroppedError,
    NotConnectedError,
    PacketError,
    ProtocolError,
    QueueFullError,
    TokenError,
    UsageError,
    WslearnError,
)


def drawn_tree() -> dict[str, str]:
    """Each class in the docstring's drawing, mapped to the class drawn as its parent."""
    parents: dict[str, str] = {}
    path: list[str] = []  # the classes from the root down to the last one read
    root_column = -1
    for line in (exceptions.__doc__ or "").splitlines():
        found = re.match(r"^[\s│├└─]*([A-Z]\w*Error)\b", line)
        if found is None:
            continue
        if root_column < 0:
            root_column = found.start(1)
        depth = (found.start(1) - root_column) // 4  # each level is four columns further
        del path[depth:]
        if path:
            parents[found.group(1)] = path[-1]
        path.append(found.group(1))
    return parents


def drawn_builtins() -> dict[str, str]:
    """The classes the drawing says are "also a" builtin error, with that builtin."""
    drawing = exceptions.__doc__ or ""
    return dict(re.findall(r"(\w+Error)\s.*\(also an? (\w+Error)\)", drawing))


def test_the_drawing_shows_every_exception_and_the_classes_match_it() -> None:
    parents = drawn_tree()
    assert set(parents) | {"WslearnError"} == set(exceptions.__all__)
    for name, parent in parents.items():
        cls, drawn_parent = getattr(exceptions, name), getattr(exceptions, parent)
        wslearn_bases = [b for b in cls.__bases__ if issubclass(b, WslearnError)]
        assert wslearn_bases == [drawn_parent], name


def test_the_builtins_the_drawing_names_are_real_bases() -> None:
    drawn = drawn_builtins()
    assert drawn == {"AckTimeoutError": "TimeoutError", "ConnectFailedError": "ConnectionError"}
    for name, builtin in drawn.items():
        assert issubclass(getattr(exceptions, name), getattr(builtins, builtin)), name


def test_the_drawing_nests_protocol_and_usage_errors() -> None:
    parents = drawn_tree()
    assert {n for n, p in parents.items() if p == "ProtocolError"} == {
        "HandshakeError",
        "FrameError",
        "PacketError",
    }
    assert parents["KernelLoopError"] == "UsageError"
    assert parents["ProtocolError"] == parents["UsageError"] == "WslearnError"


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (AckTimeoutError, TimeoutError),
        (KernelLoopError, RuntimeError),
        (ConnectFailedError, ConnectionError),
    ],
)
def test_errors_that_mean_a_builtin_error_are_one_too(
    cls: type[WslearnError], builtin: type[Exception]
) -> None:
    assert issubclass(cls, builtin) and issubclass(cls, WslearnError)


def test_the_other_errors_are_not_builtin_errors() -> None:
    for cls in (ProtocolError, HandshakeError, FrameError, PacketError, UsageError):
        assert not issubclass(cls, (TimeoutError, RuntimeError, ConnectionError)), cls
    for direct in (
        ConnectRefusedError,
        EventRefusedError,
        TokenError,
        NotConnectedError,
        QueueFullError,
        MessageDroppedError,
    ):
        assert direct.__bases__ == (WslearnError,), direct


def test_a_kernel_loop_error_is_a_usage_error_and_a_runtime_error() -> None:
    with pytest.raises(UsageError):
        raise KernelLoopError("use `await` in a notebook cell")
    with pytest.raises(RuntimeError):
        raise KernelLoopError("use `await` in a notebook cell")


def test_code_that_catches_timeout_error_catches_a_missing_ack() -> None:
    try:
        raise AckTimeoutError("join-room", 5)
    except TimeoutError as exc:
        caught: BaseException = exc
    assert isinstance(caught, AckTimeoutError) and caught.event == "join-room"


# -- the messages users read ----------------------------------------------------------


def test_a_packet_error_without_data_is_its_reason() -> None:
    assert str(PacketError("empty packet")) == "empty packet"


def test_a_packet_error_shows_short_input_whole() -> None:
    assert str(PacketError("bad type", "9x")) == "bad type: '9x'"
    assert str(PacketError("bad type", b"\x09x")) == "bad type: b'\\tx'"


def test_a_packet_error_shortens_long_text_input() -> None:
    error = PacketError("not JSON", "4" + "x" * 200)
    assert str(error) == "not JSON: " + repr("4" + "x" * 56 + "...")
    assert error.data == "4" + "x" * 200  # the attribute keeps it whole


def test_a_packet_error_shortens_long_bytes_input() -> None:
    error = PacketError("stray attachment", bytes(range(100)))
    assert str(error) == "stray attachment: " + repr(bytes(range(57)) + b"...")
    assert len(str(error)) < 300


def test_a_refused_connect_names_the_namespace_and_the_server_message() -> None:
    error = ConnectRefusedError("not authorized", {"code": 401}, namespace="/admin")
    assert str(error) == "connection to namespace '/admin' refused: not authorized"
    assert (error.message, error.data, error.namespace) == (
        "not authorized",
        {"code": 401},
        "/admin",
    )
    assert "'/'" in str(ConnectRefusedError("full"))  # the main namespace by default


def test_an_ack_timeout_names_the_event_and_the_timeout() -> None:
    assert str(AckTimeoutError("send-message", 2.5)) == (
        "no acknowledgement for 'send-message' within 2.5 s"
    )
    assert str(AckTimeoutError("join-room", 5.0)).endswith("within 5 s")


def test_a_full_queue_says_what_to_do() -> None:
    error = QueueFullError(100)
    assert error.capacity == 100
    assert "full (100 messages)" in str(error)
    assert "wait for the connection to come back" in str(error)
    assert "'drop-oldest'" in str(error)


def test_a_failed_connect_names_the_url_and_what_to_check() -> None:
    error = ConnectFailedError("http://127.0.0.1:9", "connection refused")
    assert str(error).startswith("could not connect to http://127.0.0.1:9: connection refused;")
    assert "check that the server is running" in str(error)


def test_a_dropped_message_names_its_id_and_why() -> None:
    error = MessageDroppedError("m-42", "pushed out by drop-oldest")
    assert (error.entry_id, error.why) == ("m-42", "pushed out by drop-oldest")
    assert str(error) == (
        "message m-42 was dropped before the server acked it: pushed out by drop-oldest"
    )


def test_a_refused_event_keeps_its_message_and_the_details_for_the_client() -> None:
    error = EventRefusedError("slow down", retryAfter=1.5, field="message")
    assert (error.message, error.details) == ("slow down", {"retryAfter": 1.5, "field": "message"})
    assert str(error) == "event refused: slow down"


def test_a_token_error_names_the_reason_class_and_what_was_wrong() -> None:
    error = TokenError("expired", "the token has expired: get a fresh one")
    assert (error.reason, error.message) == ("expired", "the token has expired: get a fresh one")
    assert str(error) == "token refused (expired): the token has expired: get a fresh one"
