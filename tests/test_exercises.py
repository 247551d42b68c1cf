"""wslearn.exercises: each check passes a right answer and says what is wrong with others.

The network checks run the "learner's" functions below against their own servers on
loopback, exactly as they run a notebook's answers.
"""

from __future__ import annotations

import asyncio
from typing import Any

import ipywidgets as w
import pytest
from support import FAST, PaneFactory
from websockets.asyncio.server import ServerConnection

from wslearn import kernel
from wslearn.backoff import Backoff
from wslearn.client import Client
from wslearn.echo import CloseEvent, EchoServer
from wslearn.exactly_once import ExactlyOnce
from wslearn.exercises import Verdict, check
from wslearn.frames import Frame, Opcode, encode_frame
from wslearn.measure import compare
from wslearn.namespace import Socket
from wslearn.server import Server

MASK = bytes.fromhex("37fa213d")


def test_a_verdict_reads_as_a_sentence_is_a_bool_and_shows_as_html() -> None:
    good, bad = Verdict("x", True, "it works"), Verdict("x", False, "try <this>")
    assert (bool(good), bool(bad)) == (True, False)
    assert repr(good) == "Correct (x): it works" and repr(bad) == "Not yet (x): try <this>"
    assert "try &lt;this&gt;" in bad._repr_html_() and "Not yet" in bad._repr_html_()


def test_an_unanswered_exercise_says_to_replace_the_dots_without_raising() -> None:
    for verdict in (
        check.accept_key("k", ...),
        check.frame_reading(..., "server"),
        check.counting_client(..., ...),
        check.push_latency(...),
        check.gave_up(..., ...),
    ):
        assert not verdict and "replace the ..." in verdict.message


async def test_a_function_whose_body_is_still_dots_is_not_run() -> None:
    async def bot_handler(websocket: Any) -> None: ...

    def make_fragments(text: str) -> None:
        pass

    for verdict in (await check.echo_handler(bot_handler), await check.fragments(make_fragments)):
        assert not verdict and "write the body of" in verdict.message
    assert "bot_handler" in (await check.echo_handler(bot_handler)).message


# -- 00, 01 ------------------------------------------------------------------------------


async def test_started_finds_a_name_in_the_kernel_registry() -> None:
    assert "nothing named 'practice' is running" in check.started("practice").message
    server = EchoServer()
    await kernel.start(server, name="practice")
    try:
        assert check.started("practice")
    finally:
        await kernel.stop("practice")


async def test_keep_alive_wants_keep_alive_rows_and_the_word_connections() -> None:
    with_keep_alive = await compare(intervals=(0.05,), updates=3, seed=1, keep_alive=True)
    without = await compare(intervals=(0.05,), updates=3, seed=1)
    assert check.keep_alive(with_keep_alive, "connections")
    assert "compare(..., keep_alive=True)" in check.keep_alive(without, "connections").message
    assert "still sends full headers" in check.keep_alive(with_keep_alive, "headers").message


def test_push_latency_must_be_at_least_the_links_delay() -> None:
    assert check.push_latency(0.104)
    assert "did you set it first" in check.push_latency(0.002).message
    assert "measure from the publish" in check.push_latency(3.0).message
    assert "number of seconds" in check.push_latency("fast").message


# -- 02 ----------------------------------------------------------------------------------


def test_accept_key_checks_the_value_and_explains_bytes() -> None:
    assert check.accept_key("dGhlIHNhbXBsZSBub25jZQ==", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    assert "base64-encode, then .decode()" in check.accept_key("k", b"x").message
    assert "SHA-1 of the key" in check.accept_key("dGhlIHNhbXBsZSBub25jZQ==", "nope").message


def test_frame_reading_wants_a_pong_from_the_server() -> None:
    assert check.frame_reading("PONG", "Server")
    assert "0xA is which one" in check.frame_reading("ping", "server").message
    assert "who never masks" in check.frame_reading("pong", "client").message


def two_fragments(text: str) -> list[bytes]:
    half = len(text) // 2
    return [
        encode_frame(Frame(False, Opcode.TEXT, text[:half].encode()), mask=MASK),
        encode_frame(Frame(True, Opcode.CONT, text[half:].encode()), mask=MASK),
    ]


def one_frame(text: str) -> list[bytes]:
    return [encode_frame(Frame(True, Opcode.TEXT, text.encode()), mask=MASK)]


def both_final(text: str) -> list[bytes]:
    return [
        encode_frame(Frame(True, Opcode.TEXT, text[:3].encode()), mask=MASK),
        encode_frame(Frame(True, Opcode.CONT, text[3:].encode()), mask=MASK),
    ]


async def test_fragments_sends_the_learners_frames_to_a_real_echo_server() -> None:
    verdict = await check.fragments(two_fragments)
    assert verdict, verdict
    assert "'Echo: Hello, frames!'" in verdict.message
    assert "split the message in two" in (await check.fragments(one_frame)).message
    assert "TEXT with FIN=0" in (await check.fragments(both_final)).message
    raised = await check.fragments(lambda text: 1 / 0)
    assert raised.message == "your code raised ZeroDivisionError: division by zero"


# -- 03 ----------------------------------------------------------------------------------


def test_counting_client_wants_three_replies_and_a_4000_close() -> None:
    three = ["a", "b", "c"]
    assert check.counting_client(three, CloseEvent(4000, "enough", True))
    assert "3 replies" not in check.counting_client(three[:2], None).message
    assert "close after the third" in check.counting_client(three[:2], None).message
    assert "use close(4000" in check.counting_client(three, CloseEvent(1000, "", True)).message


def test_bytes_echo_wants_the_same_bytes() -> None:
    assert check.bytes_echo(b"\x00\xff")
    assert "send bytes, not text" in check.bytes_echo("\x00\xff").message


async def bot(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(f"Bot: {message}" if isinstance(message, str) else message)


async def guide_style(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(f"Bot: {message}")  # bytes become the text of their repr


async def test_echo_handler_serves_the_learners_handler_and_checks_text_and_bytes() -> None:
    assert await check.echo_handler(bot)
    verdict = await check.echo_handler(guide_style)
    assert not verdict and "send bytes back as they are" in verdict.message
    wrong = await check.echo_handler(bot, prefix="Echo: ")
    assert "expected 'Echo: hi'" in wrong.message


# -- 04 ----------------------------------------------------------------------------------


def add_typing(server: Server) -> None:
    @server.on("typing")
    async def typing(socket: Socket, room_id: str) -> None:
        await socket.to(room_id).emit("user-typing", socket.data["name"])


def add_typing_to_everyone(server: Server) -> None:
    @server.on("typing")
    async def typing(socket: Socket, room_id: str) -> None:
        await server.to(room_id).emit("user-typing", socket.data["name"])


async def test_typing_handler_must_reach_the_others_in_the_room_only() -> None:
    assert await check.typing_handler(add_typing)
    verdict = await check.typing_handler(add_typing_to_everyone)
    assert "only the others in the room" in verdict.message


def add_others(server: Server) -> None:
    @server.on("send-message-others")
    async def others(socket: Socket, data: dict[str, str]) -> None:
        await socket.to(data["roomId"]).emit("receive-message", {"message": data["message"]})


def add_back_to_me(server: Server) -> None:
    @server.on("send-message-others")
    async def others(socket: Socket, data: dict[str, str]) -> None:
        await socket.emit("receive-message", {"message": data["message"]})


async def test_others_handler_leaves_the_sender_out() -> None:
    assert await check.others_handler(add_others)
    verdict = await check.others_handler(add_back_to_me)
    assert "emit receive-message to the room" in verdict.message


def add_join_that_answers(server: Server) -> None:
    @server.on("join-room")
    def join(socket: Socket, room_id: str) -> list[str]:
        socket.join(room_id)
        sockets = server.of("/").sockets
        return sorted(sockets[sid].data["name"] for sid in server.to(room_id).targets())


def add_silent_join(server: Server) -> None:
    @server.on("join-room")
    def join(socket: Socket, room_id: str) -> None:
        socket.join(room_id)


async def test_join_that_answers_wants_the_sorted_names() -> None:
    assert await check.join_that_answers(add_join_that_answers)
    verdict = await check.join_that_answers(add_silent_join)
    assert "expected the sorted names" in verdict.message


# -- 05 ----------------------------------------------------------------------------------


async def test_third_pane_wants_carol_in_alices_room(
    chat_server: Server, pane: PaneFactory
) -> None:
    alice = await pane(chat_server, "Alice")
    carol = await pane(chat_server, "Carol", room="kitchen")
    assert "move her" in check.third_pane(carol, alice).message
    await carol.join("lobby")
    await alice.wait_for(lambda p: "Carol" in p.users)
    assert check.third_pane(carol, alice)


def label_following(sock: Any) -> w.Label:
    label = w.Label()

    def show(change: dict[str, Any]) -> None:
        label.value = "online" if change["new"] else "offline"

    sock.observe(show, names="connected")
    show({"new": sock.connected})
    return label


def label_once(sock: Any) -> w.Label:
    return w.Label("online" if sock.connected else "offline")


async def test_status_label_must_follow_the_connection() -> None:
    assert await check.status_label(label_following)
    assert "observe it" in (await check.status_label(label_once)).message


# -- 06 ----------------------------------------------------------------------------------


def answering(client: Client) -> None:
    async def pong(*_: Any) -> None:
        await client.emit_now("pong")

    client.on("ping", pong)


async def test_pong_answer_keeps_a_client_that_answers_and_not_one_that_does_not() -> None:
    assert await check.pong_answer(answering)
    verdict = await check.pong_answer(lambda client: client.on("other", print))
    assert "answer each ping with a pong" in verdict.message


def test_detection_times_wants_two_settings_each_within_its_bound() -> None:
    good = {
        (0.2, 0.2): {"server": 0.3, "client": 0.35},
        (0.4, 0.2): {"server": 0.5, "client": 0.6},
    }
    assert check.detection_times(good)
    assert "at least two" in check.detection_times({(0.2, 0.2): good[(0.2, 0.2)]}).message
    late = {**good, (0.2, 0.2): {"server": 3.0, "client": 0.3}}
    assert "server took 3.00 s" in check.detection_times(late).message
    assert "no 'client' time" in check.detection_times({**good, (1, 1): {"server": 1}}).message


def test_guide_backoff_wants_the_guides_options_in_seconds() -> None:
    assert check.guide_backoff(Backoff(initial=1.0, maximum=5.0, attempts=5))
    assert "counts seconds" in check.guide_backoff(Backoff(initial=1000, maximum=5000)).message
    assert "attempts is None" in check.guide_backoff(Backoff(initial=1.0, maximum=5.0)).message
    assert "expected a Backoff" in check.guide_backoff({"initial": 1}).message


async def test_gave_up_wants_three_attempts_and_a_disconnected_client(server: Server) -> None:
    client = Client(server.url, reconnection=FAST.__class__(initial=0.02, jitter=0, attempts=3))
    attempts: list[int] = []
    failed = asyncio.Event()
    client.on("reconnect_attempt", attempts.append)
    client.on("reconnect_failed", failed.set)
    await client.connect()
    assert "wait for reconnect_failed" in check.gave_up(client, [1, 2, 3]).message
    await server.stop()
    await asyncio.wait_for(failed.wait(), 5)
    assert check.gave_up(client, attempts)
    assert "expected [1, 2, 3]" in check.gave_up(client, [1, 2]).message


async def test_deposit_handler_must_apply_each_id_once() -> None:
    balance = {"total": 0}

    def deposit(socket: Socket, amount: int) -> None:
        balance["total"] += amount

    assert (
        "wrap the handler in ExactlyOnce"
        in (await check.deposit_handler(deposit, balance)).message
    )
    balance["total"] = 0
    assert await check.deposit_handler(ExactlyOnce()(deposit), balance)


@pytest.mark.parametrize("name", ["echo_handler", "typing_handler", "pong_answer"])
async def test_a_network_check_stops_everything_it_started(name: str) -> None:
    before = asyncio.all_tasks()
    await getattr(check, name)(lambda *args: args)  # runs, and does nothing useful
    await asyncio.sleep(0.05)
    assert asyncio.all_tasks() <= before
