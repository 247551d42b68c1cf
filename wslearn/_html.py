"""The look the notebook widgets share: a drawn status light, a stale note, placeholders.

Pure string building: no widgets, no I/O. The status light is a CSS circle, not an
emoji, so it shows without an emoji font. :data:`STYLE` rides along in the HTML of
every status line; it uses the class that ipywidgets puts on a view whose kernel has
gone (``jupyter-widgets-disconnected``, set when the kernel restarts) to grey the
light out and say what to do, since the widget itself can no longer change.
"""

from __future__ import annotations

import html

__all__ = [
    "COLORS",
    "STALE_NOTE",
    "STYLE",
    "light",
    "placeholder",
    "status_line",
]

COLORS = {
    "green": "#22a845",
    "yellow": "#e5a50a",
    "red": "#d43c3c",
    "grey": "#9a9a9a",
}
"""The light's colours (CSS), by name."""

STALE_NOTE = "kernel gone: run the notebook from the top"
"""What a widget says in place of its state once its kernel is gone."""

STYLE = (
    "<style>"
    ".wslearn-stale{display:none}"
    ".jupyter-widgets-disconnected .wslearn-stale{display:inline;color:#b02020}"
    ".jupyter-widgets-disconnected .wslearn-live{display:none}"
    ".jupyter-widgets-disconnected .wslearn-light{background:#9a9a9a !important}"
    "</style>"
)
"""Rules for the stale state (inline styles cannot select on an ancestor's class)."""


def light(color: str, label: str) -> str:
    """A round light of one of :data:`COLORS`, drawn with CSS.

    Args:
        color: a key of :data:`COLORS`.
        label: what the light means, for screen readers and the tooltip.

    Raises:
        KeyError: an unknown colour.
    """
    return (
        f'<span class="wslearn-light wslearn-light-{color}" role="img" '
        f'aria-label="{html.escape(label)}" title="{html.escape(label)}" '
        'style="display:inline-block;width:0.75em;height:0.75em;border-radius:50%;'
        f"background:{COLORS[color]};box-shadow:inset 0 0 0 1px rgba(0,0,0,0.25);"
        'margin-right:0.4em;vertical-align:-0.05em"></span>'
    )


def status_line(color: str, text: str) -> str:
    """A light and a line of text, which turn into :data:`STALE_NOTE` when the kernel goes.

    Args:
        color: a key of :data:`COLORS`.
        text: plain text (escaped here).
    """
    return (
        f"{STYLE}{light(color, text)}"
        f'<span class="wslearn-live">{html.escape(text)}</span>'
        f'<span class="wslearn-stale">{html.escape(STALE_NOTE)}</span>'
    )


def placeholder(what: str) -> str:
    """The HTML a stored notebook shows where a live widget will be.

    Args:
        what: the widget, in a few words ("Alice | Bob chat panes").
    """
    return (
        '<div class="wslearn-placeholder" style="border:1px dashed #aaa;padding:6px 10px;'
        'color:#555;font-family:sans-serif;font-size:13px">'
        f"<b>{html.escape(what)}</b>: a live widget. It appears here when this cell runs "
        "in a kernel (Run &rarr; Run All Cells); a saved notebook cannot show it.</div>"
    )
