"""The ``plan_limits`` benchmark knob: off, no provider enforces its per-key request rates or
concurrency (one key keeps dozens of jobs open); on (the default), the documented 429s come
back. Jobs here are made to fail or expire on a slow clock, so nothing is rendered."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from nbmedia.sandbox import Sandbox
from nbmedia.sandbox.services.media.video import render_video
from tests.conftest import sandbox_client

pytestmark = pytest.mark.timeout(120)

SLOW = 0.02
"""Clock speed for these tests: every job stays open for the whole test."""
MANY = 30


def new_key(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


@pytest.fixture
def slow(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The sandbox on a slow clock (the hygiene fixture restores speed and knobs)."""
    sandbox.speed = SLOW
    yield sandbox


def test_knob_is_on_by_default_settable_remotely_and_reset_restores_it(sandbox) -> None:
    assert sandbox.faults.plan_limits is True
    box = Sandbox.attach(sandbox.url)
    try:
        box.faults.plan_limits = False
        assert sandbox.faults.plan_limits is False and box.faults.plan_limits is False
        r = httpx.post(
            f"{sandbox.url}/_sandbox/faults", json={"plan_limits": True}, trust_env=False
        )
        assert r.status_code == 200 and r.json()["plan_limits"] is True
        with pytest.raises(ValueError):
            box.faults.plan_limits = "no"
        sandbox.faults.plan_limits = False
        sandbox.faults.reset()
        assert sandbox.faults.plan_limits is True
    finally:
        box.stop()


def test_mercadream_concurrency(slow: Sandbox) -> None:
    key = new_key("mk_test_regular_")  # 2 concurrent jobs, 60 requests a minute
    with sandbox_client(slow, "mercadream", {"Authorization": f"Bearer {key}"}) as c:

        def speech() -> httpx.Response:
            slow.faults.fail_next_jobs(1)  # fails part-way through running: no render
            return c.post("/v2/speech", json={"text": "open"})

        assert [speech().status_code for _ in range(2)] == [201, 201]
        r = speech()
        assert r.status_code == 429 and r.json()["code"] == "concurrency_limit_exceeded"
        slow.faults.plan_limits = False
        assert {speech().status_code for _ in range(MANY)} == {201}
        jobs = c.get("/v2/jobs", params={"limit": 100}).json()["data"]
        assert len(jobs) == MANY + 2 and {j["status"] for j in jobs} == {"queued"}
        slow.faults.plan_limits = True
        assert speech().json()["code"] == "concurrency_limit_exceeded"


def test_mercadream_requests_per_minute(sandbox: Sandbox) -> None:
    key = new_key("mk_test_regular_")
    with sandbox_client(sandbox, "mercadream", {"Authorization": f"Bearer {key}"}) as c:
        sandbox.faults.plan_limits = False
        assert {c.get("/v2/jobs").status_code for _ in range(70)} == {200}
        sandbox.faults.plan_limits = True  # counting starts again from here
        assert {c.get("/v2/jobs").status_code for _ in range(60)} == {200}
        r = c.get("/v2/jobs")
        assert r.status_code == 429 and r.json()["code"] == "rate_limit_exceeded"


def test_meshapi_has_no_limit_to_lift(slow: Sandbox) -> None:
    key = new_key("rsk_test_")
    body = {
        "model": "byteplus/seedance-1-0-pro",
        "content": [{"type": "text", "text": "open"}],
        "execution_expires_after": 5,  # shorter than the task: it expires, never renders
    }
    with sandbox_client(slow, "meshapi", {"Authorization": f"Bearer {key}"}) as c:
        for limits in (True, False):
            slow.faults.plan_limits = limits
            assert {
                c.post("/v1/video/generations", json=body).status_code for _ in range(MANY)
            } == {200}
        page = c.get("/v1/video/generations", params={"limit": 200}).json()
    assert page["total"] == 2 * MANY and {t["status"] for t in page["data"]} == {"queued"}


def test_syncso_rate_and_concurrency(slow: Sandbox) -> None:
    key = new_key("sk_test_hobbyist_")  # 1 generation at a time, 60 creates a minute
    body = {
        "model": "lipsync-2",
        "input": [
            {"type": "text", "provider": {"name": "elevenlabs", "voiceId": "v", "script": "x"}}
        ],
    }  # no video: the generation will fail, after its wait, without rendering
    with sandbox_client(slow, "syncso", {"x-api-key": key}) as c:
        assert c.post("/v2/generate", json=body).status_code == 201
        r = c.post("/v2/generate", json=body)
        assert r.status_code == 429 and "Concurrency limit" in r.json()["message"]
        slow.faults.plan_limits = False
        assert {c.post("/v2/generate", json=body).status_code for _ in range(65)} == {201}
        statuses = {g["status"] for g in c.get("/v2/generations").json()}
        assert statuses == {"PENDING"}
        slow.faults.plan_limits = True
        assert c.post("/v2/generate", json=body).status_code == 429


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("limits") / "clip.mp4"
    return render_video(out, text="", duration=1.0, fps=8, width=160, height=90, seed=3)


def test_viddyscribe_queue_and_processing_slots(slow: Sandbox, clip: Path) -> None:
    key = new_key("vsk_test_")
    with sandbox_client(slow, "viddyscribe", {"X-API-Key": key}) as c:
        files = {"file": ("clip.mp4", clip.read_bytes(), "video/mp4")}
        media_id = c.post("/enterprise/api/upload_media", files=files).json()["media_id"]
        body = {"input": {"type": "media_id", "media_id": media_id}}

        def generate() -> httpx.Response:
            slow.faults.fail_next_jobs(1)  # no render
            return c.post("/enterprise/api/generate_ad_text", json=body)

        codes = [generate().status_code for _ in range(7)]  # none started yet: 6 queued at most
        assert codes == [200] * 6 + [429]
        slow.faults.plan_limits = False
        assert {generate().status_code for _ in range(MANY)} == {200}
        slow.faults.plan_limits = True
        r = generate()
        assert r.status_code == 429 and r.json()["code"] == "queue_limit_exceeded"
