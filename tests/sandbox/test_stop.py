"""Stopping a sandbox while its jobs render: the renders are cancelled quietly and promptly.

Before, the store was deleted under a running ffmpeg, which failed with "Unable to re-open …
output file", and each provider logged the failed render with a traceback.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from pathlib import Path

import httpx
import pytest

from nbmedia.sandbox import start

NOISE = ("Traceback", "Unable to re-open", "ffmpeg failed", "Rendering failed", "Error")


def _ffmpeg_children() -> list[int]:
    """Pids of ffmpeg processes whose parent is this process (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid() and b"ffmpeg" in cmdline.split(b"\0", 1)[0]:
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc for ffmpeg children")
def test_stop_mid_render_cancels_quietly(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="nbmedia")
    sb = start(speed=1)
    try:
        key = f"mk_test_{uuid.uuid4().hex[:12]}"
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=sb.base_url("mercadream"), headers=headers) as client:
            for n in range(4):  # two render threads busy, two renders queued
                body = {"prompt": f"Stop me {n} {uuid.uuid4().hex}", "duration": 120}
                assert client.post("/v2/generate", json=body).status_code == 201
        deadline = time.monotonic() + 20
        while not _ffmpeg_children():
            assert time.monotonic() < deadline, "no render started"
            time.sleep(0.02)
        assert sb.rendering == 4
        capfd.readouterr()  # what the start printed is not ours to judge
    except BaseException:
        sb.stop()
        raise
    began = time.monotonic()
    sb.stop()
    took = time.monotonic() - began
    time.sleep(0.5)  # a render that outlived stop would fail (and log) about now
    out, err = capfd.readouterr()
    assert took < 3.0, f"stop took {took:.1f} s"
    assert sb.rendering == 0
    assert _ffmpeg_children() == []
    assert not [n for n in NOISE if n in out + err], out + err
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
