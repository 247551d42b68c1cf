"""Autobahn TestSuite compression cases (12.*, 13.*) against the threshold extension.

``tools/autobahn.py`` runs the cases (from the ``kosoku`` package) against a
websockets echo server using :class:`wslearn.compression.Compression`, with and
without server context takeover. Here a spread of them runs on every ``make test``:
small and large messages, auto-fragmented ones, text and binary data, and each of
group 13's seven parameter offers. ``make autobahn`` runs all 216 of both groups
(several minutes; CI runs it after the tests).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("kosoku", reason="SKIPPED Autobahn cases: `pip install kosoku`")

TOOL = Path(__file__).resolve().parent.parent / "tools" / "autobahn.py"

SPREAD = [
    "12.1.1",  # 16 B text: under the threshold, echoed uncompressed
    "12.1.3",  # 256 B
    "12.1.5",  # 4 KiB: compressed
    "12.1.11",  # 8 KiB auto-fragmented into 256 B frames
    "12.2.4",  # 1 KiB binary (an image): exactly the threshold
    "12.5.2",  # 64 B binary (a PDF)
    *(f"13.{offer}.4" for offer in range(1, 8)),  # every parameter offer, 1 KiB
    "13.7.11",  # the last offer, fragmented
]


def test_a_spread_of_autobahn_compression_cases_pass_with_the_threshold_on() -> None:
    done = subprocess.run(
        [sys.executable, str(TOOL), "--cases", ",".join(SPREAD)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.stdout, done.stderr
    report_text, _, summary = done.stdout.rstrip().rpartition("\n")
    assert summary == f"autobahn: {2 * len(SPREAD)} passed, 0 failed"
    reports = json.loads(report_text)
    assert [r["setting"] for r in reports] == ["threshold", "threshold-context-takeover"]
    for report in reports:
        assert report["failed"] == [], report
        assert report["cases"] == report["passed"] == len(SPREAD)
    assert done.returncode == 0
