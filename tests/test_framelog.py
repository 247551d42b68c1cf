"""wslearn.framelog: frames decoded into rows, fed by hand with the times (pure)."""

from __future__ import annotations

import pytest

from wslearn.framelog import FrameLog, FrameRow, relabel

# -- FrameLog and FrameRow, frames fed by hand ----------------------------------------


def test_the_frame_log_keeps_at_most_max_frames() -> None:
    log = FrameLog(max_frames=5, start=100.0)
    for n in range(20):
        log.feed("received", "2", at=100.0 + n)
    rows = log.rows()
    assert len(rows) == 5 and log.total == 20
    assert [row.index for row in rows] == [16, 17, 18, 19, 20]
    assert rows[-1].at == 19.0 and rows[-1].engine == "PING"


def test_the_frame_log_shows_protocol_errors_and_recovers() -> None:
    log = FrameLog()
    (bad,) = log.feed("received", b"\x00stray", at=0.0)
    assert bad.engine == "?" and "no packet announced" in bad.error
    assert log.feed("sent", '451-["up",{"_placeholder":true,"num":0}]', at=1.0) == []
    # The connection drops mid-packet; the next connection starts with OPEN.
    (opened,) = log.feed("received", '0{"sid":"s"}', at=2.0)
    assert opened.engine == "OPEN"
    (connect,) = log.feed("sent", "40", at=3.0)
    assert connect.socketio == "CONNECT" and connect.error == ""


def test_a_row_as_text_leaves_out_index_time_and_size() -> None:
    row = FrameRow(index=7, direction="↓", at=12.5, size=99, engine="PING", payload="probe")
    assert str(row) == "↓ PING probe"
    acked = FrameRow(
        index=1,
        direction="↑",
        at=0.0,
        size=9,
        engine="MESSAGE",
        socketio="ACK",
        namespace="/chat",
        event="join-room",
        ack=3,
        payload="[true]",
    )
    assert str(acked) == "↑ MESSAGE ACK /chat join-room ack=3 [true]"
    broken = FrameRow(index=2, direction="↓", at=0.0, size=1, engine="?", error="bad type")
    assert str(broken) == "↓ ? ERROR: bad type"


def test_an_ack_row_names_the_event_it_answers() -> None:
    log = FrameLog()
    (ask,) = log.feed("sent", '4212["join-room","lobby"]', at=0.0)
    (answer,) = log.feed("received", "4312[true]", at=0.5)
    assert (ask.event, ask.ack) == ("join-room", 12)
    assert (answer.socketio, answer.event, answer.ack, answer.payload) == (
        "ACK",
        "join-room",
        12,
        "[true]",
    )
    (unasked,) = log.feed("received", "4399[1]", at=1.0)  # an id nobody sent
    assert unasked.event == ""


def test_long_payloads_are_shortened_in_rows() -> None:
    log = FrameLog()
    (row,) = log.feed("sent", '42["say","' + "x" * 500 + '"]', at=0.0)
    assert len(row.payload) == 80 and row.payload.endswith("…")
    assert row.size == len('42["say","' + "x" * 500 + '"]')


def test_clearing_the_log_keeps_counting() -> None:
    log = FrameLog()
    log.feed("received", "2", at=0.0)
    log.clear()
    assert log.rows() == ()
    (row,) = log.feed("sent", "3", at=1.0)
    assert (row.index, log.total) == (2, 2)


def test_the_frame_log_refuses_a_bad_direction_and_a_bad_size() -> None:
    with pytest.raises(ValueError, match="max_frames"):
        FrameLog(max_frames=0)
    with pytest.raises(ValueError, match="'sent' or 'received'"):
        FrameLog().feed("sideways", "2", at=0.0)


def test_relabel_swaps_random_ids_in_the_payload_only() -> None:
    log = FrameLog()
    [row] = log.feed("received", '40{"sid":"Xy12"}', at=0.0)
    shown = relabel(row, {"Xy12": "SID", "": "never"})
    assert shown.payload == '{"sid":"SID"}' and row.payload == '{"sid":"Xy12"}'
    assert (shown.index, shown.socketio) == (row.index, "CONNECT")
