"""Tests for wslearn.static: the resolver alone, then served by a real Server."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
import socketio
from support import ServerFactory

from wslearn.exceptions import UsageError
from wslearn.static import HTML_POLICY, StaticFiles, content_type


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A folder with a page, a script, a sub-folder, hidden files and a secret beside it."""
    root = tmp_path / "site"
    (root / "sub").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "index.html").write_text("<!doctype html><title>home</title>")
    (root / "app.js").write_text("console.log('hi')")
    (root / "style.CSS").write_text("body{}")
    (root / "sub" / "index.html").write_text("sub page")
    (root / "sub" / "a b.txt").write_text("spaced")
    (root / ".env").write_text("SECRET=1")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core]")
    (tmp_path / "secret.txt").write_text("outside")
    return root


def test_the_root_serves_index_html_with_its_type_and_policy(site: Path) -> None:
    reply = StaticFiles({"/": site}).respond("GET", "/")
    assert reply.status == 200
    assert reply.body == b"<!doctype html><title>home</title>"
    assert reply.headers["Content-Type"] == "text/html; charset=utf-8"
    assert reply.headers["Content-Length"] == str(len(reply.body))
    assert reply.headers["Content-Security-Policy"] == HTML_POLICY
    assert reply.headers["X-Content-Type-Options"] == "nosniff"


def test_files_get_their_content_type_from_the_fixed_table(site: Path) -> None:
    files = StaticFiles({"/": site})
    assert files.respond("GET", "/app.js").headers["Content-Type"] == (
        "text/javascript; charset=utf-8"
    )
    assert files.respond("GET", "/style.CSS").headers["Content-Type"] == "text/css; charset=utf-8"
    assert content_type("x.unknown") == "application/octet-stream"
    assert content_type("logo.SVG") == "image/svg+xml"
    assert "Content-Security-Policy" not in files.respond("GET", "/app.js").headers


def test_head_has_the_headers_of_get_and_no_body(site: Path) -> None:
    files = StaticFiles({"/": site})
    get, head = files.respond("GET", "/app.js"), files.respond("HEAD", "/app.js")
    assert head.status == 200 and head.body == b""
    assert head.headers == get.headers
    assert head.headers["Content-Length"] == str(len(get.body))


def test_a_query_string_is_ignored_and_percent_encoding_decoded(site: Path) -> None:
    files = StaticFiles({"/": site})
    assert files.respond("GET", "/app.js?v=3").body == b"console.log('hi')"
    assert files.respond("GET", "/sub/a%20b.txt").body == b"spaced"


def test_a_folder_serves_its_index_and_without_slash_redirects(site: Path) -> None:
    files = StaticFiles({"/": site})
    assert files.respond("GET", "/sub/").body == b"sub page"
    moved = files.respond("GET", "/sub")
    assert moved.status == 301 and moved.headers["Location"] == "/sub/"


def test_folders_are_never_listed(site: Path) -> None:
    reply = StaticFiles({"/": site}).respond("GET", "/empty/")
    assert reply.status == 404
    assert "no index.html" in reply.text
    assert "empty" in reply.text


@pytest.mark.parametrize(
    "target",
    [
        "/../secret.txt",
        "/sub/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/sub%2f..%2f..%2fsecret.txt",
        "/..%5csecret.txt",
        "/app.js%00.html",
        "/.env",
        "/.git/config",
        "/sub/%2e%2e/.env",
        "/%ff%fe",
        "/missing.html",
    ],
)
def test_paths_that_leave_the_folder_or_name_hidden_files_are_404(site: Path, target: str) -> None:
    reply = StaticFiles({"/": site}).respond("GET", target)
    assert reply.status == 404, target
    assert reply.text.startswith("Not Found: no file at ")
    assert b"outside" not in reply.body and b"SECRET" not in reply.body


def test_a_symbolic_link_out_of_the_folder_is_not_followed(site: Path) -> None:
    os.symlink(site.parent / "secret.txt", site / "link.txt")
    os.symlink(site / "app.js", site / "inside.js")
    files = StaticFiles({"/": site})
    assert files.respond("GET", "/link.txt").status == 404
    assert files.respond("GET", "/inside.js").status == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"])
def test_other_methods_get_405_naming_what_is_allowed(site: Path, method: str) -> None:
    reply = StaticFiles({"/": site}).respond(method, "/")
    assert reply.status == 405
    assert reply.headers["Allow"] == "GET, HEAD"
    assert "GET and HEAD" in reply.text and method in reply.text


def test_the_longest_prefix_wins_and_a_bare_prefix_redirects(site: Path, tmp_path: Path) -> None:
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    (pictures / "cat.png").write_bytes(b"\x89PNG")
    files = StaticFiles({"/": site, "/img": pictures})
    assert files.respond("GET", "/img/cat.png").headers["Content-Type"] == "image/png"
    assert files.respond("GET", "/img").headers["Location"] == "/img/"
    assert files.respond("GET", "/cat.png").status == 404
    only_img = StaticFiles({"/img/": pictures})
    assert only_img.respond("GET", "/index.html").status == 404


def test_bad_mounts_are_refused_when_configured(site: Path) -> None:
    with pytest.raises(UsageError, match="starts with '/'"):
        StaticFiles({"img/": site})
    with pytest.raises(UsageError, match="not a directory"):
        StaticFiles({"/": site / "app.js"})
    with pytest.raises(UsageError, match="at least one mount"):
        StaticFiles({})


# -- served by a Server, over real HTTP -------------------------------------------------


async def http_request(port: int, request_line: str) -> tuple[int, dict[str, str], bytes]:
    """Send one raw HTTP/1.1 request (the path exactly as given) and read the reply."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"{request_line}\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 5)  # the server closes after replying
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return int(status_line.split()[1]), headers, body


async def test_a_server_serves_the_page_beside_socketio_on_one_port(
    make_server: ServerFactory, site: Path
) -> None:
    server = await make_server(static={"/": site})
    status, headers, body = await http_request(server.port, "GET / HTTP/1.1")
    assert status == 200 and body == b"<!doctype html><title>home</title>"
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Connection"] == "close" and "Date" in headers

    # The same port still speaks Socket.IO.
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(server.url, transports=["websocket"], wait_timeout=5)
    assert client.connected
    await client.disconnect()


async def test_a_server_refuses_traversal_and_other_methods_over_http(
    make_server: ServerFactory, site: Path
) -> None:
    server = await make_server(static={"/": site})
    status, _, body = await http_request(server.port, "GET /../secret.txt HTTP/1.1")
    assert status == 404 and b"outside" not in body
    status, _, body = await http_request(server.port, "GET /%2e%2e/secret.txt HTTP/1.1")
    assert status == 404
    status, headers, _ = await http_request(server.port, "DELETE /app.js HTTP/1.1")
    assert status == 405 and headers["Allow"] == "GET, HEAD"
    status, headers, body = await http_request(server.port, "HEAD /app.js HTTP/1.1")
    assert status == 200 and body == b"" and headers["Content-Length"] == "17"


async def test_without_static_other_paths_are_still_a_404_naming_the_endpoint(
    make_server: ServerFactory,
) -> None:
    server = await make_server()
    status, _, body = await http_request(server.port, "GET / HTTP/1.1")
    assert status == 404 and b"/socket.io/" in body
