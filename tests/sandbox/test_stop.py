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


LONG_RENDERS = {
    "mercadream": (
        {"Authorization": f"Bearer mk_test_{uuid.uuid4().hex[:12]}"},
        "/v2/generate",
        {"duration": 120},
        201,
    ),
    "vimmerse": (
        {"X-Api-Key": uuid.uuid4().hex},
        "/v2/media",
        {"duration": 10, "loop": 6, "quantity": 4},
        200,
    ),
}
"""A create whose render takes seconds, per provider: headers, path, body, status."""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc for ffmpeg children")
@pytest.mark.parametrize("provider", sorted(LONG_RENDERS))
def test_stop_mid_render_cancels_quietly(
    provider: str, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="nbmedia")
    headers, path, fields, created = LONG_RENDERS[provider]
    sb = start(speed=1)
    try:
        with httpx.Client(base_url=sb.base_url(provider), headers=headers) as client:
            for n in range(4):  # two render threads busy, two renders queued
                body = {"prompt": f"Stop me {n} {uuid.uuid4().hex}", **fields}
                assert client.post(path, json=body).status_code == created
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
    left, children = sb.rendering, _ffmpeg_children()
    deadline = time.monotonic() + 60
    while sb.rendering and time.monotonic() < deadline:  # let any render that outlived stop
        time.sleep(0.1)  # end (and fail, and log) before judging the output
    time.sleep(0.3)
    out, err = capfd.readouterr()
    assert not [n for n in NOISE if n in out + err], out + err
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert took < 3.0, f"stop took {took:.1f} s"
    assert (left, children) == (0, [])  # nothing rendering, no ffmpeg left, once stop returns
