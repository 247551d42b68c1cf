"""Tests for wslearn.performance: exact byte counts, CPU times only compared."""

from __future__ import annotations

import itertools

import pytest

from wslearn.compression import Compression
from wslearn.performance import chat_message, measure_binary, measure_compression


def test_chat_messages_have_the_exact_size_and_parse_as_a_socketio_event() -> None:
    import json

    for size in (100, 2048, 65536):
        text = chat_message(size, seed=3)
        assert len(text) == len(text.encode()) == size
        event = json.loads(text[2:])
        assert text.startswith("42") and event[0] == "receive-message"
    assert chat_message(500, 1) != chat_message(500, 2)
    with pytest.raises(ValueError, match="at least"):
        chat_message(20)


def test_compression_figures_show_the_threshold_sparing_small_messages() -> None:
    ticks = itertools.count()
    figures = measure_compression(
        {"none": None, "deflate": "deflate", "threshold": Compression()},
        sizes=(100, 4096),
        count=20,
        clock=lambda: float(next(ticks)),  # a fake clock: bytes are what is checked
    )
    by = {(f.label, f.size): f for f in figures}
    assert by["none", 100].bytes_per_message == 100 and by["none", 100].compressed == 0
    assert by["threshold", 100].bytes_per_message == 100  # under 1024: sent as is
    assert by["deflate", 100].compressed == 20 and by["deflate", 100].ratio < 0.5
    assert by["threshold", 4096].compressed == 20 and by["threshold", 4096].ratio < 0.5
    # Context takeover (stock deflate) beats a fresh window per message.
    assert by["deflate", 4096].bytes_per_message < by["threshold", 4096].bytes_per_message
    assert all(f.cpu_us_per_message == 1e6 / 20 for f in figures)  # one tick per run


def test_binary_attachments_take_fewer_bytes_than_base64_and_both_round_trip() -> None:
    figures = measure_binary(sizes=(300, 30_000), repeat=2)
    for figure in figures:
        # base64 is 4/3 of the payload; the attachment adds only a short header frame.
        assert figure.attachment_bytes < figure.size + 100
        assert figure.base64_bytes > figure.size * 4 / 3
        assert figure.overhead > 1.15
    assert [f.size for f in figures] == [300, 30_000]
