"""The sandbox's ViddyScribe Enterprise API over real HTTP: every upload path (multipart, URL,
signed URL with PUT / notify / status and the canonical id), every generation kind and format,
every error code with its status, signed-link expiry and refresh, and the outputs checked for
what they claim. Written against the contract (providers.md section 3 and the readings in
``nbmedia/sandbox/viddyscribe/__init__.py``), not the client."""

from __future__ import annotations

import re
import secrets
import subprocess
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from nbmedia.sandbox import Sandbox, viddyscribe
from nbmedia.sandbox.services.media.audio import write_audio
from nbmedia.sandbox.services.media.video import render_video
from tests.conftest import data_uri, download, sandbox_client, wait_for
from tests.mediacheck import FFMPEG, audio_rms, decode_audio, frame, probe

pytestmark = pytest.mark.timeout(120)

A = "/enterprise/api"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
JOB_ID = re.compile(r"^task_[a-z0-9]{12}$")
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
CLIP_SECONDS = 4.0
CUT_AT = 2.0
TITLE = "Quarterly results"
COMMENT = "Revenue is up 12 percent"


# ---- media made for the tests ------------------------------------------------------------------
@pytest.fixture(scope="module")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("viddyscribe")


@pytest.fixture(scope="module")
def clip(media_dir: Path) -> Path:
    """4 s, a red picture cut to a blue one at 2 s, with a quiet tone as its own sound."""
    red, blue = media_dir / "red.png", media_dir / "blue.png"
    Image.new("RGB", (320, 180), (220, 30, 30)).save(red)
    Image.new("RGB", (320, 180), (30, 60, 220)).save(blue)
    rate = 22050
    t = np.arange(round(CLIP_SECONDS * rate)) / rate
    tone = write_audio(
        media_dir / "tone.wav", (0.05 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), rate, "wav"
    )
    return render_video(
        media_dir / "clip.mp4",
        text="",
        duration=CLIP_SECONDS,
        fps=12,
        width=320,
        height=180,
        images=[red, blue],
        audio=tone,
    )


@pytest.fixture(scope="module")
def drift(media_dir: Path) -> Path:
    """9 s of the sandbox's moving gradient: one long scene, no cut, no sound."""
    return render_video(
        media_dir / "drift.mp4", text="", duration=9, fps=8, width=160, height=90, seed=5
    )


@pytest.fixture(scope="module")
def tagged(clip: Path, media_dir: Path) -> Path:
    """The clip with a title and a comment in its metadata: its readable on-screen text."""
    out = media_dir / "tagged.mp4"
    subprocess.run(
        [FFMPEG, "-hide_banner", "-nostdin", "-y", "-i", str(clip), "-c", "copy"]
        + ["-metadata", f"title={TITLE}", "-metadata", f"comment={COMMENT}", str(out)],
        check=True,
        capture_output=True,
    )
    return out


@pytest.fixture(scope="module")
def speech_only(media_dir: Path) -> bytes:
    rate = 16000
    samples = (0.2 * np.sin(2 * np.pi * 220 * np.arange(rate) / rate)).astype(np.float32)
    return write_audio(media_dir / "voice.wav", samples, rate, "wav").read_bytes()


# ---- helpers ------------------------------------------------------------------------------------
def new_key(marker: str = "_") -> str:
    """A fresh key: a team of its own (queues, media and jobs are per team)."""
    return f"vsk_test{marker}{secrets.token_hex(6)}"


def client_for(sandbox: Sandbox, key: str | None) -> httpx.Client:
    return sandbox_client(sandbox, "viddyscribe", {"X-API-Key": key} if key else None, timeout=60)


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with client_for(sandbox, new_key()) as c:
        yield c


def upload(api: httpx.Client, path: Path) -> dict[str, Any]:
    r = api.post(f"{A}/upload_media", files={"file": (path.name, path.read_bytes(), "video/mp4")})
    assert r.status_code == 200, r.text
    return r.json()


def generate(
    api: httpx.Client, kind: str, media_id: str, expect: int = 200, **config: Any
) -> dict[str, Any]:
    body = {"input": {"type": "media_id", "media_id": media_id}, "generation_config": config}
    r = api.post(f"{A}/generate_ad_{kind}", json=body)
    assert r.status_code == expect, r.text
    return r.json()


def wait_job(api: httpx.Client, job_id: str) -> dict[str, Any]:
    params = {"job_id": job_id}
    return wait_for(
        api, f"{A}/get_results", "status", ("done", "failed"), params=params, every=0.03
    )


def wait_upload(api: httpx.Client, query: dict[str, Any]) -> dict[str, Any]:
    """`get_upload_status` once verification has ended."""
    ends = ("completed", "failed")
    return wait_for(api, f"{A}/get_upload_status", "upload_status", ends, params=query, timeout=10)


def run(api: httpx.Client, kind: str, media_id: str, **config: Any) -> dict[str, Any]:
    job = generate(api, kind, media_id, **config)
    done = wait_job(api, job["job_id"])
    assert done["status"] == "done", done
    return done


def assert_error(r: httpx.Response, status: int, code: str, mentions: str = "") -> dict:
    # a media body is never dumped into the failure message
    shown = (
        r.text[:300]
        if r.headers.get("content-type", "").startswith(("application/json", "text/"))
        else f"<{len(r.content)} bytes of {r.headers.get('content-type')}>"
    )
    assert r.status_code == status, shown
    body = r.json()
    assert body["code"] == code and isinstance(body["message"], str), body
    assert mentions in body["message"], body
    return body


def check_tiling(segments: list[dict[str, Any]], duration: float) -> None:
    """Ordered segments with text, from 0 to the end of the video, no gaps, no overlaps."""
    assert segments and segments[0]["start"] == 0
    assert abs(segments[-1]["end"] - duration) < 0.01
    for a, b in zip(segments, segments[1:], strict=False):
        assert a["start"] < a["end"] == b["start"] < b["end"]
    assert all(s["text"].strip() for s in segments)


# ---- uploads ------------------------------------------------------------------------------------
def test_multipart_upload_verifies_the_video_at_once(api: httpx.Client, clip: Path) -> None:
    media = upload(api, clip)
    assert UUID.match(media["media_id"]) and media["status"] == "created"
    assert media["duration_seconds"] == pytest.approx(CLIP_SECONDS, abs=0.05)
    assert media["frame_rate"] == 12 and (media["width"], media["height"]) == (320, 180)
    assert media["file_size_bytes"] == clip.stat().st_size and media["filename"] == "clip.mp4"
    status = api.get(f"{A}/get_upload_status", params={"media_id": media["media_id"]}).json()
    assert status["upload_status"] == "completed"
    assert status["canonical_media_id"] == media["media_id"]


def test_url_uploads_data_uri_earlier_output_and_unreachable(api: httpx.Client, clip: Path) -> None:
    r = api.post(
        f"{A}/upload_media", json={"input": {"type": "url", "url": data_uri(clip, "video/mp4")}}
    )
    assert r.status_code == 200, r.text
    assert r.json()["duration_seconds"] == pytest.approx(CLIP_SECONDS, abs=0.05)
    described = run(api, "video", r.json()["media_id"])["video_signed_url"]
    again = api.post(
        f"{A}/upload_media",
        json={"input": {"type": "url", "url": described, "filename": "described.mp4"}},
    )
    assert again.status_code == 200, again.text
    assert again.json()["filename"] == "described.mp4"
    assert again.json()["duration_seconds"] == pytest.approx(CLIP_SECONDS, abs=0.1)
    r = api.post(
        f"{A}/upload_media", json={"input": {"type": "url", "url": "https://example.com/v.mp4"}}
    )
    assert_error(r, 400, "invalid_request", "input.url")


def test_signed_upload_flow_with_canonical_id(
    sandbox: Sandbox, api: httpx.Client, clip: Path
) -> None:
    r = api.post(
        f"{A}/upload_media",
        json={"input": {"type": "signed_url", "filename": "big.mp4", "content_type": "video/mp4"}},
    )
    assert r.status_code == 200, r.text
    signed = r.json()
    assert set(signed) == {"media_id", "upload_url", "gcs_path", "status", "content_type"}
    assert signed["status"] == "pending_upload" and signed["content_type"] == "video/mp4"
    provisional, gcs_path = signed["media_id"], signed["gcs_path"]
    q = {"media_id": provisional, "gcs_path": gcs_path}
    status = api.get(f"{A}/get_upload_status", params=q).json()
    assert status["upload_status"] == "pending" and status["canonical_media_id"] is None
    by_id = {"input": {"type": "media_id", "media_id": provisional}}
    assert_error(api.post(f"{A}/generate_ad_text", json=by_id), 409, "upload_not_ready")
    notify = {"media_id": provisional, "gcs_path": gcs_path}
    assert_error(api.post(f"{A}/notify_upload_complete", json=notify), 409, "upload_not_ready")

    bytes_ = clip.read_bytes()
    wrong = httpx.put(signed["upload_url"], content=bytes_, headers={"Content-Type": "text/plain"})
    assert_error(wrong, 403, "signature_mismatch", "video/mp4")
    put = httpx.put(
        signed["upload_url"], content=bytes_, headers={"Content-Type": "video/mp4"}, timeout=30
    )
    assert put.status_code == 200, put.text  # no API key: the URL is signed

    sandbox.speed = 1  # verification takes VERIFY_SECONDS of clock: long enough to see it
    r = api.post(f"{A}/notify_upload_complete", json=notify)
    assert r.status_code == 200 and r.json()["upload_status"] == "processing", r.text
    assert_error(api.post(f"{A}/generate_ad_text", json=by_id), 409, "upload_not_ready", "retry")
    assert api.get(f"{A}/get_upload_status", params=q).json()["upload_status"] == "processing"
    sandbox.speed = 20
    status = wait_upload(api, q)
    assert status["upload_status"] == "completed", status
    canonical = status["canonical_media_id"]
    assert UUID.match(canonical) and canonical != provisional
    assert status["duration_seconds"] == pytest.approx(CLIP_SECONDS, abs=0.05)
    for media_id in (provisional, canonical):
        job = generate(api, "text", media_id)
        assert job["media_id"] == canonical and job["status"] == "queued"
    bad = api.get(f"{A}/get_upload_status", params={**q, "gcs_path": "teams/x/videos/y"})
    assert_error(bad, 400, "invalid_request", "gcs_path")


def request_signed(api: httpx.Client) -> dict[str, Any]:
    r = api.post(
        f"{A}/upload_media",
        json={"input": {"type": "signed_url", "filename": "x.mp4", "content_type": "video/mp4"}},
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_failed_verification_is_upload_failed(api: httpx.Client) -> None:
    signed = request_signed(api)
    put = httpx.put(signed["upload_url"], content=b"not a video " * 100,
                    headers={"Content-Type": "video/mp4"})  # fmt: skip
    assert put.status_code == 200
    q = {"media_id": signed["media_id"], "gcs_path": signed["gcs_path"]}
    assert api.post(f"{A}/notify_upload_complete", json=q).status_code == 200
    status = wait_upload(api, q)
    assert status["upload_status"] == "failed" and status["canonical_media_id"] is None
    assert status["error_code"] == "no_video_stream" and status["error"]
    r = api.post(
        f"{A}/generate_ad_audio",
        json={"input": {"type": "media_id", "media_id": signed["media_id"]}},
    )
    assert_error(r, 409, "upload_failed", "Re-upload")


# ---- errors -------------------------------------------------------------------------------------
def test_auth(sandbox: Sandbox) -> None:
    for key in (None, "sk_live_123", "vsk_"):
        with client_for(sandbox, key) as c:
            assert_error(
                c.get(f"{A}/get_results", params={"job_id": "task_x"}), 401, "unauthorized"
            )


def test_415_for_audio_only_and_undecodable(api: httpx.Client, speech_only: bytes) -> None:
    for name, data in (("voice.wav", speech_only), ("junk.mp4", secrets.token_bytes(5000))):
        r = api.post(f"{A}/upload_media", files={"file": (name, data, "video/mp4")})
        assert_error(r, 415, "no_video_stream")


def test_403_plan_and_upload_limits(sandbox: Sandbox, media_dir: Path) -> None:
    long = render_video(media_dir / "long.mp4", text="", duration=601, fps=1, width=32, height=18)
    with client_for(sandbox, new_key("_starter_")) as starter:
        r = starter.post(f"{A}/upload_media", files={"file": ("l.mp4", long.read_bytes())})
        assert_error(r, 403, "video_too_long", "10 min")
        signed = request_signed(starter)
        big = b"\0" * (32 * 1024 * 1024 + 1)
        put = httpx.put(signed["upload_url"], content=big, headers={"Content-Type": "video/mp4"})
        assert put.status_code == 200
        q = {"media_id": signed["media_id"], "gcs_path": signed["gcs_path"]}
        assert_error(starter.post(f"{A}/notify_upload_complete", json=q), 403, "file_too_large")
    with client_for(sandbox, new_key()) as enterprise:
        ok = enterprise.post(f"{A}/upload_media", files={"file": ("l.mp4", long.read_bytes())})
        assert ok.status_code == 200, ok.text  # 2 h on the default plan
        r = enterprise.post(f"{A}/upload_media", files={"file": ("b.mp4", big)})
        assert_error(r, 403, "file_too_large", "signed upload")


def test_404s(sandbox: Sandbox, api: httpx.Client, clip: Path) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    assert_error(
        api.post(
            f"{A}/generate_ad_text", json={"input": {"type": "media_id", "media_id": missing}}
        ),
        404,
        "media_not_found",
    )
    assert_error(api.get(f"{A}/get_results", params={"job_id": "task_nope"}), 404, "job_not_found")
    job = generate(api, "text", upload(api, clip)["media_id"])
    with client_for(sandbox, new_key()) as other:  # another team sees neither job nor media
        assert_error(
            other.get(f"{A}/get_results", params={"job_id": job["job_id"]}), 404, "job_not_found"
        )
        r = other.post(f"{A}/generate_ad_text", json={"media_id": job["media_id"]})
        assert_error(r, 404, "media_not_found")


BY_ID = {"type": "media_id", "media_id": "m"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"generation_config": {}}, "input"),
        ({"input": {"type": "file"}}, "input.type"),
        ({"input": {**BY_ID, "url": "u"}}, "input.url"),
        ({"input": BY_ID, "extra": 1}, "extra"),
        (
            {"input": BY_ID, "generation_config": {"language": "xx-YY"}},
            "generation_config.language",
        ),
        ({"input": BY_ID, "generation_config": {"language": "en"}}, "generation_config.language"),
        ({"input": BY_ID, "generation_config": {"format": "docx"}}, "generation_config.format"),
        ({"input": BY_ID, "generation_config": {"format": "video"}}, "generation_config.format"),
        ({"input": BY_ID, "generation_config": {"ad_type": "long"}}, "generation_config.ad_type"),
        ({"input": BY_ID, "generation_config": {"voice": "Rachel"}}, "generation_config.voice"),
        ({"input": BY_ID, "generation_config": {"video_category": "Sport"}}, "video_category"),
        ({"input": BY_ID, "generation_config": {"read_all_onscreen_text": "yes"}}, "read_all"),
        ({"input": BY_ID, "generation_config": {"custom_instructions": "x" * 2001}}, "custom"),
        ({"input": BY_ID, "generation_config": {"category": "News"}}, "generation_config.category"),
        ({"media_id": "m", "colour": "red"}, "colour"),
    ],
)
def test_400_names_the_field(api: httpx.Client, body: dict[str, Any], field: str) -> None:
    assert_error(api.post(f"{A}/generate_ad_text", json=body), 400, "invalid_request", field)


def test_all_52_languages_are_accepted_and_others_rejected(api: httpx.Client) -> None:
    assert len(viddyscribe.LANGUAGES) == 52
    missing = "00000000-0000-4000-8000-000000000000"
    for code in viddyscribe.LANGUAGES:  # valid config: the request gets as far as the media
        r = api.post(f"{A}/generate_ad_text", json={"media_id": missing, "language": code})
        assert_error(r, 404, "media_not_found")
    for code in ("en-NZ", "zz-ZZ", "klingon"):
        r = api.post(f"{A}/generate_ad_text", json={"media_id": missing, "language": code})
        assert_error(r, 400, "invalid_request", "language")


def test_429_rate_plan_queue(sandbox: Sandbox, api: httpx.Client, clip: Path) -> None:
    sandbox.faults.rate_limit_next(1, retry_after=3)
    r = api.get(f"{A}/get_results", params={"job_id": "task_x"})
    assert assert_error(r, 429, "rate_limit_exceeded")["retry_after"] == 3
    assert r.headers["Retry-After"] == "3"

    with client_for(sandbox, new_key("_exhausted_")) as spent:
        media = upload(spent, clip)  # uploading is allowed; generating is not
        body = assert_error(
            spent.post(f"{A}/generate_ad_text", json={"media_id": media["media_id"]}),
            429,
            "plan_limit_exceeded",
        )
        assert "retry_after" not in body  # waiting does not help

    media_id = upload(api, clip)["media_id"]
    sandbox.speed = 0.05  # nothing starts while we fill the queue
    for _ in range(viddyscribe.MAX_QUEUED_JOBS):
        generate(api, "text", media_id)
    r = api.post(f"{A}/generate_ad_text", json={"media_id": media_id})
    assert assert_error(r, 429, "queue_limit_exceeded")["retry_after"] >= 1
    assert int(r.headers["Retry-After"]) >= 1


def test_processing_slots_hold_later_jobs_queued(
    sandbox: Sandbox, api: httpx.Client, clip: Path
) -> None:
    """A team runs PROCESSING_SLOTS jobs at a time: the next waits queued until a slot ends."""
    media_id = upload(api, clip)["media_id"]
    sandbox.speed = 2.0  # a text job on the clip: 0.25 s queued, then 2 s of processing
    slots = viddyscribe.PROCESSING_SLOTS
    sandbox.faults.fail_next_jobs(slots)  # the first ones fail half-way: no render to wait on
    ids = [generate(api, "text", media_id)["job_id"] for _ in range(slots + 1)]

    def statuses() -> list[str]:
        got = [api.get(f"{A}/get_results", params={"job_id": i}) for i in ids]
        return [r.json()["status"] for r in got]

    deadline = time.monotonic() + 30
    while (seen := statuses())[:slots] != ["processing"] * slots:
        assert "failed" not in seen and time.monotonic() < deadline, seen
        time.sleep(0.02)
    assert seen[slots] == "queued"  # every slot is taken
    while (seen := statuses())[slots] == "queued":
        assert time.monotonic() < deadline, seen
        time.sleep(0.02)
    assert seen[:slots] == ["failed"] * slots  # it started only once a slot was free
    assert wait_job(api, ids[slots])["status"] == "done"


def test_429_concurrency_limit(sandbox: Sandbox) -> None:
    key = new_key()
    release = threading.Event()
    answers: list[int] = []

    def slow_body() -> Iterator[bytes]:
        yield b'{"input": '
        release.wait(20)
        yield b"{}}"

    def send() -> None:
        with client_for(sandbox, key) as c:
            r = c.post(
                f"{A}/generate_ad_text",
                content=slow_body(),
                headers={"Content-Type": "application/json"},
            )
            answers.append(r.status_code)

    threads = [threading.Thread(target=send) for _ in range(viddyscribe.SUBMISSIONS_IN_FLIGHT)]
    for t in threads:
        t.start()
    try:
        with client_for(sandbox, key) as c:
            # the slow bodies take their slots once their threads run (slow on a loaded CI)
            deadline = time.monotonic() + 30
            while (r := c.post(f"{A}/generate_ad_text", json={})).status_code != 429:
                assert r.status_code == 400, r.text
                assert time.monotonic() < deadline, (
                    f"no 429 in 30 s; the slow submissions answered {answers}, "
                    f"{sum(t.is_alive() for t in threads)} of them still sending"
                )
                time.sleep(0.01)
            assert assert_error(r, 429, "concurrency_limit_exceeded")["retry_after"] >= 1
    finally:
        release.set()
        for t in threads:
            t.join(20)
    assert answers == [400] * viddyscribe.SUBMISSIONS_IN_FLIGHT  # the held ones then go on


def test_500_and_failed_job(sandbox: Sandbox, api: httpx.Client, clip: Path) -> None:
    sandbox.faults.fail_next_requests(1, status=500)
    assert_error(api.get(f"{A}/get_results", params={"job_id": "x"}), 500, "internal_error")
    media_id = upload(api, clip)["media_id"]
    sandbox.faults.fail_next_jobs(1, code="content_policy_violation", message="Refused.")
    failed = wait_job(api, generate(api, "video", media_id)["job_id"])
    assert failed["status"] == "failed" and failed["error_code"] == "content_policy_violation"
    assert failed["error"] == "Refused." and "video_signed_url" not in failed


# ---- generation ---------------------------------------------------------------------------------
def test_text_json_describes_the_video(api: httpx.Client, clip: Path) -> None:
    media_id = upload(api, clip)["media_id"]
    job = generate(api, "text", media_id)
    assert JOB_ID.match(job["job_id"]) and job == {
        "job_id": job["job_id"],
        "status": "queued",
        "media_id": media_id,
    }
    first = api.get(f"{A}/get_results", params={"job_id": job["job_id"]}).json()
    assert first["status"] in ("queued", "processing") and "output" not in first
    done = wait_job(api, job["job_id"])
    assert ISO.match(done["created_at"]) and ISO.match(done["updated_at"])
    assert done["updated_at"] >= done["created_at"] and done["media_id"] == media_id
    assert "audio_signed_url" not in done and "video_signed_url" not in done
    out = done["output"]
    assert out["format"] == "json" and out["language"] == "en-US" and "note" not in out
    segments = out["segments"]
    check_tiling(segments, CLIP_SECONDS)
    assert [round(s["start"], 1) for s in segments] == [0.0, CUT_AT]  # the cut is found
    assert "red" in segments[0]["text"] and "blue" in segments[1]["text"]
    assert segments[1]["text"].startswith("Cut to")


def cues(vtt: str) -> list[tuple[float, float, str]]:
    assert vtt.startswith("WEBVTT\n\n")
    found = []
    for block in vtt.strip().split("\n\n")[1:]:
        lines = block.splitlines()
        m = re.fullmatch(r"(\d+):(\d\d):(\d\d\.\d{3}) --> (\d+):(\d\d):(\d\d\.\d{3})", lines[1])
        assert m, block
        h1, m1, s1, h2, m2, s2 = m.groups()
        start = int(h1) * 3600 + int(m1) * 60 + float(s1)
        found.append((start, int(h2) * 3600 + int(m2) * 60 + float(s2), " ".join(lines[2:])))
    return found


def test_vtt_srt_edl(api: httpx.Client, clip: Path) -> None:
    media_id = upload(api, clip)["media_id"]
    jobs = {
        fmt: generate(api, "text", media_id, format=fmt)["job_id"] for fmt in ("vtt", "srt", "edl")
    }
    out = {fmt: wait_job(api, job)["output"] for fmt, job in jobs.items()}
    assert all(o["format"] == fmt and "segments" not in o for fmt, o in out.items())

    vtt = cues(out["vtt"]["content"])
    assert vtt[0][0] == 0 and vtt[-1][1] == pytest.approx(CLIP_SECONDS, abs=0.01)
    assert all(a[1] == b[0] for a, b in zip(vtt, vtt[1:], strict=False)) and all(c[2] for c in vtt)

    srt = out["srt"]["content"].strip().split("\n\n")
    assert [b.splitlines()[0] for b in srt] == [str(i) for i in range(1, len(srt) + 1)]
    assert all(re.fullmatch(r"\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}", b.splitlines()[1])
               for b in srt)  # fmt: skip

    edl = out["edl"]["content"].splitlines()
    assert edl[0].startswith("TITLE: ") and edl[1] == "FCM: NON-DROP FRAME"
    tc = r"(\d\d:\d\d:\d\d:\d\d)"
    events = [re.fullmatch(rf"(\d{{3}})\s+AX\s+A\s+C\s+{tc} {tc} {tc} {tc}", line) for line in edl]
    events = [e for e in events if e]
    assert [e[1] for e in events] == ["001", "002"]
    assert events[0][2] == "00:00:00:00" and events[1][2] == "00:00:02:00"  # 12 fps timecode
    assert events[-1][3] == "00:00:04:00" and all(e[2] == e[4] for e in events)
    assert sum(line.startswith("* COMMENT: ") for line in edl) == 2


def test_extended_ad_is_longer_and_finer(api: httpx.Client, drift: Path) -> None:
    media_id = upload(api, drift)["media_id"]
    std = generate(api, "text", media_id)["job_id"]
    ext = generate(api, "text", media_id, ad_type="extended_ad", video_category="Documentary")
    standard = wait_job(api, std)["output"]["segments"]
    extended = wait_job(api, ext["job_id"])["output"]["segments"]
    check_tiling(standard, 9.0)
    check_tiling(extended, 9.0)
    assert len(extended) > len(standard) >= 2
    assert max(s["end"] - s["start"] for s in standard) <= 8.0
    assert max(s["end"] - s["start"] for s in extended) <= 4.0
    words = sum(len(s["text"].split()) for s in extended) / len(extended)
    assert words > sum(len(s["text"].split()) for s in standard) / len(standard)
    assert extended[0]["text"].startswith("The documentary begins.")
    assert "drift" in extended[0]["text"]  # the moving shapes are seen as motion


def test_onscreen_text(api: httpx.Client, tagged: Path) -> None:
    media_id = upload(api, tagged)["media_id"]
    ids = {
        "standard": generate(api, "text", media_id, read_all_onscreen_text=True)["job_id"],
        "extended": generate(api, "text", media_id, ad_type="extended_ad")["job_id"],
        "read_all": generate(
            api, "text", media_id, ad_type="extended_ad", read_all_onscreen_text=True
        )["job_id"],
    }
    seg = {name: wait_job(api, job)["output"]["segments"] for name, job in ids.items()}
    for name in ("standard", "extended"):  # the title is named, not read out on its own
        assert len(seg[name]) == 2 and TITLE in seg[name][0]["text"]
        assert COMMENT not in " ".join(s["text"] for s in seg[name])
    read = seg["read_all"]
    check_tiling(read, CLIP_SECONDS)
    assert read[0]["text"] == f'On-screen text: "{TITLE}".'
    assert read[1]["text"] == f'On-screen text: "{COMMENT}".'
    assert len(read) == 4 and "red" in read[2]["text"]


def test_language_changes_the_wording(api: httpx.Client, clip: Path) -> None:
    media_id = upload(api, clip)["media_id"]
    langs = ("es-ES", "de-DE", "fr-CA", "ja-JP")
    ids = {lang: generate(api, "text", media_id, language=lang)["job_id"] for lang in langs}
    out = {lang: wait_job(api, job)["output"] for lang, job in ids.items()}
    assert out["es-ES"]["segments"][0]["text"] == "Una escena luminosa en rojo."
    assert out["de-DE"]["segments"][1]["text"].startswith("Schnitt auf eine")
    assert "bleu" in out["fr-CA"]["segments"][1]["text"] and "note" not in out["fr-CA"]
    ja = out["ja-JP"]
    assert ja["language"] == "ja-JP" and "Japanese" in ja["note"]
    assert ja["segments"][0]["text"].startswith("A bright scene")


def test_ad_only_track_speaks_at_segment_starts(
    api: httpx.Client, clip: Path, tmp_path: Path
) -> None:
    done = run(
        api,
        "audio",
        upload(api, clip)["media_id"],
        voice="Kore",
        language="en-GB",
        audio_track_type="ad_only",
    )
    assert "video_signed_url" not in done
    wav = download(done["audio_signed_url"], tmp_path / "ad.wav")
    with wave.open(str(wav)) as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2
        assert w.getnframes() / w.getframerate() == pytest.approx(CLIP_SECONDS, abs=0.01)
    samples, rate = decode_audio(wav)
    assert audio_rms(wav) > 0.02
    for seg in done["output"]["segments"]:  # speech begins just after each segment starts
        a = round((seg["start"] + 0.1) * rate)
        window = samples[a : a + round(0.8 * rate)]
        assert np.sqrt(np.mean(window.astype(np.float64) ** 2)) > 0.03, seg
    assert np.abs(samples[: round(0.05 * rate)]).max() < 0.01  # silence before the first words


def test_described_video_keeps_the_picture_and_adds_speech(
    api: httpx.Client, clip: Path, tmp_path: Path
) -> None:
    media_id = upload(api, clip)["media_id"]
    ext_job = generate(api, "video", media_id, ad_type="extended_ad", voice="Puck")
    done = run(api, "video", media_id)
    extended = wait_job(api, ext_job["job_id"])
    assert "audio_signed_url" not in extended and extended["video_signed_url"]
    mp4 = download(done["video_signed_url"], tmp_path / "described.mp4")
    info = probe(mp4)
    assert info["video"]["codec"] == "h264" and info["video"]["width"] == 320
    assert info["duration"] == pytest.approx(CLIP_SECONDS, abs=0.1)
    for t in (1.0, 3.0):  # the same frames as the input
        diff = np.abs(frame(mp4, t).astype(int) - frame(clip, t).astype(int)).mean()
        assert diff < 4, (t, diff)
    assert info["audio"] is not None and audio_rms(mp4) > max(0.03, 1.5 * audio_rms(clip))
    wav = download(done["audio_signed_url"], tmp_path / "track.wav")  # standard_ad: the track too
    assert audio_rms(wav) > 0.02


def test_other_inputs_and_the_quick_example(api: httpx.Client, clip: Path) -> None:
    by_url = api.post(
        f"{A}/generate_ad_text",
        json={
            "input": {"type": "url", "url": data_uri(clip, "video/mp4")},
            "generation_config": {"format": "vtt"},
        },
    )
    assert by_url.status_code == 200, by_url.text
    by_file = api.post(
        f"{A}/generate_ad_audio",
        data={"input": '{"type": "file"}', "generation_config": '{"voice": "Achernar"}'},
        files={"file": ("clip.mp4", clip.read_bytes(), "video/mp4")},
    )
    assert by_file.status_code == 200, by_file.text
    media_id = upload(api, clip)["media_id"]
    flat = api.post(f"{A}/generate_ad_video", json={"media_id": media_id, "language": "en-US"})
    assert flat.status_code == 200 and flat.json()["media_id"] == media_id, flat.text
    for job, key in ((by_url, "output"), (by_file, "audio_signed_url"), (flat, "video_signed_url")):
        done = wait_job(api, job.json()["job_id"])
        assert done["status"] == "done" and done[key], done
        assert UUID.match(done["media_id"])


def test_signed_links_expire_and_refresh(sandbox: Sandbox, api: httpx.Client, clip: Path) -> None:
    done = run(api, "audio", upload(api, clip)["media_id"])
    url = done["audio_signed_url"]
    assert httpx.get(url, trust_env=False).status_code == 200
    bare = url.split("?", 1)[0]
    assert_error(httpx.get(bare, trust_env=False), 403, "signature_mismatch")
    # flip the signature's first character to another one, so it really changes
    tampered = re.sub(
        r"Signature=(\w)", lambda m: "Signature=" + ("1" if m.group(1) == "0" else "0"), url
    )
    assert tampered != url
    assert_error(httpx.get(tampered, trust_env=False), 403, "signature_mismatch")
    sandbox.speed = 20_000  # 15 min of sandbox clock in ~0.05 s
    time.sleep(viddyscribe.SIGNED_URL_TTL / 20_000 + 0.1)
    sandbox.speed = 20
    assert_error(httpx.get(url, trust_env=False), 403, "signed_url_expired", "get_results")
    fresh = api.get(f"{A}/get_results", params={"job_id": done["job_id"]}).json()
    assert fresh["audio_signed_url"] != url
    assert httpx.get(fresh["audio_signed_url"], trust_env=False).status_code == 200
    r = api.post(f"{A}/upload_media", json={"input": {"type": "url", "url": url}})
    assert_error(r, 400, "invalid_request", "expired")


def test_an_audio_track_is_for_standard_ad_only(api: httpx.Client, clip: Path) -> None:
    """generate_ad_audio is available for Standard AD only (docs.viddyscribe.com)."""
    media_id = upload(api, clip)["media_id"]
    body = {
        "input": {"type": "media_id", "media_id": media_id},
        "generation_config": {"ad_type": "extended_ad"},
    }
    assert_error(
        api.post(f"{A}/generate_ad_audio", json=body), 400, "invalid_request", "Standard AD"
    )
    body["generation_config"] = {"ad_type": "standard_ad", "custom_instructions": ""}
    assert api.post(f"{A}/generate_ad_audio", json=body).status_code == 200


# ---- the API reference's further generation_config fields ---------------------------------------
def peak(path: Path) -> float:
    samples, _ = decode_audio(path)
    return float(np.abs(samples).max())


def test_mixed_audio_track_is_the_source_under_the_narration(
    api: httpx.Client, clip: Path, tmp_path: Path
) -> None:
    """audio_track_type: mixed (default) is the source dialogue plus AD narration; ad_only is
    just the narration WAV (API reference, generate_ad_audio)."""
    media_id = upload(api, clip)["media_id"]
    mixed = download(run(api, "audio", media_id)["audio_signed_url"], tmp_path / "mixed.wav")
    alone = run(api, "audio", media_id, audio_track_type="ad_only")["audio_signed_url"]
    alone = download(alone, tmp_path / "alone.wav")
    assert mixed.read_bytes()[:4] == b"RIFF" and alone.read_bytes()[:4] == b"RIFF"
    rate = 22050
    m, _ = decode_audio(mixed, rate)
    a, _ = decode_audio(alone, rate)
    head = slice(0, round(0.05 * rate))  # before the first words: the source's tone, or silence
    assert np.abs(a[head]).max() < 0.01
    tone_level = np.sqrt(np.mean(m[head].astype(np.float64) ** 2))
    assert 0.005 < tone_level < 0.05, tone_level  # the 0.05-amplitude tone, mixed down
    n = min(len(m), len(a))
    assert np.sqrt(np.mean((m[:n] - a[:n]).astype(np.float64) ** 2)) > 0.005
    assert probe(mixed)["duration"] == pytest.approx(CLIP_SECONDS, abs=0.05)


def test_volume_max_sets_the_narration_peak(api: httpx.Client, clip: Path, tmp_path: Path) -> None:
    """volume_option max + volume_level_db: the AD track's max peak in dBFS (-10 to 0)."""
    media_id = upload(api, clip)["media_id"]
    peaks = {}
    for db in (-10, -6, 0):
        done = run(
            api,
            "audio",
            media_id,
            audio_track_type="ad_only",
            volume_option="max",
            volume_level_db=db,
        )
        peaks[db] = peak(download(done["audio_signed_url"], tmp_path / f"p{db}.wav"))
        assert peaks[db] == pytest.approx(10 ** (db / 20), abs=0.01), (db, peaks[db])
    auto = run(api, "audio", media_id, audio_track_type="ad_only", volume_level_db=-10)
    # the level applies with max only: auto keeps the default level, as the example sends
    assert peak(download(auto["audio_signed_url"], tmp_path / "auto.wav")) > 0.4


def test_volume_changes_the_described_videos_mix(
    api: httpx.Client, clip: Path, tmp_path: Path
) -> None:
    media_id = upload(api, clip)["media_id"]
    loud = run(api, "video", media_id, volume_option="max", volume_level_db=0)
    soft = run(api, "video", media_id, volume_option="max", volume_level_db=-10)
    loud_rms = audio_rms(download(loud["video_signed_url"], tmp_path / "loud.mp4"))
    soft_rms = audio_rms(download(soft["video_signed_url"], tmp_path / "soft.mp4"))
    assert loud_rms > 2 * soft_rms, (loud_rms, soft_rms)  # 10 dB is about 3.2 times


def test_input_filename_names_the_video_in_the_edl(api: httpx.Client, clip: Path) -> None:
    media_id = upload(api, clip)["media_id"]
    body = {
        "input": {"type": "media_id", "media_id": media_id, "filename": "lecture_01.mp4"},
        "generation_config": {"format": "edl"},
    }
    r = api.post(f"{A}/generate_ad_text", json=body)
    assert r.status_code == 200, r.text
    edl = wait_job(api, r.json()["job_id"])["output"]["content"]
    assert "TITLE: lecture_01.mp4 audio description" in edl and "clip.mp4" not in edl
    body["input"]["filename"] = ""
    assert_error(api.post(f"{A}/generate_ad_text", json=body), 400, "invalid_request", "filename")


@pytest.mark.parametrize(
    ("kind", "config", "field"),
    [
        ("text", {"volume_option": "max"}, "generate_ad_audio, generate_ad_video"),
        ("text", {"audio_track_type": "mixed"}, "generate_ad_audio"),
        ("video", {"audio_track_type": "ad_only"}, "generate_ad_audio"),
        ("audio", {"volume_option": "loud"}, "volume_option"),
        ("audio", {"volume_level_db": -10.5}, "volume_level_db"),
        ("audio", {"volume_level_db": 0.5}, "volume_level_db"),
        ("audio", {"volume_level_db": "-5"}, "volume_level_db"),
        ("audio", {"audio_track_type": "stereo"}, "audio_track_type"),
        ("text", {"auto_fit": "yes"}, "auto_fit"),
        ("text", {"allow_descriptions_over_music": 1}, "allow_descriptions_over_music"),
        ("text", {"custom_captions": "WEBVTT"}, "custom_captions"),
        ("text", {"custom_captions": {"format": "vtt"}}, "custom_captions.content"),
        ("text", {"custom_captions": {"content": "x", "lang": "en"}}, "custom_captions.lang"),
        ("text", {"custom_captions": {"content": "1\n00:01 --> 00:02\nhi"}}, "line 2"),
        ("video", {"description_content": 5}, "description_content"),
        ("audio", {"language": "ar-SA"}, "use ar-XA"),
        ("audio", {"language": "no-NO"}, "use nb-NO"),
        ("audio", {"language": "zh-TW"}, "use zh-CN"),
    ],
)
def test_further_fields_are_checked_per_route(
    api: httpx.Client, kind: str, config: dict[str, Any], field: str
) -> None:
    body = {"input": {"type": "media_id", "media_id": "m"}, "generation_config": config}
    assert_error(api.post(f"{A}/generate_ad_{kind}", json=body), 400, "invalid_request", field)


def test_further_fields_are_accepted_where_documented(api: httpx.Client, clip: Path) -> None:
    media_id = upload(api, clip)["media_id"]
    captions = {
        "content": "WEBVTT\n\n00:00.000 --> 00:01.500\nHello there.\n",
        "format": "vtt",
        "filename": "captions.vtt",
    }
    common = {
        "auto_fit": False,
        "allow_descriptions_over_music": False,
        "custom_captions": captions,
    }
    volume = {"volume_option": "max", "volume_level_db": -10, "description_content": "x"}
    generate(api, "text", media_id, **common)
    generate(api, "audio", media_id, **common, **volume, audio_track_type="ad_only")
    generate(api, "video", media_id, **common, **volume)
