"""The chat app's page in a real Chromium: two people in two browser contexts and a
notebook-side client (a ChatClient, as the panes use) in the same room.

The app runs on an asyncio loop in a thread of its own (Playwright's sync API owns the
test's thread). Alice opens the page directly; Bob opens it through JupyterLab's
jupyter-server-proxy (``/proxy/<port>/``), the way Binder serves it. They chat both
ways with the notebook-side client, see each other's presence and typing, get their
ticks, and then the server restarts mid-conversation: the pages reconnect by
themselves and the message written meanwhile is delivered once. The screenshots are
saved as artifacts (under ``$WSLEARN_ARTIFACTS`` when set, else the test's temporary
folder); docs/chat-app.png, in the README, is a copy of one.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from wslearn.chatapp.app import PAGE_DIR, ChatApp
from wslearn.chatapp.client import ChatClient
from wslearn.chatapp.presence import Presence
from wslearn.server import Server

from .conftest import Lab

T = TypeVar("T")
WAIT = 20_000  # ms: generous bounds for a loaded machine; none decides a pass


class AppThread:
    """A ChatApp and a ChatClient on their own event loop, driven from this thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.app = self.run(self._make_app())
        self.nora: ChatClient | None = None

    async def _make_app(self) -> ChatApp:
        server = Server(static={"/": PAGE_DIR}, ping_interval=2, ping_timeout=2, close_timeout=0.5)
        return ChatApp(server, presence=Presence(grace=3.0))

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        if self.nora is not None:
            self.run(self.nora.close())
        self.run(self.app.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def chat() -> Iterator[AppThread]:
    running = AppThread()
    try:
        running.run(running.app.start())
        yield running
    finally:
        running.close()


def sign_in(page: Any, url: str, name: str) -> None:
    page.goto(url)
    page.fill("[data-testid=name]", name)
    page.click("[data-testid=sign-in-button]")
    page.wait_for_selector("[data-testid=chat]:not([hidden])", timeout=WAIT)


def say(page: Any, text: str) -> None:
    page.fill("[data-testid=text]", text)
    page.press("[data-testid=text]", "Enter")


def texts(page: Any) -> list[str]:
    return list(page.locator("[data-testid=message-list] .text").all_text_contents())


def wait_text(page: Any, text: str) -> None:
    page.wait_for_function(
        "(t) => [...document.querySelectorAll('[data-testid=message-list] .text')]"
        ".some((e) => e.textContent === t)",
        arg=text,
        timeout=WAIT,
    )


def tick_of(page: Any, text: str) -> str:
    status: str = page.evaluate(
        "(t) => { const m = [...document.querySelectorAll('.message.mine')]"
        ".find((e) => e.querySelector('.text').textContent === t);"
        " return m ? m.dataset.status : 'missing'; }",
        text,
    )
    return status


def wait_tick(page: Any, text: str, status: str) -> None:
    page.wait_for_function(
        "([t, s]) => [...document.querySelectorAll('.message.mine')]"
        ".some((e) => e.querySelector('.text').textContent === t && e.dataset.status === s)",
        arg=[text, status],
        timeout=WAIT,
    )


async def _texts_of(client: ChatClient) -> list[str]:
    return [line.text for line in client.lines("lobby")]  # read on the client's loop


def test_two_browsers_and_a_notebook_client_chat_through_a_server_restart(
    browser: Any, lab: Lab, chat: AppThread, tmp_path: Path
) -> None:
    artifacts = Path(os.environ.get("WSLEARN_ARTIFACTS", tmp_path))
    artifacts.mkdir(parents=True, exist_ok=True)
    app = chat.app
    port = app.server.port
    errors: list[str] = []
    alice_ctx = browser.new_context(viewport={"width": 1100, "height": 720})
    bob_ctx = browser.new_context(viewport={"width": 1100, "height": 720})
    try:
        alice, bob = alice_ctx.new_page(), bob_ctx.new_page()
        for page in (alice, bob):
            page.on("pageerror", lambda exc: errors.append(str(exc)))
        sign_in(alice, app.page_url, "Alice")
        # Bob comes through JupyterLab's proxy, as on Binder (the token cookie first).
        bob.goto(f"{lab.url}lab?token={lab.token}")
        sign_in(bob, f"{lab.url}proxy/{port}/", "Bob")
        nora = chat.nora = ChatClient(app.url, "Nora")
        chat.run(nora.connect())

        # Presence: everyone once, on both pages.
        for page in (alice, bob):
            page.wait_for_function(
                "() => document.querySelector('[data-testid=presence]').textContent"
                " === 'online: Alice, Bob, Nora'",
                timeout=WAIT,
            )
        light = alice.get_attribute("[data-testid=light]", "data-state")
        assert light == "connected"

        # A message from the browser reaches the other browser and the notebook side.
        say(alice, "hello from Alice's browser")
        wait_text(bob, "hello from Alice's browser")
        chat.run(
            nora.wait_for(
                lambda c: [line.text for line in c.lines()] == ["hello from Alice's browser"],
                timeout=20,
            )
        )
        wait_tick(alice, "hello from Alice's browser", "delivered")

        # And one from the notebook side reaches both pages.
        chat.run(nora.send("hi both, from the notebook"))
        wait_text(alice, "hi both, from the notebook")
        wait_text(bob, "hi both, from the notebook")
        chat.run(nora.wait_for(lambda c: c.lines()[-1].status == "delivered", timeout=20))

        # Typing: Bob's keystrokes show on Alice's page and on the notebook side.
        bob.type("[data-testid=text]", "sounds good, see you there", delay=20)
        alice.wait_for_function(
            "() => document.querySelector('[data-testid=typing]').textContent"
            ".startsWith('Bob is typing')",
            timeout=WAIT,
        )
        chat.run(nora.wait_for(lambda c: c.typing() == ["Bob"], timeout=20))
        bob.press("[data-testid=text]", "Enter")
        wait_text(alice, "sounds good, see you there")
        alice.wait_for_function(
            "() => document.querySelector('[data-testid=typing]').textContent === ''",
            timeout=WAIT,
        )

        # Rooms: Nora opens "python"; Alice joins it, goes back to the lobby, and the
        # room list counts what she has not read there.
        chat.run(nora.join("python", create=True))
        alice.click("[data-room=python]", timeout=WAIT)
        alice.wait_for_function(
            "() => document.querySelector('[data-testid=room-title]').textContent === '# python'",
            timeout=WAIT,
        )
        alice.click("[data-room=lobby]")
        chat.run(nora.send("news in python"))
        alice.wait_for_selector("[data-testid=unread-python]", timeout=WAIT)
        assert alice.text_content("[data-testid=unread-python]") == "1"
        chat.run(nora.show("lobby"))
        alice.screenshot(path=str(artifacts / "chat-app.png"))

        # The server restarts mid-conversation.
        chat.run(app.stop())
        alice.wait_for_function(
            "() => document.querySelector('[data-testid=light]').dataset.state === 'reconnecting'",
            timeout=WAIT,
        )
        say(alice, "written while the server was down")
        assert tick_of(alice, "written while the server was down") == "queued"
        alice.screenshot(path=str(artifacts / "chat-app-reconnecting.png"))
        chat.run(app.start(port=port))
        for page in (alice, bob):
            page.wait_for_function(
                "() => document.querySelector('[data-testid=light]').dataset.state"
                " === 'connected'",
                timeout=WAIT,
            )
        wait_text(bob, "written while the server was down")
        chat.run(
            nora.wait_for(
                lambda c: c.lines("lobby")[-1].text == "written while the server was down",
                timeout=20,
            )
        )
        wait_tick(alice, "written while the server was down", "delivered")
        # Once each: no duplicate on any side, nothing lost.
        expected = [
            "hello from Alice's browser",
            "hi both, from the notebook",
            "sounds good, see you there",
            "written while the server was down",
        ]
        assert texts(bob) == expected
        assert texts(alice) == expected
        assert chat.run(_texts_of(nora)) == expected
        assert [m.text for m in app.book.room("lobby").history] == expected
        assert errors == []
        assert (artifacts / "chat-app.png").stat().st_size > 0
    finally:
        alice_ctx.close()
        bob_ctx.close()
