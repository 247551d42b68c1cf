"""permessage-deflate with a size threshold and a compressor made only when needed.

WebSocket compression (RFC 7692) deflates each message and sets the RSV1 bit of its
first frame. It saves bytes on large, repetitive messages and costs CPU and memory
on every connection that negotiated it. Two changes to the ``websockets`` extension
make it cheap where it does not help:

- **A threshold**: a message under :attr:`Compression.threshold` bytes (1024 by
  default, as Socket.IO's ``perMessageDeflate.threshold``) goes out as is, RSV1
  clear. The receiver needs nothing special: a frame without RSV1 is not inflated,
  so neither side's sliding window sees it and context takeover stays in sync.
- **Laziness**: the compressor (about 25 KiB with 12-bit windows) is created when the
  first large message needs it, and the decompressor when the first compressed
  message arrives, instead of at the handshake. Most chat connections never send a
  large message, so most never pay for either.

Use a :class:`Compression` to describe the settings, then hand its factories to
``websockets``::

    settings = Compression(threshold=1024)
    serve(handler, host, port, compression=None,
          extensions=[settings.server_factory()])
    connect(uri, compression=None, extensions=[settings.client_factory()])

A broadcast to many compressing clients can compress once instead of once per
recipient when the server does not keep its sliding window between messages
(``server_no_context_takeover``, the default here): see :func:`sharing_key` and
:func:`prepare_shared`.

This module subclasses ``websockets.extensions.permessage_deflate`` and relies on
attributes of it (``encoder``, ``decoder``, ``compress_settings``, ``local_*`` and
``remote_*``); ``pyproject.toml`` pins the minor version and
``tests/test_compression.py`` fails loudly when those internals change.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from websockets.exceptions import NegotiationError
from websockets.extensions.base import Extension, ServerExtensionFactory
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)
from websockets.frames import CONT, CTRL_OPCODES, Frame
from websockets.headers import build_extension, parse_extension
from websockets.typing import ExtensionParameter

from .exceptions import UsageError

__all__ = [
    "DEFAULT_THRESHOLD",
    "Compression",
    "SharedMessage",
    "SharingKey",
    "ThresholdDeflate",
    "ThresholdDeflateClientFactory",
    "ThresholdDeflateServerFactory",
    "negotiate",
    "prepare_shared",
    "sharing_key",
]

DEFAULT_THRESHOLD = 1024
"""Messages shorter than this many bytes are sent uncompressed (Socket.IO's default)."""

_SYNC_TAIL = b"\x00\x00\xff\xff"  # what Z_SYNC_FLUSH appends; RFC 7692 strips it


@dataclass(frozen=True)
class Compression:
    """Settings of permessage-deflate with a threshold, for a server or a client.

    The defaults are chosen for a server with many mostly idle connections (the
    measurements behind them are in ``docs/compression.md``):

    - neither side keeps its sliding window between messages (no context
      takeover): the server holds no zlib state between messages at all, so a
      connection that negotiated compression costs about what one without it does
      (13.4 against 12.9 KiB idle, 18.0 against 17.5 after a 2 KiB message), and
      every recipient of a broadcast can share one compressed frame. The price:
      a 2 KiB chat message deflates to ~730 bytes instead of ~550;
    - 12-bit (4 KiB) windows and zlib memory level 5, as websockets' own default:
      15-bit windows save 9 % on 64 KiB messages for twice the CPU.

    Attributes:
        threshold: messages shorter than this (bytes, after UTF-8 encoding) are
            not compressed; 0 compresses everything.
        lazy: create the compressor and decompressor on first use rather than at
            the handshake.
        server_no_context_takeover: the server starts every message with an empty
            window (asked of the server by a client, imposed by a server).
        client_no_context_takeover: the same for the client's messages.
        server_max_window_bits: the server's window, 9 to 15 bits.
        client_max_window_bits: the client's window, 9 to 15 bits.
        level: zlib compression level, 1 (fast) to 9 (small); -1 is zlib's 6.
        mem_level: zlib memory level, 1 to 9 (memory for the compressor's state).

    Raises:
        UsageError: a setting is out of range.
    """

    threshold: int = DEFAULT_THRESHOLD
    lazy: bool = True
    server_no_context_takeover: bool = True
    client_no_context_takeover: bool = True
    server_max_window_bits: int = 12
    client_max_window_bits: int = 12
    level: int = -1
    mem_level: int = 5

    def __post_init__(self) -> None:
        if self.threshold < 0:
            raise UsageError(f"threshold must be 0 or more bytes, got {self.threshold}")
        for name in ("server_max_window_bits", "client_max_window_bits"):
            bits = getattr(self, name)
            if not 9 <= bits <= 15:
                # zlib cannot compress with 8-bit raw windows (websockets says so too).
                raise UsageError(f"{name} must be 9 to 15, got {bits}")
        if not (self.level == -1 or 0 <= self.level <= 9):
            raise UsageError(f"level must be -1 or 0 to 9, got {self.level}")
        if not 1 <= self.mem_level <= 9:
            raise UsageError(f"mem_level must be 1 to 9, got {self.mem_level}")

    @property
    def compress_settings(self) -> dict[str, int]:
        """Keyword arguments for :func:`zlib.compressobj`, except the window."""
        return {"level": self.level, "memLevel": self.mem_level}

    def server_factory(self) -> ThresholdDeflateServerFactory:
        """The extension factory a server accepts compressing clients with."""
        return ThresholdDeflateServerFactory(self)

    def client_factory(self) -> ThresholdDeflateClientFactory:
        """The extension factory a client offers compression with."""
        return ThresholdDeflateClientFactory(self)


class ThresholdDeflate(PerMessageDeflate):
    """permessage-deflate that leaves small messages alone and allocates lazily.

    A fragmented message is decided by its first frame; its continuation frames
    follow that decision. A :class:`SharedMessage` carrying a compressed form for
    this connection's :func:`sharing_key` goes out in that form, compressed once for
    every recipient.

    Args:
        remote_no_context_takeover, local_no_context_takeover,
        remote_max_window_bits, local_max_window_bits, compress_settings:
            the negotiated parameters, as for websockets' ``PerMessageDeflate``.
        threshold: messages shorter than this many bytes go out uncompressed.
        lazy: create the compressor and the decompressor on first use.
    """

    def __init__(
        self,
        remote_no_context_takeover: bool,
        local_no_context_takeover: bool,
        remote_max_window_bits: int,
        local_max_window_bits: int,
        compress_settings: dict[Any, Any] | None = None,
        *,
        threshold: int = DEFAULT_THRESHOLD,
        lazy: bool = True,
    ) -> None:
        # The parent creates the long-lived coders unless told "no context takeover";
        # tell it so when lazy, then restore the negotiated values.
        super().__init__(
            remote_no_context_takeover or lazy,
            local_no_context_takeover or lazy,
            remote_max_window_bits,
            local_max_window_bits,
            compress_settings,
        )
        self.remote_no_context_takeover = remote_no_context_takeover
        self.local_no_context_takeover = local_no_context_takeover
        self.threshold = threshold
        self.lazy = lazy
        # How the message being sent is framed: "plain", "deflate" or "shared".
        self._sending = "plain"
        self._shared = b""

    @classmethod
    def from_negotiated(
        cls, extension: PerMessageDeflate, *, threshold: int, lazy: bool
    ) -> ThresholdDeflate:
        """The same negotiated parameters, with a threshold (and laziness)."""
        return cls(
            extension.remote_no_context_takeover,
            extension.local_no_context_takeover,
            extension.remote_max_window_bits,
            extension.local_max_window_bits,
            extension.compress_settings,
            threshold=threshold,
            lazy=lazy,
        )

    def __repr__(self) -> str:
        negotiated = super().__repr__().removeprefix("PerMessageDeflate")[:-1]
        return f"{type(self).__name__}{negotiated}, threshold={self.threshold}, lazy={self.lazy})"

    @property
    def has_compressor(self) -> bool:
        """True while a compressor is kept between messages (it costs memory)."""
        return hasattr(self, "encoder")

    @property
    def has_decompressor(self) -> bool:
        """True while a decompressor is kept between messages."""
        return hasattr(self, "decoder")

    def encode(self, frame: Frame) -> Frame:
        """Compress a data frame unless its message is under the threshold."""
        if frame.opcode in CTRL_OPCODES:
            return frame
        if frame.opcode is not CONT:
            self._sending = self._choose(frame)
        if self._sending == "plain":
            return frame
        if self._sending == "shared":  # one unfragmented frame, compressed already
            data, self._shared = self._shared, b""
            return Frame(frame.opcode, data, frame.fin, True)
        if not self.local_no_context_takeover and not hasattr(self, "encoder"):
            self.encoder = zlib.compressobj(
                wbits=-self.local_max_window_bits, **self.compress_settings
            )
        return super().encode(frame)

    def _choose(self, frame: Frame) -> str:
        if len(frame.data) < self.threshold:
            return "plain"
        data = frame.data
        if isinstance(data, SharedMessage) and frame.fin:
            key = sharing_key(self)
            compressed = None if key is None else data.compressed.get(key)
            if compressed is not None:
                self._shared = compressed
                return "shared"
        return "deflate"

    def decode(self, frame: Frame, *, max_size: int | None = None) -> Frame:
        """Inflate a compressed frame, creating the decompressor if it is the first."""
        if (
            frame.rsv1
            and frame.opcode not in CTRL_OPCODES
            and frame.opcode is not CONT
            and not self.remote_no_context_takeover
            and not hasattr(self, "decoder")
        ):
            self.decoder = zlib.decompressobj(wbits=-self.remote_max_window_bits)
        return super().decode(frame, max_size=max_size)


class ThresholdDeflateServerFactory(ServerPerMessageDeflateFactory):
    """Accepts a client's permessage-deflate offer with :class:`Compression` settings.

    Pass it to ``websockets`` as ``extensions=[factory]`` (with ``compression=None``),
    to a sans-I/O ``ServerProtocol(extensions=[factory])``, or negotiate by hand
    with :func:`negotiate`.

    Args:
        settings: the compression settings.
    """

    def __init__(self, settings: Compression) -> None:
        super().__init__(
            server_no_context_takeover=settings.server_no_context_takeover,
            client_no_context_takeover=settings.client_no_context_takeover,
            server_max_window_bits=settings.server_max_window_bits,
            client_max_window_bits=settings.client_max_window_bits,
            compress_settings=settings.compress_settings,
        )
        self.settings = settings

    def process_request_params(
        self,
        params: Sequence[ExtensionParameter],
        accepted_extensions: Sequence[Extension],
    ) -> tuple[list[ExtensionParameter], ThresholdDeflate]:
        """Negotiate as websockets does, then return the threshold extension."""
        response, extension = super().process_request_params(params, accepted_extensions)
        settings = self.settings
        return response, ThresholdDeflate.from_negotiated(
            extension, threshold=settings.threshold, lazy=settings.lazy
        )


class ThresholdDeflateClientFactory(ClientPerMessageDeflateFactory):
    """Offers permessage-deflate with :class:`Compression` settings.

    Args:
        settings: the compression settings. The client asks for
            ``server_no_context_takeover`` only when the settings say so; a
            server may impose it anyway.
    """

    def __init__(self, settings: Compression) -> None:
        super().__init__(
            server_no_context_takeover=False,
            client_no_context_takeover=settings.client_no_context_takeover,
            server_max_window_bits=None,
            client_max_window_bits=settings.client_max_window_bits,
            compress_settings=settings.compress_settings,
        )
        self.settings = settings

    def process_response_params(
        self,
        params: Sequence[ExtensionParameter],
        accepted_extensions: Sequence[Extension],
    ) -> ThresholdDeflate:
        """Check the server's answer as websockets does; return the threshold extension."""
        extension = super().process_response_params(params, accepted_extensions)
        settings = self.settings
        return ThresholdDeflate.from_negotiated(
            extension, threshold=settings.threshold, lazy=settings.lazy
        )


def negotiate(
    factories: Sequence[ServerExtensionFactory], header_values: Sequence[str]
) -> tuple[str | None, list[Extension]]:
    """Answer a client's ``Sec-WebSocket-Extensions`` offers, as websockets' server does.

    For a server that reads the handshake request itself. Offers are tried in the
    client's order against each factory; an offer a factory cannot accept is
    skipped; anything unknown is declined.

    Args:
        factories: the server's extension factories, e.g.
            ``[Compression().server_factory()]``.
        header_values: every ``Sec-WebSocket-Extensions`` header of the request.

    Returns:
        The response header value (None when nothing was accepted) and the
        negotiated extensions, in order, for the connection's frames.

    Raises:
        websockets.exceptions.InvalidHeader: a header does not parse.
    """
    accepted: list[Extension] = []
    answers: list[tuple[Any, list[ExtensionParameter]]] = []
    for value in header_values:
        for name, params in parse_extension(value):
            for factory in factories:
                if factory.name != name:
                    continue
                try:
                    response, extension = factory.process_request_params(params, accepted)
                except NegotiationError:
                    continue
                answers.append((name, response))
                accepted.append(extension)
                break
    return (build_extension(answers) if answers else None), accepted


# -- compressing a broadcast once -----------------------------------------------------


@dataclass(frozen=True)
class SharingKey:
    """What a compressed message depends on: equal keys, identical bytes.

    Only a connection whose sender starts every message with an empty window
    (no context takeover on the sending side) has one.
    """

    window_bits: int
    settings: tuple[tuple[str, int], ...]
    threshold: int


def sharing_key(extension: Extension) -> SharingKey | None:
    """The key under which ``extension``'s output for a message can be shared.

    Returns:
        A :class:`SharingKey`, or None when the output depends on the connection's
        history (context takeover) or the extension is not a
        :class:`ThresholdDeflate`: then compress per recipient.
    """
    if not isinstance(extension, ThresholdDeflate) or not extension.local_no_context_takeover:
        return None
    return SharingKey(
        extension.local_max_window_bits,
        tuple(sorted(extension.compress_settings.items())),
        extension.threshold,
    )


class SharedMessage(bytes):
    """The payload of one message (UTF-8 for text) with compressed forms attached.

    It is ``bytes``: a connection without compression, or one whose key has no
    form here, sends (or compresses) it as usual. Build it with
    :func:`prepare_shared`.
    """

    compressed: dict[SharingKey, bytes]


def prepare_shared(payload: bytes, keys: Iterable[SharingKey | None]) -> SharedMessage:
    """Compress ``payload`` once per distinct key, for every recipient to send.

    Send the result with ``connection.send(message, text=...)`` (asyncio) or
    ``protocol.send_text(message)`` / ``send_binary`` (sans-I/O) to each
    recipient: connections whose :func:`sharing_key` is among ``keys`` send the
    shared compressed bytes; the others behave as if given plain bytes.

    Args:
        payload: the message's bytes.
        keys: the recipients' sharing keys (None and repeats are ignored).

    Returns:
        The payload with one compressed form per key it is large enough for.
    """
    message = SharedMessage(payload)
    message.compressed = {}
    for key in set(keys):
        if key is None or len(payload) < key.threshold or key in message.compressed:
            continue
        settings: dict[str, Any] = dict(key.settings)
        encoder = zlib.compressobj(wbits=-key.window_bits, **settings)
        data = encoder.compress(payload) + encoder.flush(zlib.Z_SYNC_FLUSH)
        message.compressed[key] = data[: -len(_SYNC_TAIL)]
    return message
