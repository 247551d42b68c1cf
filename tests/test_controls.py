"""wslearn.controls: buttons and a slider for a LinkProxy, clicked headlessly.

A real proxy in front of a real server on loopback; the tests click buttons and move
the slider the way the front end would, then read the proxy and the widgets.
"""

from __future__ import annotations

import pytest
from support import FAST, eventually

from wslearn.client import Client
from wslearn.controls import LinkControls
from wslearn.proxy import LinkProxy, LinkState
from wslearn.server import Server


async def test_link_controls_drive_the_proxy_and_follow_it(server: Server) -> None:
    async with LinkProxy("127.0.0.1", server.port) as link:
        client = Client(f"http://127.0.0.1:{link.port}", reconnection=FAST)
        await client.connect()
        controls = LinkControls(link)
        assert controls.light.value == "🟢 up"
        controls.pause_button.click()
        assert link.state is LinkState.PAUSED and controls.pause_button.description == "Resume"
        link.resume()  # code changes the link: the controls follow
        assert controls.light.value == "🟢 up" and controls.pause_button.description == "Pause"
        controls.latency.value = 120
        assert link.latency == pytest.approx(0.12)
        controls.cut_button.click()
        await eventually(lambda: controls.error_line.value.startswith("cut 1 connection"))
        controls.plug_button.click()
        await eventually(lambda: link.state is LinkState.DOWN)
        assert controls.light.value.startswith("🔴") and controls.plug_button.description == (
            "Plug back"
        )
        controls.plug_button.click()
        assert link.state is LinkState.UP
        await eventually(lambda: client.connected)
        await controls.close()
        link.pause()
        assert controls.light.value == "🟢 up"  # unsubscribed
        link.resume()
        await client.disconnect()


async def test_a_refused_link_action_shows_on_the_error_line() -> None:
    link = LinkProxy("127.0.0.1", 9)  # never started
    controls = LinkControls(link)
    assert controls.light.value == "⚪ stopped" and controls.pause_button.disabled
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
        assert controls.light.value == "🟢 up"
        assert not any(b.disabled for b in buttons)
    assert controls.light.value == "⚪ stopped" and all(b.disabled for b in buttons)
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
