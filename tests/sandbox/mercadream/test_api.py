"""The sandbox's MercaDream API over real HTTP: routes, rules, limits, lifecycle, outputs,
webhooks and faults. Written against the contract (providers.md), not against the client."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import nbmedia.sandbox as nbs
from nbmedia.sandbox import Sandbox
from tests.conftest import Receiver, download, sandbox_client, wait_for
from tests.mediacheck import assert_different_bytes, audio_rms, count_frames, frame, probe

pytestmark = pytest.mark.timeout(120)

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
JOB_ID = re.compile(r"^job_[a-z0-9]{16}$")


# ---- helpers -----------------------------------------------------------------------------------
def new_key(plan: str = "") -> str:
    """A fresh test key (rate windows and job lists are per key)."""
    marker = f"_{plan}_" if plan else "_"
    return f"mk_test{marker}{secrets.token_hex(6)}"


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[httpx.Client]:
    """A client for a fresh Professional key, pointed at the sandbox's MercaDream base URL."""
    with client_for(sandbox, new_key()) as c:
        yield c


def client_for(sandbox: Sandbox, key: str | None) -> httpx.Client:
    return sandbox_client(
        sandbox, "mercadream", {"Authorization": f"Bearer {key}"} if key else None, timeout=10
    )


def wait_job(api: httpx.Client, job_id: str) -> dict[str, Any]:
    return wait_for(api, f"/v2/jobs/{job_id}", "status", ("completed", "failed"))


FOX = "The quick brown fox jumps over the lazy dog."


# ---- finished jobs, made once: two videos, three speech, one music, one failure -------------------
@pytest.fixture(scope="module")
def finished(sandbox: Sandbox) -> Iterator[dict[str, Any]]:
    key = new_key()
    with client_for(sandbox, key) as c:
        made = {
            "video": c.post(
                "/v2/generate",
                json={"prompt": "Neon rain on Tokyo streets", "duration": 15, "fps": 30,
                      "resolution": "720p"},
            ),
            "speech_wav": c.post(
                "/v2/speech",
                json={"text": FOX, "format": "wav"},
            ),
            "speech_fast": c.post("/v2/speech", json={"text": FOX, "speed": 2.0}),
            "speech_f": c.post(
                "/v2/speech",
                json={"text": FOX, "format": "wav", "voice_id": "neural-narrator-f"},
            ),
            "music": c.post(
                "/v2/music", json={"prompt": "Lo-fi beat", "duration": 15, "bpm": 90,
                                   "format": "flac"},
            ),
            "narrated": c.post(
                "/v2/generate",
                json={"prompt": "A calm voice over the sea", "duration": 15,
                      "voice_id": "neural-narrator-m"},
            ),
        }  # fmt: skip
        sandbox.faults.fail_next_jobs(1, code="content_policy_violation", message="Not allowed.")
        made["failed"] = c.post("/v2/speech", json={"text": "fails"})
        assert all(r.status_code == 201 for r in made.values()), [r.text for r in made.values()]
        jobs = {name: wait_job(c, r.json()["id"]) for name, r in made.items()}
        yield {"key": key, "jobs": jobs, "created": {n: r.json() for n, r in made.items()}}


# ---- the server --------------------------------------------------------------------------------
def test_start_serves_on_loopback_with_drop_in_base_url(sandbox: Sandbox) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", sandbox.url)
    assert sandbox.base_url("mercadream") == f"{sandbox.url}/mercadream"
    index = httpx.get(sandbox.url + "/", trust_env=False).json()
    assert index["providers"]["mercadream"] == sandbox.base_url("mercadream")
    assert sandbox.webhook_secret("mercadream") == "whsec_sandbox_mercadream"


def test_request_log_records_and_clears(sandbox: Sandbox, api: httpx.Client) -> None:
    sandbox.request_log.clear()
    assert len(sandbox.request_log) == 0
    api.get("/v2/jobs", params={"limit": 3})
    api.get("/v2/jobs/job_0000000000000000")
    last = sandbox.request_log[-1]
    assert (last.provider, last.method, last.path, last.status) == (
        "mercadream",
        "GET",
        "/mercadream/v2/jobs/job_0000000000000000",
        404,
    )
    assert [r.status for r in sandbox.request_log] == [200, 404]
    assert sandbox.request_log[0].query == "limit=3"
    assert abs(last.timestamp - time.time()) < 5


def test_keeps_serving_while_caller_blocks_and_stops(tmp_path: Path) -> None:
    sb = nbs.start(speed=50, webhook_secrets={"mercadream": "whsec_custom"})
    try:
        assert sb.webhook_secret("mercadream") == "whsec_custom"
        with client_for(sb, new_key()) as c:
            job = c.post("/v2/music", json={"prompt": "x", "duration": 15, "format": "wav"}).json()
            time.sleep(0.6)  # the caller blocks; the server thread and the clock keep going
            assert c.get(f"/v2/jobs/{job['id']}").json()["status"] == "completed"
    finally:
        sb.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(sb.url + "/", trust_env=False)


def test_shared_is_one_process_wide_sandbox() -> None:
    assert nbs.shared() is nbs.shared()
    assert nbs.shared().running


def test_module_runs_standalone() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "nbmedia.sandbox", "--port", "0", "--speed", "3"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", line)[0]
        assert "speed 3" in line
        assert httpx.get(url + "/", trust_env=False).json()["sandbox"] == "nbmedia"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_attach_controls_a_sandbox_over_http(sandbox: Sandbox, api: httpx.Client) -> None:
    """What a kernel in another process uses to drive the test's sandbox."""
    box = Sandbox.attach(sandbox.url)
    assert box.base_url("mercadream") == sandbox.base_url("mercadream")
    assert box.webhook_secret("mercadream") == sandbox.webhook_secret("mercadream")
    box.speed = 7
    assert sandbox.speed == 7 == box.speed
    box.faults.latency = 0.01
    assert sandbox.faults.latency == 0.01 == box.faults.latency
    box.faults.rate_limit_next(1, retry_after=3)
    assert api.get("/v2/jobs").headers["Retry-After"] == "3"
    assert box.request_log[-1].status == 429 and len(box.request_log) == len(sandbox.request_log)
    box.faults.reset()
    assert sandbox.faults.latency == 0
    box.request_log.clear()
    assert len(sandbox.request_log) == 0  # and the control calls themselves are not logged
    box.stop()
    assert sandbox.running


def test_speed_is_settable_at_runtime(sandbox: Sandbox) -> None:
    sandbox.speed = 3.5
    assert sandbox.speed == 3.5
    with pytest.raises(ValueError):
        sandbox.speed = 0


# ---- auth and plans ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "mk_test_abc",  # no scheme
        "Basic mk_test_abc",
        "Bearer",
        "Bearer mk_test_",
        "Bearer sk_test_abc",
        "Bearer mk_live_abcdef123456",  # a live key is never valid on the sandbox
    ],
)
def test_401_for_anything_but_a_test_key(sandbox: Sandbox, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    for method, path in [("GET", "/v2/jobs"), ("POST", "/v2/generate")]:
        r = httpx.request(
            method,
            sandbox.base_url("mercadream") + path,
            headers=headers,
            json={"prompt": "x"},
            trust_env=False,
        )
        assert r.status_code == 401
        body = r.json()
        assert set(body) == {"code", "message"} and body["code"] == "invalid_api_key"
        assert "abcdef123456" not in r.text  # never echoes a key
        assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_403_free_plan_has_no_api_access(sandbox: Sandbox) -> None:
    with client_for(sandbox, new_key("free")) as c:
        for r in (c.get("/v2/jobs"), c.post("/v2/speech", json={"text": "hi"})):
            assert r.status_code == 403 and r.json()["code"] == "plan_no_api_access"


@pytest.mark.parametrize(
    ("plan", "allowed", "refused"),
    [("regular", "720p", "1080p"), ("advanced", "4k", "8k"), ("", "8k", None)],
)
def test_resolution_above_plan_is_403(sandbox: Sandbox, plan, allowed, refused) -> None:
    with client_for(sandbox, new_key(plan)) as c:
        if refused:
            r = c.post("/v2/generate", json={"prompt": "x", "resolution": refused})
            assert r.status_code == 403 and r.json()["code"] == "plan_resolution_exceeded"
            assert refused in r.json()["message"] and allowed in r.json()["message"]
        sandbox.faults.fail_next_jobs(1)  # no need to render it
        r = c.post("/v2/generate", json={"prompt": "x", "resolution": allowed, "duration": 15})
        assert r.status_code == 201, r.text


def test_429_past_the_plan_rate_with_retry_after(sandbox: Sandbox) -> None:
    with client_for(sandbox, new_key("regular")) as c:
        statuses = [c.get("/v2/jobs", params={"limit": 1}).status_code for _ in range(60)]
        assert statuses == [200] * 60
        r = c.get("/v2/jobs")
        assert r.status_code == 429
        assert r.json()["code"] == "rate_limit_exceeded"
        assert 1 <= int(r.headers["Retry-After"]) <= 60 and r.json()["retry_after"] >= 1
    with client_for(sandbox, new_key("regular")) as other:  # the limit is per key
        assert other.get("/v2/jobs").status_code == 200


def test_429_past_the_plan_concurrency_then_free_again(sandbox: Sandbox) -> None:
    sandbox.speed = 2
    with client_for(sandbox, new_key("regular")) as c:
        sandbox.faults.fail_next_jobs(2)  # fail part-way: non-terminal for ~0.4 s, no render
        ids = [c.post("/v2/speech", json={"text": "x"}).json()["id"] for _ in range(2)]
        r = c.post("/v2/music", json={"prompt": "one too many"})
        assert r.status_code == 429 and r.json()["code"] == "concurrency_limit_exceeded"
        assert int(r.headers["Retry-After"]) >= 1
        for job_id in ids:
            wait_job(c, job_id)
        sandbox.faults.fail_next_jobs(1)
        assert c.post("/v2/music", json={"prompt": "now it fits"}).status_code == 201


# ---- 400: every rule -----------------------------------------------------------------------------
LONG = "x" * 1001
BAD_BODIES = [
    ("/v2/generate", {}, "prompt"),
    ("/v2/generate", {"prompt": None}, "prompt"),
    ("/v2/generate", {"prompt": ""}, "prompt"),
    ("/v2/generate", {"prompt": LONG}, "prompt"),
    ("/v2/generate", {"prompt": 42}, "prompt"),
    ("/v2/generate", {"prompt": "x", "resolution": "5k"}, "resolution"),
    ("/v2/generate", {"prompt": "x", "resolution": "4K"}, "resolution"),
    ("/v2/generate", {"prompt": "x", "duration": 20}, "duration"),
    ("/v2/generate", {"prompt": "x", "duration": "30"}, "duration"),
    ("/v2/generate", {"prompt": "x", "duration": 30.5}, "duration"),
    ("/v2/generate", {"prompt": "x", "duration": True}, "duration"),
    ("/v2/generate", {"prompt": "x", "fps": 25}, "fps"),
    ("/v2/generate", {"prompt": "x", "style": 3}, "style"),
    ("/v2/generate", {"prompt": "x", "voice_id": ["a"]}, "voice_id"),
    ("/v2/generate", {"prompt": "x", "webhook_url": "ftp://example.com/hook"}, "webhook_url"),
    ("/v2/generate", {"prompt": "x", "webhook_url": "not a url"}, "webhook_url"),
    ("/v2/speech", {}, "text"),
    ("/v2/speech", {"text": "y" * 5001}, "text"),
    ("/v2/speech", {"text": "hi", "format": "ogg"}, "format"),
    ("/v2/speech", {"text": "hi", "speed": 0.49}, "speed"),
    ("/v2/speech", {"text": "hi", "speed": 2.01}, "speed"),
    ("/v2/speech", {"text": "hi", "speed": "1"}, "speed"),
    ("/v2/speech", {"text": "hi", "voice_id": 7}, "voice_id"),
    ("/v2/music", {}, "prompt"),
    ("/v2/music", {"prompt": "m", "duration": 14}, "duration"),
    ("/v2/music", {"prompt": "m", "duration": 301}, "duration"),
    ("/v2/music", {"prompt": "m", "duration": 15.5}, "duration"),
    ("/v2/music", {"prompt": "m", "format": "aac"}, "format"),
    ("/v2/music", {"prompt": "m", "bpm": 59}, "bpm"),
    ("/v2/music", {"prompt": "m", "bpm": 201}, "bpm"),
    ("/v2/music", {"prompt": "m", "bpm": "90"}, "bpm"),
]


@pytest.mark.parametrize(("path", "body", "param"), BAD_BODIES)
def test_400_names_the_field_value_and_rule(api: httpx.Client, path, body, param) -> None:
    r = api.post(path, json=body)
    assert r.status_code == 400, r.text
    err = r.json()
    assert err["code"] == "invalid_request" and err["param"] == param
    assert err["message"].startswith(param)
    value = body.get(param)
    if value is not None and not (isinstance(value, str) and len(value) > 100):
        assert json.dumps(value) in err["message"]
    assert api.get("/v2/jobs").json()["data"] == []  # nothing was created


def test_400_malformed_json_and_non_object(api: httpx.Client) -> None:
    for content in (b"{not json", b"", b"\xff\xfe"):
        r = api.post("/v2/generate", content=content, headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["code"] == "invalid_json"
    r = api.post("/v2/generate", json=["prompt"])
    assert r.status_code == 400 and r.json()["code"] == "invalid_request"


ACCEPTED = [
    ("/v2/generate", {"prompt": "p" * 1000, "unknown_field": 1}),
    ("/v2/speech", {"text": "t" * 5000, "speed": 0.5}),
    ("/v2/speech", {"text": "t", "speed": 2, "format": "flac", "voice_id": None}),
    ("/v2/music", {"prompt": "m", "duration": 15, "bpm": 60}),
    ("/v2/music", {"prompt": "m", "duration": 300, "bpm": 200, "format": "wav"}),
]


@pytest.mark.parametrize(("path", "body"), ACCEPTED)
def test_boundaries_are_accepted(sandbox: Sandbox, api: httpx.Client, path, body) -> None:
    sandbox.faults.fail_next_jobs(1)  # accepted is all we check here: skip the rendering
    assert api.post(path, json=body).status_code == 201


def test_created_job_objects_with_defaults(sandbox: Sandbox, api: httpx.Client) -> None:
    sandbox.faults.fail_next_jobs(3)
    video = api.post("/v2/generate", json={"prompt": "Neon rain"})
    assert video.status_code == 201
    job = video.json()
    assert JOB_ID.match(job["id"])
    assert {k: job[k] for k in ("kind", "status", "progress", "prompt")} == {
        "kind": "video",
        "status": "queued",
        "progress": 0,
        "prompt": "Neon rain",
    }
    assert (job["resolution"], job["duration"], job["style"], job["fps"]) == (
        "4k",
        30,
        "cinematic",
        24,
    )
    assert job["compute_units"] == 12  # the doc's example: 30 s at 4k
    assert ISO_Z.match(job["created_at"]) and ISO_Z.match(job["estimated_completion"])
    assert job["estimated_completion"] > job["created_at"]
    speech = api.post("/v2/speech", json={"text": "Hello"}).json()
    assert (speech["kind"], speech["voice_id"], speech["format"], speech["speed"]) == (
        "speech",
        "neural-narrator-m",
        "mp3",
        1.0,
    )
    music = api.post("/v2/music", json={"prompt": "Lo-fi"}).json()
    assert (music["kind"], music["duration"], music["format"], music["bpm"]) == (
        "music",
        60,
        "mp3",
        None,
    )


# ---- 404 -----------------------------------------------------------------------------------------
def test_404_unknown_job_other_keys_job_and_unknown_route(
    sandbox: Sandbox, api: httpx.Client, finished
) -> None:
    r = api.get("/v2/jobs/job_doesnotexist0000")
    assert r.status_code == 404 and r.json()["code"] == "job_not_found"
    theirs = finished["jobs"]["music"]["id"]
    r = api.get(f"/v2/jobs/{theirs}")
    assert r.status_code == 404 and r.json()["code"] == "job_not_found"
    r = api.get("/v2/nothing-here")
    assert r.status_code == 404 and set(r.json()) == {"code", "message"}
    r = api.delete("/v2/jobs")
    assert r.status_code == 405 and r.json()["code"] == "method_not_allowed"


# ---- lifecycle -----------------------------------------------------------------------------------
def test_lifecycle_queued_processing_with_rising_progress_completed(
    sandbox: Sandbox, api: httpx.Client
) -> None:
    sandbox.speed = 1.5  # music: 0.3 s queued + 1.1 s processing, virtual
    job = api.post("/v2/music", json={"prompt": "rise", "duration": 15, "format": "wav"}).json()
    seen: list[tuple[str, int]] = []
    while not seen or seen[-1][0] not in ("completed", "failed"):
        j = api.get(f"/v2/jobs/{job['id']}").json()
        seen.append((j["status"], j["progress"]))
        time.sleep(0.03)
    statuses = [s for s, _ in seen]
    assert statuses[0] == "queued" and statuses[-1] == "completed"
    assert "processing" in statuses
    order = ["queued", "processing", "completed"]
    assert [order.index(s) for s in statuses] == sorted(order.index(s) for s in statuses)
    progress = [p for _, p in seen]
    assert progress == sorted(progress) and progress[-1] == 100
    running = [p for s, p in seen if s == "processing"]
    assert len(set(running)) >= 3 and max(running) <= 99
    done = j
    assert ISO_Z.match(done["completed_at"]) and done["completed_at"] >= done["created_at"]
    assert done["download_url"].startswith(sandbox.base_url("mercadream") + "/files/")


def test_failed_job_has_error_and_no_output(finished) -> None:
    job = finished["jobs"]["failed"]
    assert job["status"] == "failed"
    assert job["error"] == {"code": "content_policy_violation", "message": "Not allowed."}
    assert "download_url" not in job and ISO_Z.match(job["completed_at"])


# ---- outputs -------------------------------------------------------------------------------------
def test_video_output_is_h264_at_the_requested_fps_and_duration(finished, tmp_path) -> None:
    job = finished["jobs"]["video"]
    assert job["status"] == "completed" and job["progress"] == 100
    path = download(job["download_url"], tmp_path / "v.mp4", content_type="video/mp4")
    assert path.stat().st_size == job["file_size_bytes"]  # download() checks content-length
    info = probe(path)
    assert info["video"]["codec"] == "h264"
    assert (info["video"]["width"], info["video"]["height"]) == (640, 360)
    assert info["video"]["fps"] == pytest.approx(30, abs=0.01)
    assert info["duration"] == pytest.approx(15, abs=0.2)
    assert count_frames(path) == 15 * 30
    assert (frame(path, 1.0) != frame(path, 10.0)).any()  # the frames move
    thumb = download(job["thumbnail_url"], tmp_path / "t.jpg", content_type="image/jpeg")
    assert thumb.read_bytes()[:3] == b"\xff\xd8\xff"


def test_speech_outputs_are_audible_in_the_requested_format(finished, tmp_path) -> None:
    jobs = finished["jobs"]
    wav = download(jobs["speech_wav"]["download_url"], tmp_path / "s.wav", content_type="audio/wav")
    assert wav.read_bytes()[:4] == b"RIFF"
    fast = download(
        jobs["speech_fast"]["download_url"], tmp_path / "s.mp3", content_type="audio/mpeg"
    )
    assert probe(fast)["audio"]["codec"] == "mp3"
    assert audio_rms(wav) > 0.02 and audio_rms(fast) > 0.02
    assert probe(fast)["duration"] < 0.75 * probe(wav)["duration"]  # speed 2.0 vs 1.0
    other_voice = download(jobs["speech_f"]["download_url"], tmp_path / "f.wav")
    assert audio_rms(other_voice) > 0.02
    # another voice_id, another voice
    assert_different_bytes(other_voice.read_bytes(), wav.read_bytes(), "two voices' speech")
    assert "thumbnail_url" not in jobs["speech_wav"]


def test_video_with_voice_id_carries_a_narration(finished, tmp_path) -> None:
    path = download(finished["jobs"]["narrated"]["download_url"], tmp_path / "n.mp4")
    info = probe(path)
    assert info["video"]["codec"] == "h264" and info["video"]["fps"] == pytest.approx(24)
    assert info["audio"] is not None and audio_rms(path) > 0.01
    assert info["duration"] == pytest.approx(15, abs=0.2)


def test_music_output_has_the_requested_length_and_bpm(finished, tmp_path) -> None:
    job = finished["jobs"]["music"]
    assert job["bpm"] == 90
    path = download(job["download_url"], tmp_path / "m.flac", content_type="audio/flac")
    info = probe(path)
    assert info["audio"]["codec"] == "flac" and info["duration"] == pytest.approx(15, abs=0.1)
    assert audio_rms(path) > 0.01


def test_downloads_support_range_and_404(sandbox: Sandbox, finished) -> None:
    url = finished["jobs"]["video"]["download_url"]
    r = httpx.get(url, headers={"Range": "bytes=0-99"}, trust_env=False)
    assert r.status_code == 206 and len(r.content) == 100
    r = httpx.get(sandbox.base_url("mercadream") + "/files/job_nope.mp4", trust_env=False)
    assert r.status_code == 404


# ---- lists and the vault ---------------------------------------------------------------------------
def test_list_filters_by_status_newest_first(sandbox: Sandbox, finished) -> None:
    with client_for(sandbox, finished["key"]) as c:
        all_jobs = c.get("/v2/jobs").json()
        assert all_jobs["has_more"] is False
        ids = [j["id"] for j in all_jobs["data"]]
        created = [finished["created"][n]["id"] for n in finished["created"]]
        assert ids == created[::-1]  # newest first
        failed = c.get("/v2/jobs", params={"status": "failed"}).json()["data"]
        assert [j["id"] for j in failed] == [finished["jobs"]["failed"]["id"]]
        completed = c.get("/v2/jobs", params={"status": "completed"}).json()["data"]
        assert len(completed) == 6 and all(j["status"] == "completed" for j in completed)
        assert c.get("/v2/jobs", params={"status": "queued"}).json() == {
            "data": [],
            "has_more": False,
        }


def test_list_limit_and_before_paging(sandbox: Sandbox, api: httpx.Client) -> None:
    sandbox.faults.fail_next_jobs(5)
    made = [api.post("/v2/speech", json={"text": f"n{i}"}).json() for i in range(5)]
    pages, before = [], None
    while True:
        params = {"limit": 2, **({"before": before} if before else {})}
        page = api.get("/v2/jobs", params=params).json()
        pages.append(page)
        if not page["has_more"]:
            break
        before = page["data"][-1]["created_at"]
    assert [len(p["data"]) for p in pages] == [2, 2, 1]
    assert [p["has_more"] for p in pages] == [True, True, False]
    assert [j["id"] for p in pages for j in p["data"]] == [j["id"] for j in made[::-1]]
    assert len(api.get("/v2/jobs", params={"limit": 100}).json()["data"]) == 5
    assert api.get("/v2/jobs", params={"before": "2000-01-01T00:00:00Z"}).json()["data"] == []


def test_a_page_builds_only_its_own_rows(sandbox: Sandbox, api: httpx.Client, monkeypatch) -> None:
    """A page of 2 out of 12 jobs renders 2 rows, not 12: an account of a thousand jobs read a
    page at a time must not cost a thousand rows a page (it made every list call ~0.1 s)."""
    from nbmedia.sandbox.mercadream.state import MercaDream

    made = [api.post("/v2/speech", json={"text": f"n{i}"}).json()["id"] for i in range(12)]
    built: list[str] = []
    job_json = MercaDream.job_json

    def counted(self, job, snap=None):
        built.append(job.id)
        return job_json(self, job, snap)

    monkeypatch.setattr(MercaDream, "job_json", counted)
    page = api.get("/v2/jobs", params={"limit": 2}).json()
    assert [j["id"] for j in page["data"]] == made[:-3:-1] and page["has_more"] is True
    assert built == made[:-3:-1]
    built.clear()
    last = api.get("/v2/jobs", params={"limit": 12}).json()
    assert len(last["data"]) == 12 and last["has_more"] is False and len(built) == 12


@pytest.mark.parametrize(
    ("path", "params", "param"),
    [
        ("/v2/jobs", {"status": "done"}, "status"),
        ("/v2/jobs", {"status": ""}, "status"),
        ("/v2/jobs", {"limit": "0"}, "limit"),
        ("/v2/jobs", {"limit": "101"}, "limit"),
        ("/v2/jobs", {"limit": "ten"}, "limit"),
        ("/v2/jobs", {"before": "yesterday"}, "before"),
        ("/v2/vault", {"limit": "-1"}, "limit"),
        ("/v2/vault", {"before": "2025-13-01"}, "before"),
    ],
)
def test_400_bad_query(api: httpx.Client, path, params, param) -> None:
    r = api.get(path, params=params)
    assert r.status_code == 400 and r.json()["param"] == param
    assert param in r.json()["message"] and repr(params[param]).strip("'") in r.json()["message"]


def test_vault_lists_finished_assets_newest_first(sandbox: Sandbox, finished) -> None:
    with client_for(sandbox, finished["key"]) as c:
        vault = c.get("/v2/vault").json()
        assert vault["has_more"] is False
        assets = vault["data"]
        jobs = finished["jobs"]
        completed = {j["id"]: j for n, j in jobs.items() if j["status"] == "completed"}
        assert {a["job_id"] for a in assets} == set(completed)  # no failed job
        for a in assets:
            assert set(a) == {
                "id", "job_id", "kind", "download_url", "thumbnail_url", "file_size_bytes",
                "created_at",
            }  # fmt: skip
            job = completed[a["job_id"]]
            assert a["download_url"] == job["download_url"]
            assert a["file_size_bytes"] == job["file_size_bytes"] > 0
            assert a["kind"] == job["kind"] and ISO_Z.match(a["created_at"])
            assert (a["thumbnail_url"] is not None) == (a["kind"] == "video")
        stamps = [a["created_at"] for a in assets]
        assert stamps == sorted(stamps, reverse=True)
        first = c.get("/v2/vault", params={"limit": 3}).json()
        assert first["has_more"] is True and first["data"] == assets[:3]
        rest = c.get("/v2/vault", params={"before": first["data"][-1]["created_at"]}).json()
        assert rest["data"] == assets[3:] and rest["has_more"] is False


# ---- webhooks ------------------------------------------------------------------------------------
def events_of(receiver: Receiver, job_id: str) -> list[str]:
    return [p["event"] for p in receiver.payloads() if p["job_id"] == job_id]


def test_webhooks_are_signed_and_in_order(sandbox: Sandbox, api, receiver) -> None:
    job = api.post(  # webhook_url is documented on /generate only
        "/v2/generate",
        json={"prompt": "hook", "duration": 15, "resolution": "720p", "webhook_url": receiver.url},
    ).json()
    receiver.wait(lambda ps: any(p["event"] in ("job.completed", "job.failed") for p in ps))
    assert events_of(receiver, job["id"]) == ["job.processing", "job.completed"]
    secret = sandbox.webhook_secret("mercadream").encode()
    final = api.get(f"/v2/jobs/{job['id']}").json()
    for headers, body in receiver.events:
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["MercaDream-Signature"], expected)
        payload = json.loads(body)
        assert list(payload) == [
            "event", "job_id", "status", "download_url", "timestamp", "signature",
        ]  # fmt: skip
        unsigned = {k: v for k, v in payload.items() if k != "signature"}
        inner = json.dumps(unsigned, separators=(",", ":")).encode()
        assert (
            payload["signature"] == "sha256=" + hmac.new(secret, inner, hashlib.sha256).hexdigest()
        )
        assert ISO_Z.match(payload["timestamp"])
    processing, completed = receiver.payloads()
    assert (processing["status"], processing["download_url"]) == ("processing", None)
    assert completed["status"] == "completed"
    assert completed["download_url"] == final["download_url"]


def test_failed_job_webhook_and_retry_after_receiver_error(sandbox, api) -> None:
    receiver = Receiver(fail_first=1)
    try:
        sandbox.faults.fail_next_jobs(1, code="content_policy_violation", message="No.")
        job = api.post("/v2/generate", json={"prompt": "x", "webhook_url": receiver.url}).json()
        receiver.wait(lambda ps: any(p["event"] == "job.failed" for p in ps))
        assert events_of(receiver, job["id"]) == ["job.processing", "job.failed"]
        failed = receiver.payloads()[-1]
        assert failed["error"] == {"code": "content_policy_violation", "message": "No."}
        first = next(d for d in sandbox.webhook_log if d.url == receiver.url)
        assert first.attempts == 2 and first.outcome == "delivered"
    finally:
        receiver.close()


def test_webhook_faults_drop_duplicate_reorder(sandbox: Sandbox, api) -> None:
    def run(**knobs: object) -> tuple[list[str], str]:
        receiver = Receiver()
        try:
            for name, value in knobs.items():
                setattr(sandbox.faults, name, value)
            sandbox.faults.fail_next_jobs(1)  # fast, and no render needed
            job = api.post("/v2/generate", json={"prompt": "x", "webhook_url": receiver.url}).json()
            wait_job(api, job["id"])
            if knobs.get("webhook_drop"):
                time.sleep(0.3)
            else:
                expected = 4 if knobs.get("webhook_duplicate") else 2
                receiver.wait(lambda ps: len(ps) >= expected, timeout=5)
            return events_of(receiver, job["id"]), job["id"]
        finally:
            sandbox.faults.reset()
            receiver.close()

    events, job_id = run(webhook_drop=True)
    assert events == []
    assert [d.outcome for d in sandbox.webhook_log if job_id.encode() in d.body] == ["dropped"] * 2
    events, _ = run(webhook_duplicate=True)
    assert events == ["job.processing"] * 2 + ["job.failed"] * 2
    events, _ = run(webhook_reorder=True)
    assert events == ["job.failed", "job.processing"]


# ---- request faults ------------------------------------------------------------------------------
def test_fault_5xx_next_requests_then_normal(sandbox: Sandbox, api: httpx.Client) -> None:
    sandbox.faults.fail_next_requests(2, status=502)
    assert [api.get("/v2/jobs").status_code for _ in range(3)] == [502, 502, 200]
    sandbox.faults.fail_next_requests(1)
    r = api.post("/v2/speech", json={"text": "x"})
    assert r.status_code == 503 and r.json()["code"] == "service_unavailable"
    assert api.get("/v2/jobs").json()["data"] == []  # a rejected request was not processed


def test_fault_error_rate_gives_the_providers_500(sandbox: Sandbox, api: httpx.Client) -> None:
    sandbox.faults.error_rate = 1.0
    r = api.get("/v2/jobs")
    assert r.status_code == 500 and r.json()["code"] == "internal_error"
    sandbox.faults.error_rate = 0.0
    assert api.get("/v2/jobs").status_code == 200


def test_fault_rate_limit_next_with_retry_after(sandbox: Sandbox, api: httpx.Client) -> None:
    sandbox.faults.rate_limit_next(1, retry_after=7)
    r = api.get("/v2/jobs")
    assert r.status_code == 429 and r.headers["Retry-After"] == "7"
    assert r.json()["code"] == "rate_limit_exceeded" and r.json()["retry_after"] == 7


def test_fault_latency(sandbox: Sandbox, api: httpx.Client) -> None:
    sandbox.faults.latency = 0.3
    started = time.monotonic()
    api.get("/v2/jobs")
    assert time.monotonic() - started >= 0.3


def test_fault_drop_after_receive_processes_then_closes(sandbox: Sandbox, api) -> None:
    sandbox.faults.drop_after_receive_next(1)
    sandbox.faults.fail_next_jobs(1)
    with pytest.raises(httpx.RemoteProtocolError):
        api.post("/v2/speech", json={"text": "the answer is lost"})
    assert sandbox.request_log[-1].status is None
    jobs = api.get("/v2/jobs").json()["data"]  # the job exists all the same
    assert [j["text"] for j in jobs] == ["the answer is lost"]


def test_faults_spare_downloads_except_download_delay(sandbox: Sandbox, finished) -> None:
    url = finished["jobs"]["speech_wav"]["download_url"]
    sandbox.faults.fail_next_requests(1)
    sandbox.faults.error_rate = 1.0
    assert httpx.get(url, trust_env=False).status_code == 200
    sandbox.faults.reset()
    sandbox.faults.download_delay = 0.4
    started = time.monotonic()
    r = httpx.get(url, trust_env=False)
    assert time.monotonic() - started >= 0.4
    assert r.status_code == 200 and int(r.headers["content-length"]) == len(r.content)
