"""wslearn.controls: link controls and the "stop everything" panel, clicked headlessly.

A real proxy in front of a real server on loopback; the tests click buttons and move
the slider the way the front end would, then read the proxy and the widgets.
"""

from __future__ import annotations

import pytest
from support import FAST, eventually

from wslearn.client import Client, ClientState
from wslearn.controls import KernelPanel, LinkControls
from wslearn.echo import EchoServer
from wslearn.kernel import Registry
from wslearn.proxy import LinkProxy, LinkState
from wslearn.server import Server


async def test_link_controls_drive_the_proxy_and_follow_it(server: Server) -> None:
    async with LinkProxy("127.0.0.1", server.port) as link:
        client = Client(f"http://127.0.0.1:{link.port}", reconnection=FAST)
        await client.connect()
        controls = LinkControls(link)
        assert controls.state_text == "up"
        controls.pause_button.click()
        assert link.state is LinkState.PAUSED and controls.pause_button.description == "Resume"
        assert "wslearn-light-yellow" in controls.light.value
        link.resume()  # code changes the link: the controls follow
        assert controls.state_text == "up" and controls.pause_button.description == "Pause"
        controls.latency.value = 120
        assert link.latency == pytest.approx(0.12)
        controls.cut_button.click()
        await eventually(lambda: controls.error_line.value.startswith("cut 1 connection"))
        controls.plug_button.click()
        await eventually(lambda: link.state is LinkState.DOWN)
        assert controls.state_text == "down (unplugged)" and controls.plug_button.description == (
            "Plug back"
        )
        controls.plug_button.click()
        assert link.state is LinkState.UP
        await eventually(lambda: client.connected)
        shown = controls.light.value
        assert "wslearn-light-green" in shown and "link up" in shown
        await controls.close()
        link.pause()
        assert controls.light.value == shown  # unsubscribed: the light did not follow
        link.resume()
        await client.disconnect()


async def test_a_refused_link_action_shows_on_the_error_line() -> None:
    link = LinkProxy("127.0.0.1", 9)  # never started
    controls = LinkControls(link)
    assert controls.state_text == "stopped" and controls.pause_button.disabled
    controls.cut_button.click()
    await eventually(lambda: "not running" in controls.error_line.value)
    await controls.close()


async def test_the_controls_follow_a_link_that_starts_and_stops() -> None:
    link = LinkProxy("127.0.0.1", 9)  # nothing needs to listen there: no client connects
    link.set_latency(0.25)
    controls = LinkControls(link)
    assert controls.latency.value == 250  # the slider starts where the link is
    buttons = (controls.pause_button, controls.cut_button, controls.plug_button)
    assert all(b.disabled for b in buttons)
    async with link:
        assert controls.state_text == "up"
        assert not any(b.disabled for b in buttons)
    assert controls.state_text == "stopped" and all(b.disabled for b in buttons)
    await controls.close()


async def test_a_refused_pause_shows_on_the_error_line_instead_of_raising() -> None:
    link = LinkProxy("127.0.0.1", 9)  # never started
    controls = LinkControls(link)
    controls.pause_button.click()  # a disabled button can still be clicked from code
    assert "cannot pause() while the link is stopped" in controls.error_line.value
    assert link.state is LinkState.STOPPED
    await controls.close()
    assert controls.widget.comm is None and controls.light.comm is None


async def test_the_controls_show_as_a_widget_with_a_short_text_form() -> None:
    controls = LinkControls(LinkProxy("127.0.0.1", 9))
    bundle = controls._repr_mimebundle_()
    assert bundle["text/plain"] == "<LinkControls>" == repr(controls)
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "wslearn-link-controls" in controls.widget._dom_classes
    await controls.close()


# -- the "stop everything" panel ---------------------------------------------------------


async def test_the_kernel_panel_lists_what_runs_and_its_button_stops_it_all() -> None:
    registry = Registry()
    server = Server()
    await registry.start(server, name="chat")
    link = LinkProxy("127.0.0.1", server.port)
    await registry.start(link, name="link")
    client = Client(server.url, reconnection=FAST)
    await registry.connect(client, name="alice")
    panel = KernelPanel(registry)
    assert repr(panel).splitlines()[0] == "3 running in this kernel, oldest first:"
    assert "Click 'Stop everything'" in repr(panel)
    listed = panel.listing.value
    assert all(f"<code>{name}</code>" in listed for name in ("chat", "link", "alice"))
    assert not panel.stop_button.disabled
    panel.stop_button.click()
    await eventually(lambda: "Nothing is running now" in panel.result.value)
    assert "Stopped: alice, link, chat." in panel.result.value  # newest first
    assert not server.running and link.state is LinkState.STOPPED
    assert client.state is ClientState.CLOSED
    assert "nothing is running" in panel.listing.value and panel.stop_button.disabled
    panel.close()


async def test_the_panel_follows_the_registry_and_a_new_panel_replaces_the_old_one() -> None:
    registry = Registry()
    first = KernelPanel(registry)
    assert "nothing is running" in first.listing.value
    server = await EchoServer().start()
    registry.keep(server, name="echo")
    assert "<code>echo</code>" in first.listing.value
    second = KernelPanel(registry)
    assert first.closed and first.widget.comm is None
    registry.forget(server)
    assert "nothing is running" in second.listing.value
    bundle = second._repr_mimebundle_()
    assert bundle["text/plain"].startswith("nothing is running in this kernel")
    assert "Stop everything" in bundle["text/html"]
    second.close()
    await server.stop()


async def test_link_controls_are_kept_in_the_registry_and_closing_them_leaves_the_link() -> None:
    registry = Registry()
    async with LinkProxy("127.0.0.1", 9) as link:
        controls = LinkControls(link, registry=registry)
        again = LinkControls(link, registry=registry)
        await registry.settle()
        assert controls.closed and not again.closed
        assert [e.name for e in registry.running()] == ["link controls"]
        await again.close()
        assert registry.running() == () and link.state is LinkState.UP
