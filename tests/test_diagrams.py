"""wslearn.diagrams: a frame log drawn as a Mermaid sequence diagram (pure, rows by hand)."""

from __future__ import annotations

import pytest

from wslearn.backoff import Backoff
from wslearn.diagrams import Mermaid, attempt_times, describe, schedule_plot, sequence_diagram
from wslearn.framelog import FrameLog

SESSION = [
    ("received", '0{"sid":"E1","upgrades":[],"pingInterval":300,"pingTimeout":300}'),
    ("sent", "40"),
    ("received", '40{"sid":"S9"}'),
    ("sent", '420["join-room","r1"]'),
    ("received", "430[]"),
    ("received", "2"),
    ("sent", "3"),
    ("sent", '42["send-message",{"roomId":"r1","message":"a;b #1"}]'),
    ("sent", "41"),
]


def session_rows() -> FrameLog:
    log = FrameLog()
    for n, (direction, frame) in enumerate(SESSION):
        log.feed(direction, frame, at=n / 10)
    return log


def test_a_session_becomes_arrows_between_client_and_server_with_ids_relabelled() -> None:
    diagram = sequence_diagram(
        session_rows().rows(), labels={"E1": "EIO_SID", "S9": "SID"}, client="dave"
    )
    assert diagram.source.splitlines() == [
        "sequenceDiagram",
        "    participant C as dave",
        "    participant S as server",
        '    S->>C: OPEN {"sid":"EIO_SID","upgrades":[],"pingInterval":300,"pin…',  # 60 chars
        "    C->>S: CONNECT",
        '    S->>C: CONNECT {"sid":"SID"}',
        '    C->>S: EVENT join-room ack=0 ["r1"]',
        "    S->>C: ACK join-room ack=0 []",
        "    S->>C: PING",
        "    C->>S: PONG",
        '    C->>S: EVENT send-message [{"roomId":"r1","message":"a#59;b #35;1"}]',
        "    C->>S: DISCONNECT",
    ]


def test_heartbeats_can_be_left_out_and_a_long_session_is_cut_with_a_note() -> None:
    rows = session_rows().rows()
    quiet = sequence_diagram(rows, hide_heartbeats=True).source
    assert "PING" not in quiet and "PONG" not in quiet
    short = sequence_diagram(rows, limit=3).source.splitlines()
    assert len(short) == 3 + 3 + 1
    assert short[-1] == "    Note over C,S: 6 more frames not drawn"
    with pytest.raises(ValueError, match="limit must be at least 1"):
        sequence_diagram(rows, limit=0)


def test_a_diagram_shows_as_a_mermaid_block_in_markdown() -> None:
    diagram = Mermaid("sequenceDiagram\n    A->>B: hi")
    bundle = diagram._repr_mimebundle_()
    assert bundle["text/markdown"] == "```mermaid\nsequenceDiagram\n    A->>B: hi\n```"
    assert bundle["text/plain"] == repr(diagram) == diagram.source


def test_describe_names_attachments_namespaces_and_bad_frames_and_stays_short() -> None:
    log = FrameLog()
    log.feed("sent", '451-/chat,["file",{"_placeholder":true,"num":0}]', at=0)
    header, attachment = log.feed("sent", b"\x00\x01\x02", at=0)
    assert describe(header) == 'BINARY_EVENT /chat file ["<3 bytes>"]'
    assert describe(attachment) == "attachment 1/1: <3 bytes>"
    [bad] = log.feed("received", "9oops", at=0)
    assert describe(bad).endswith(")") and "(bad frame:" in describe(bad)
    assert len(describe(header, width=10)) == 10 and describe(header, width=10).endswith("…")


def test_attempt_times_are_the_running_sum_of_the_delays() -> None:
    exact = Backoff(initial=1.0, maximum=5.0, jitter=0)
    assert attempt_times(exact, attempts=5, seed=0) == [1.0, 3.0, 7.0, 12.0, 17.0]
    jittered = Backoff()
    assert attempt_times(jittered, 3, seed=4) == attempt_times(jittered, 3, seed=4)
    assert attempt_times(jittered, 3, seed=4) != attempt_times(jittered, 3, seed=5)
    assert len(attempt_times(Backoff(attempts=2), attempts=5, seed=0)) == 2


def test_the_schedule_plot_has_a_row_per_policy_and_a_dot_per_attempt() -> None:
    policies = {"no jitter": Backoff(jitter=0), "±50 % jitter": Backoff()}
    fig = schedule_plot(policies, clients=4, attempts=3)
    assert [ax.get_title(loc="left") for ax in fig.axes] == list(policies)
    for ax, policy in zip(fig.axes, policies.values(), strict=True):
        dots = [tuple(line.get_xdata()) for line in ax.get_lines()]
        assert dots == [tuple(attempt_times(policy, 3, seed=n)) for n in range(4)]
    same_instants = {x for line in fig.axes[0].get_lines() for x in line.get_xdata()}
    assert same_instants == {1.0, 3.0, 7.0}  # every client knocks at the same moments
    with pytest.raises(ValueError, match="at least one policy"):
        schedule_plot({})
