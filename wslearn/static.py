"""Static files next to the Socket.IO endpoint: a small, safe resolver.

A browser page and its Socket.IO server are easiest to run from one port: the page
loads from ``http://host:port/`` and its script connects back to the same origin.
:class:`StaticFiles` turns one HTTP request (method, target) into one complete
response (status, headers, body), reading from the folders it was given::

    files = StaticFiles({"/": "wslearn/chatapp/page"})
    reply = files.respond("GET", "/")          # index.html
    reply.status, reply.headers["Content-Type"], len(reply.body)

It is a resolver, not a web server: no sockets and no asyncio here
(:class:`~wslearn.server.Server` calls it for every request that is not for
``/socket.io/``; pass ``Server(static={"/": folder})``). What it promises:

======  =============================================================================
200     a regular file under a mounted folder; ``HEAD`` gets the same headers and no
        body. A folder's ``index.html`` answers for the folder (``/`` and ``/sub/``).
301     a folder asked for without its trailing slash: ``Location`` adds it, so the
        page's relative links resolve inside the folder.
404     anything else: a missing file, a folder without ``index.html`` (folders are
        never listed), a path that tries to leave the folder (``..``, an encoded
        ``%2e%2e`` or ``%2f``, a backslash, a NUL, a symbolic link pointing outside),
        and hidden names (``.git``, ``.env``: any segment starting with a dot).
405     a method other than GET and HEAD; ``Allow: GET, HEAD`` says what works.
======  =============================================================================

Every body that is not a file says in plain text what happened. Content types come
from a fixed table (the platform's ``mimetypes`` differs between machines), text
types carry ``charset=utf-8``, and every response has ``X-Content-Type-Options:
nosniff`` so a browser never guesses a type; HTML also gets a Content-Security-Policy
that allows scripts, styles and connections from the page's own origin only.
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .exceptions import UsageError

__all__ = [
    "CONTENT_TYPES",
    "HTML_POLICY",
    "MAX_FILE_SIZE",
    "StaticFiles",
    "StaticResponse",
    "content_type",
]

CONTENT_TYPES: Mapping[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".ico": "image/x-icon",
    ".webp": "image/webp",
    ".woff2": "font/woff2",
}
"""File suffix (lower case) to ``Content-Type``; anything else is binary."""

DEFAULT_TYPE = "application/octet-stream"

HTML_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; object-src 'none'"
)
"""The Content-Security-Policy sent with HTML: the page may only load and connect to
its own origin (which covers its WebSocket), never inline or remote scripts."""

MAX_FILE_SIZE = 16 * 2**20
"""Files larger than this are not served (the whole file is read into memory)."""

ALLOWED_METHODS = ("GET", "HEAD")


def content_type(path: str) -> str:
    """The ``Content-Type`` for a file name, from :data:`CONTENT_TYPES`."""
    return CONTENT_TYPES.get(posixpath.splitext(path)[1].lower(), DEFAULT_TYPE)


@dataclass(frozen=True)
class StaticResponse:
    """One complete HTTP response.

    Attributes:
        status: the HTTP status code.
        headers: header names and values (``Content-Length`` always included).
        body: the bytes to send (empty for ``HEAD``).
    """

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (for messages and tests)."""
        return self.body.decode("utf-8", errors="replace")


def _text(status: int, message: str, method: str, **extra: str) -> StaticResponse:
    body = (message + "\n").encode()
    headers = {
        "Content-Type": "text/plain; charset=utf-8",
        "Content-Length": str(len(body)),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
        **extra,
    }
    return StaticResponse(status, headers, b"" if method == "HEAD" else body)


class StaticFiles:
    """Serve the files of some folders, each mounted at a URL prefix.

    Args:
        mounts: URL prefix to folder, e.g. ``{"/": "page", "/img/": "pictures"}``.
            A prefix starts and ends with ``/``; the longest matching prefix wins.

    Raises:
        UsageError: a prefix is malformed, or a folder does not exist.
    """

    def __init__(self, mounts: Mapping[str, str | os.PathLike[str]]) -> None:
        if not mounts:
            raise UsageError('static needs at least one mount, e.g. {"/": "folder"}')
        resolved: dict[str, Path] = {}
        for prefix, folder in mounts.items():
            if not isinstance(prefix, str) or not prefix.startswith("/"):
                raise UsageError(f"a static prefix starts with '/', got {prefix!r}")
            if not prefix.endswith("/"):
                prefix += "/"
            root = Path(folder).resolve()
            if not root.is_dir():
                raise UsageError(f"static folder for {prefix!r} is not a directory: {root}")
            resolved[prefix] = root
        # Longest prefix first, so "/img/" is tried before "/".
        self.mounts: dict[str, Path] = dict(
            sorted(resolved.items(), key=lambda item: len(item[0]), reverse=True)
        )

    def __repr__(self) -> str:
        shown = ", ".join(f"{prefix!r}: {str(root)!r}" for prefix, root in self.mounts.items())
        return f"StaticFiles({{{shown}}})"

    def respond(self, method: str, target: str) -> StaticResponse:
        """Answer one request.

        Args:
            method: the HTTP method, e.g. ``"GET"``.
            target: the request target as sent: path and optional query
                (percent-encoded, as on the request line).

        Returns:
            The response to send, complete with headers (see the module table).
        """
        if method not in ALLOWED_METHODS:
            return _text(
                405,
                f"Method Not Allowed: static files answer GET and HEAD, not {method}",
                method,
                Allow=", ".join(ALLOWED_METHODS),
            )
        raw_path = urlsplit(target).path or "/"
        for prefix, root in self.mounts.items():
            if raw_path == prefix.rstrip("/") and prefix != "/":
                return self._redirect(method, raw_path + "/")
            if raw_path.startswith(prefix):
                return self._serve(method, root, raw_path, raw_path[len(prefix) :])
        return _not_found(method, raw_path)

    def _serve(self, method: str, root: Path, raw_path: str, rest: str) -> StaticResponse:
        segments = _safe_segments(rest)
        if segments is None:
            return _not_found(method, raw_path)
        candidate = root.joinpath(*segments)
        try:
            real = candidate.resolve(strict=True)
        except (OSError, RuntimeError):  # missing, or a symlink loop
            return _not_found(method, raw_path)
        if real != root and root not in real.parents:
            return _not_found(method, raw_path)  # a symbolic link out of the folder
        try:
            info = real.stat()
        except OSError:
            return _not_found(method, raw_path)
        if stat.S_ISDIR(info.st_mode):
            if not raw_path.endswith("/"):
                return self._redirect(method, raw_path + "/")
            real = real / "index.html"
            try:
                info = real.stat()
            except OSError:
                return _not_found(method, raw_path, "this folder has no index.html")
        if not stat.S_ISREG(info.st_mode):
            return _not_found(method, raw_path)
        if info.st_size > MAX_FILE_SIZE:
            return _not_found(method, raw_path, "the file is too large to serve")
        try:
            body = real.read_bytes()
        except OSError:
            return _not_found(method, raw_path)
        kind = content_type(real.name)
        headers = {
            "Content-Type": kind,
            "Content-Length": str(len(body)),
            "X-Content-Type-Options": "nosniff",
            # The page is served from a development checkout: always revalidate.
            "Cache-Control": "no-cache",
        }
        if kind.startswith("text/html"):
            headers["Content-Security-Policy"] = HTML_POLICY
            headers["Referrer-Policy"] = "no-referrer"
        return StaticResponse(200, headers, b"" if method == "HEAD" else body)

    def _redirect(self, method: str, location: str) -> StaticResponse:
        return _text(301, f"Moved Permanently: see {location}", method, Location=location)


def _not_found(method: str, raw_path: str, why: str = "") -> StaticResponse:
    shown = raw_path if len(raw_path) <= 200 else raw_path[:200] + "..."
    reason = f" ({why})" if why else ""
    return _text(404, f"Not Found: no file at {shown}{reason}", method)


def _safe_segments(rest: str) -> list[str] | None:
    """Split the part of a path after its prefix into safe, decoded segments.

    Returns None for anything that could name a file outside the folder or a hidden
    one: each raw segment is decoded on its own, so an encoded ``/`` or ``..`` stays
    inside its segment, where it is refused.
    """
    segments: list[str] = []
    for raw in rest.split("/"):
        if raw == "":
            continue  # "a//b" and a trailing slash
        try:
            segment = unquote(raw, errors="strict")
        except UnicodeDecodeError:
            return None
        if (
            segment.startswith(".")
            or "/" in segment
            or "\\" in segment
            or "\x00" in segment
            or not segment.isprintable()
        ):
            return None
        segments.append(segment)
    return segments
