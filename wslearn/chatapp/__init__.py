"""The chat app: the guide's "next steps" built whole, on wslearn's Server.

- :mod:`~wslearn.chatapp.rules`, :mod:`~wslearn.chatapp.history`,
  :mod:`~wslearn.chatapp.presence`: the pure state (rooms, bounded history, unread
  counts, delivery receipts, presence across tabs, typing expiry), time passed in.
- :mod:`~wslearn.chatapp.tokens`: sign-in tokens (the seam to the JWT library).
- :mod:`~wslearn.chatapp.app`: :class:`ChatApp`, the events on a Server and the
  browser page (``page/``) served on the same port.
- :mod:`~wslearn.chatapp.client`: :class:`ChatClient`, the app from Python.
- :mod:`~wslearn.chatapp.pane`: the notebook pane (imports ipywidgets; not imported
  here).

``python -m wslearn chat`` runs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["CHAT_NAMESPACE", "PAGE_DIR", "ChatApp", "ChatClient"]

if TYPE_CHECKING:
    from .app import CHAT_NAMESPACE, PAGE_DIR, ChatApp
    from .client import ChatClient


def __getattr__(name: str) -> Any:
    # Lazy, so that importing a pure submodule (rules, history, presence) does not
    # pull in asyncio through the server.
    if name in ("CHAT_NAMESPACE", "PAGE_DIR", "ChatApp"):
        from . import app

        return getattr(app, name)
    if name == "ChatClient":
        from .client import ChatClient

        return ChatClient
    raise AttributeError(f"module 'wslearn.chatapp' has no attribute {name!r}")
