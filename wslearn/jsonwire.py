"""JSON as the Socket.IO wire wants it: compact, finite, valid Unicode, binary apart.

Pure functions, no I/O. :func:`dumps` writes what JavaScript's ``JSON.stringify``
writes (no spaces, non-ASCII kept), refuses NaN and Infinity (a JavaScript peer's
``JSON.parse`` refuses them too), and takes every ``bytes`` value out of the text as a
numbered placeholder, the way Socket.IO carries binary attachments::

    dumps(["file", {"name": "a", "data": b"\\x00\\x01"}])
    # ('["file",{"name":"a","data":{"_placeholder":true,"num":0}}]', [b'\\x00\\x01'])

:func:`loads` reads a peer's JSON with the same rules, and with two numbers bounds:
``NaN``/``Infinity`` literals and floats that overflow to infinity (``1e999``) are
refused, and integers keep Python's own 4300-digit limit (a ValueError, so a
:class:`~wslearn.exceptions.PacketError` for the caller).

Text that is not valid Unicode: a JSON string may spell a lone UTF-16 surrogate
(``"\\ud800"``), which JavaScript tolerates and UTF-8 cannot carry. :func:`loads`
replaces each one with U+FFFD, as a browser's own UTF-8 encoder does when it sends
such a string, so that nothing undecodable ever enters the server (where it would
break the encoding of every message that repeats it).

Both directions run in the C accelerator of the ``json`` module, built once, not per
call; a payload without bytes is encoded in one pass with no copy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from json import encoder as _encoder
from typing import Any

__all__ = ["dumps", "loads", "replace_surrogates"]

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_BINARY = (bytes, bytearray, memoryview)


class _HasBinary(Exception):
    """Raised inside the fast encoder: this payload needs placeholders."""


def _no_binary(value: Any) -> Any:
    if isinstance(value, _BINARY):
        raise _HasBinary
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# One encoder for every call (json.dumps would build a new one each time): the C
# accelerator's, with no circular check (a cycle hits the recursion limit instead).
_c_make_encoder = getattr(_encoder, "c_make_encoder", None)
_fast_encode = (
    _c_make_encoder(
        None, _no_binary, _encoder.encode_basestring, None, ":", ",", False, False, False
    )
    if _c_make_encoder is not None
    else None
)


def dumps(data: Any) -> tuple[str, list[bytes]]:
    """Encode ``data`` as compact JSON, taking bytes out as placeholders.

    Returns:
        The JSON text and the attachments, in the order their placeholders appear
        (``{"_placeholder": true, "num": N}``). Lists, tuples, dicts and other
        mappings are walked; bytes, bytearray and memoryview become attachments.

    Raises:
        ValueError: NaN or an infinity, a structure nested too deeply or circular.
        TypeError: a value JSON cannot represent (a set, an object, ...).
    """
    try:
        if _fast_encode is not None:
            try:
                return "".join(_fast_encode(data, 0)), []
            except _HasBinary:
                pass
        attachments: list[bytes] = []

        def placeholder(value: Any) -> Any:
            if isinstance(value, _BINARY):
                attachments.append(bytes(value))
                return {"_placeholder": True, "num": len(attachments) - 1}
            return _no_binary(value)

        encoder = json.JSONEncoder(
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
            check_circular=False,
            default=placeholder,
        )
        return encoder.encode(data), attachments
    except RecursionError:
        raise ValueError("the payload is nested too deeply (or refers to itself)") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"the number {text[:20]} is too large for a float")
    return value


_decoder = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)
# The decoder's C scanner, called directly: ``decode`` wraps it in two regular
# expression matches for surrounding whitespace, which a peer's JSON rarely has.
_scan: Callable[[str, int], tuple[Any, int]] = getattr(_decoder, "scan_once")  # noqa: B009


def loads(text: str) -> Any:
    """Decode a peer's JSON; lone surrogates become U+FFFD (see the module docstring).

    Raises:
        ValueError: not JSON, a NaN/Infinity literal, a float too large, an integer
            over Python's digit limit.
        RecursionError: nested deeper than the interpreter allows.
    """
    try:
        data, end = _scan(text, 0)
    except (StopIteration, ValueError):
        end = -1  # not JSON at position 0 (or whitespace first): the full path says why
    if end != len(text):  # whitespace around it, extra data or an error
        data = _decoder.decode(text)
    if "\\u" in text and _SURROGATE_ESCAPE.search(text):
        data = replace_surrogates(data)
    return data


def replace_surrogates(data: Any) -> Any:
    """A copy of ``data`` in which every lone surrogate in a string (keys included) is
    U+FFFD; containers without one are returned as they are."""
    if isinstance(data, str):
        return _SURROGATE.sub("\ufffd", data) if _SURROGATE.search(data) else data
    if isinstance(data, list):
        return [replace_surrogates(item) for item in data]
    if isinstance(data, dict):
        return {replace_surrogates(key): replace_surrogates(value) for key, value in data.items()}
    return data
