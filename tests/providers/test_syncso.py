"""The sync.so client over real HTTP against the sandbox."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

import nbmedia as nm
from nbmedia.display.jobview import job_text
from nbmedia.errors import NotFound
from nbmedia.providers.base import Capability
from nbmedia.providers.syncso import SyncSo, asset_name
from nbmedia.sandbox.services.media.audio import write_audio
from nbmedia.sandbox.services.media.video import render_video
from tests import mediacheck
from tests.conftest import provider_client

pytestmark = pytest.mark.timeout(240)
UNKNOWN = "6533643b-aceb-4c40-967e-d9ba9baac39e"


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clips")
    video = render_video(
        d / "talk.mp4", text="Talking head", duration=4, fps=25, width=320, height=240
    )
    rate = 16000
    t = np.arange(3 * rate) / rate
    tone = (0.4 * np.sin(2 * np.pi * 220 * t) * (t % 0.5 < 0.25) * 32767).astype(np.int16)
    audio = write_audio(d / "voice.wav", tone, rate, "wav")
    return {"video": video, "audio": audio}


def _asset_calls(sandbox) -> list[tuple[str, str]]:
    return [
        (r.method, r.path.split("/v2/")[-1] if "/v2/" in r.path else "PUT upload")
        for r in list(sandbox.request_log)
        if r.provider == "syncso" and ("/v2/assets" in r.path or "/uploads/" in r.path)
    ]


def test_local_files_are_uploaded_once_as_assets_and_reused(studio, sandbox, clips) -> None:
    before = len(_asset_calls(sandbox))
    job = studio.lipsync(clips["video"], audio=clips["audio"], sync_mode="cut_off")
    job.wait(timeout=180)
    info = mediacheck.probe(job.path)
    assert info["video"] is not None and info["audio"] is not None
    assert info["duration"] == pytest.approx(3, abs=0.3)
    assert mediacheck.audio_rms(job.path) > 0.02
    calls = _asset_calls(sandbox)[before:]
    assert sorted(calls) == sorted(  # looked for in the library first (a new account: none)
        [("GET", "assets"), ("POST", "assets/upload"), ("PUT", "PUT upload"), ("POST", "assets")]
        * 2
    )
    sent = job.raw["input"]
    assert [set(i) for i in sent] == [{"type", "assetId"}] * 2  # no URL, no multipart
    again = studio.lipsync(clips["video"], audio=clips["audio"], sync_mode="silence")
    again.wait(timeout=180)
    assert _asset_calls(sandbox)[before + len(calls) :] == []  # the same content: reused
    assert again.raw["input"] == sent
    assert mediacheck.probe(again.path)["duration"] == pytest.approx(4, abs=0.3)  # silence


def _noise_wav(path: Path) -> Path:
    """A second of noise: a file of its own."""
    noise = np.random.default_rng().integers(-8000, 8000, 8000, dtype=np.int16)
    return write_audio(path, noise, 8000, "wav")


def test_the_presigned_put_carries_no_key(sandbox, clips) -> None:
    provider = provider_client(sandbox, "syncso")
    audio = clips["audio"]
    seen: list[tuple[str, str, str | None]] = []

    async def record(request: httpx.Request) -> None:
        seen.append((request.method, request.url.path, request.headers.get("x-api-key")))

    async def main() -> str:
        provider.api.client.event_hooks["request"].append(record)  # the loop's own client
        asset = await provider.asset_for(audio, "audio")
        assert await provider.asset_for(audio, "audio") == asset  # remembered
        await provider.api.aclose()
        return asset

    asset = asyncio.run(main())
    assert [m for m, _, _ in seen] == ["GET", "POST", "PUT", "POST"]
    keys = [k for _, _, k in seen]
    assert keys[0] and keys[1] and keys[3] and keys[2] is None
    with httpx.Client(base_url=sandbox.base_url("syncso"), trust_env=False) as c:
        got = c.get(f"/v2/assets/{asset}", headers={"x-api-key": provider.api._secret.reveal()})
    assert got.status_code == 200 and got.json()["type"] == "AUDIO"
    digest = hashlib.sha256(audio.read_bytes()).hexdigest()
    assert got.json()["name"] == f"voice-{digest[:16]}.wav" == asset_name(audio, digest)


def test_a_later_session_finds_the_uploaded_asset_instead_of_uploading_again(
    sandbox, tmp_path
) -> None:
    """The library keeps an asset across sessions: a new client (a restarted kernel) finds it
    by the content digest in its name, so a create re-sent after a restart carries the same
    asset id (which its Idempotency-Key requires) and nothing is uploaded twice. Another
    file is not taken for it."""
    audio = _noise_wav(tmp_path / "take.wav")
    other = _noise_wav(tmp_path / "other.wav")
    key = f"{SyncSo.sandbox_key}_{uuid.uuid4().hex[:12]}"  # one account, two sessions

    async def session(*uploads: tuple[Path, str]) -> tuple[list[str], list[str]]:
        provider = provider_client(sandbox, "syncso", key=key)
        methods: list[str] = []

        async def record(request: httpx.Request) -> None:
            methods.append(f"{request.method} {request.url.path.rsplit('/v2/', 1)[-1]}")

        provider.api.client.event_hooks["request"].append(record)
        try:
            return [await provider.asset_for(p, kind) for p, kind in uploads], methods
        finally:
            await provider.api.aclose()

    (first,), _ = asyncio.run(session((audio, "audio")))
    (again, fresh), methods = asyncio.run(session((audio, "audio"), (other, "audio")))
    assert again == first and fresh != first
    assert methods.count("GET assets") == 2 and methods.count("POST assets/upload") == 1


def test_asset_ids_name_library_media(studio, sandbox, clips) -> None:
    video = studio.lipsync(clips["video"], audio=clips["audio"])  # puts both in the library
    video.wait(timeout=180)
    video_id, audio_id = (i["assetId"] for i in video.raw["input"])
    job = studio.lipsync(video_asset_id=video_id, audio_asset_id=audio_id, sync_mode="silence")
    job.wait(timeout=180)
    assert job.raw["input"] == [
        {"type": "video", "assetId": video_id},
        {"type": "audio", "assetId": audio_id, "refId": "asset"},
    ]
    assert mediacheck.probe(job.path)["duration"] == pytest.approx(4, abs=0.3)
    with pytest.raises(NotFound) as refused:  # the create is refused: nothing was made
        studio.lipsync(video_asset_id=UNKNOWN, audio=clips["audio"])
    assert (refused.value.http_status, refused.value.code) == (404, "asset_not_found")
    before = len(sandbox.request_log)
    for fields, rule in [
        ({"video": clips["video"], "video_asset_id": video_id}, "exactly one video"),
        ({}, "exactly one video"),
    ]:
        with pytest.raises(nm.ValidationError) as info:
            studio.submit("syncso", "lipsync", None, audio=clips["audio"], **fields)
        assert info.value.field == "video" and rule in info.value.rule
    with pytest.raises(nm.ValidationError) as info:
        studio.submit("syncso", "lipsync", None, video=clips["video"], audio_asset_id="")
    assert info.value.field == "audio_asset_id"
    assert len(sandbox.request_log) == before


def test_text_to_speech_from_an_earlier_job(studio) -> None:
    video = studio.generate("A presenter", duration=15, resolution="720p")
    video.wait(timeout=120)
    job = studio.lipsync(
        video,
        text="Hello from a generated voice.",
        voice_id="21m00Tcm4TlvDq8ikWAM",
        model="lipsync-2",
    )
    job.wait(timeout=180)
    assert mediacheck.probe(job.path)["audio"] is not None


def test_segments_reference_audio_inputs(studio, clips) -> None:
    speech = studio.speech("Second part.", format="wav")
    speech.wait(timeout=60)
    job = studio.lipsync(
        clips["video"],
        audio={"first": clips["audio"], "second": speech},
        segments=[
            {"startTime": 0, "endTime": 2, "audioInput": {"refId": "first"}},
            {"startTime": 2, "endTime": 4, "audioInput": {"refId": "second"}},
        ],
    )
    job.wait(timeout=180)
    assert job.path.exists()


@pytest.mark.parametrize(
    ("fields", "field", "rule"),
    [
        ({}, "audio", "at least one audio input"),
        ({"text": "hi"}, "voice_id", "voice_id"),
        ({"audio": "A", "temperature": 1.5}, "temperature", "less than or equal to 1"),
        ({"audio": "A", "sync_mode": "stretch"}, "sync_mode", "'bounce'"),
        ({"audio": "A", "model": "lipsync-9"}, "model", "'lipsync-2'"),
        ({"audio": "A", "model_mode": "head"}, "model_mode", "react-1"),
        ({"audio": "A", "prompt": "happy", "model": "lipsync-2"}, "prompt", "react-1"),
        ({"audio": "A", "output_file_name": "bad name.mp4"}, "output_file_name", "letters, digits"),
        (
            {
                "audio": "A",
                "segments": [{"startTime": 0, "endTime": 1, "audioInput": {"refId": "nope"}}],
            },
            "segments.0.audioInput.refId",
            "names no audio input",
        ),
        (
            {
                "audio": "A",
                "segments": [{"startTime": 2, "endTime": 1, "audioInput": {"refId": "audio1"}}],
            },
            "segments.0.endTime",
            "after startTime",
        ),
        (
            {
                "audio": "A",
                "segments": [{"startTime": 0, "endTime": 9, "audioInput": {"refId": "audio1"}}],
            },
            "segments.0.endTime",
            "within the video",
        ),
        ({"text": "x" * 5001, "voice_id": "v"}, "text", "at most 5000"),
        (
            {
                "audio": "A",
                "model": "react-1",
                "segments": [{"startTime": 0, "endTime": 1, "audioInput": {"refId": "audio1"}}],
            },
            "segments",
            "takes no segments",
        ),
    ],
)
def test_validation_before_any_request(studio, sandbox, clips, fields, field, rule) -> None:
    fields = {k: (clips["audio"] if v == "A" else v) for k, v in fields.items()}
    before = len(sandbox.request_log)
    with pytest.raises(nm.ValidationError) as info:
        studio.submit("syncso", "lipsync", None, video=clips["video"], **fields)
    assert info.value.field == field and rule in info.value.rule, str(info.value)
    assert len(sandbox.request_log) == before


def test_estimate_before_spending(studio, sandbox) -> None:
    video = studio.generate("Estimate me", duration=15, resolution="720p")
    voice = studio.speech("Estimate.", format="wav")
    video.wait(timeout=120)
    voice.wait(timeout=60)
    before = sum(
        1
        for r in list(sandbox.request_log)
        if r.provider == "syncso" and r.path.endswith("/v2/generate")
    )
    est = studio.estimate("syncso", video=video, audio=voice)
    assert est["estimatedFrameCount"].iloc[0] > 0 and est["estimatedGenerationCost"].iloc[0] >= 0
    after = sum(
        1
        for r in list(sandbox.request_log)
        if r.provider == "syncso" and r.path.endswith("/v2/generate")
    )
    assert after == before
    # sync.so's generation reports no cost: the job sent with the estimated body shows it
    job = studio.lipsync(video=video, audio=voice)
    dollars = float(est["estimatedGenerationCost"].sum())
    assert (job.cost, job.cost_unit) == (pytest.approx(dollars), "USD estimate")
    assert f" · ≈ ${dollars:,.2f} · " in job_text(job)
    other = studio.lipsync(video=video, audio=voice, sync_mode="loop")  # not estimated
    assert other.cost is None and other.cost_unit is None
    assert job.wait(timeout=120).cost == pytest.approx(dollars)  # kept to the end


def test_idempotency_key_is_sent(studio, sandbox, clips) -> None:
    job = studio.lipsync(clips["video"], audio=clips["audio"])
    assert job.id
    job.wait(timeout=180)


def test_webhook_signatures(sandbox) -> None:
    provider = provider_client(sandbox, "syncso")
    secret = sandbox.webhook_secret("syncso").encode()
    body = json.dumps({"id": "gen_1", "status": "COMPLETED"}).encode()
    t = int(time.time())
    sig = hmac.new(secret, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    ok = provider.parse_webhook({"Sync-Signature": f"t={t},v1={sig}"}, body)
    assert ok["id"] == "gen_1"
    with pytest.raises(nm.WebhookError, match="does not match"):
        provider.parse_webhook(
            {"Sync-Signature": f"t={t},v1={sig}"}, body.replace(b"gen_1", b"gen_2")
        )
    old = t - 301
    stale = hmac.new(secret, f"{old}.".encode() + body, hashlib.sha256).hexdigest()
    with pytest.raises(nm.WebhookError, match="stale"):
        provider.parse_webhook({"Sync-Signature": f"t={old},v1={stale}"}, body)
    with pytest.raises(nm.WebhookError):
        provider.parse_webhook({}, body)
    # replays within the window: the same delivery, and the same event re-signed a second later
    with pytest.raises(nm.WebhookError, match="replay"):
        provider.parse_webhook({"Sync-Signature": f"t={t},v1={sig}"}, body)
    again = hmac.new(secret, f"{t + 1}.".encode() + body, hashlib.sha256).hexdigest()
    with pytest.raises(nm.WebhookError, match="replay"):
        provider.parse_webhook({"Sync-Signature": f"t={t + 1},v1={again}"}, body)


def test_failed_generation_keeps_error_code(studio, sandbox, clips) -> None:
    sandbox.faults.fail_next_jobs(1, code="generation_input_validation_failed", message="bad input")
    job = studio.lipsync(clips["video"], audio=clips["audio"])
    with pytest.raises(nm.JobFailed):
        job.wait(timeout=180)
    assert job.error["code"] == "generation_input_validation_failed"


def test_a_retried_create_with_the_same_key_is_the_same_generation(sandbox, clips) -> None:
    provider = provider_client(sandbox, "syncso")
    assert provider.has(Capability.IDEMPOTENT_CREATE)

    async def main() -> tuple[str, str, list[dict]]:
        request = provider.make_request(
            "lipsync", {"video": clips["video"], "audio": clips["audio"]}
        )
        job = nm.Job(provider="syncso", kind="lipsync", local_id="retry-1")
        first = (await provider.submit(job, request)).id
        again = nm.Job(provider="syncso", kind="lipsync", local_id="retry-1")  # the same key
        second = (await provider.submit(again, request)).id
        listed = await provider.list_jobs()
        await provider.api.aclose()
        return first, second, listed

    first, second, listed = asyncio.run(main())
    assert first == second
    assert [g["id"] for g in listed].count(first) == 1


def test_a_lost_answer_is_re_sent_with_the_same_key(sandbox) -> None:
    """In session the HTTP client re-sends a create whose answer was lost (same
    Idempotency-Key): one generation, no find_created needed."""
    provider = provider_client(sandbox, "syncso")
    sandbox.faults.drop_after_receive_next(1, path="/syncso/v2/generate")

    async def main() -> tuple[str, list[dict]]:
        request = provider.make_request(
            "lipsync",
            {
                "video": "https://example.com/v.mp4",
                "text": "Hi",
                "voice_id": "21m00Tcm4TlvDq8ikWAM",
            },
        )
        job = nm.Job(provider="syncso", kind="lipsync", local_id="resent-1")
        made = (await provider.submit(job, request)).id
        listed = await provider.list_jobs()
        await provider.api.aclose()
        return made, listed

    made, listed = asyncio.run(main())
    assert [g["id"] for g in listed] == [made]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"statusCode": 429, "message": "Too many", "error": "Too Many Requests"}, None),
        (
            {
                "statusCode": 409,
                "message": "a request with this key is in progress",
                "error": "Conflict",
                "code": "IDEMPOTENCY_REQUEST_IN_PROGRESS",
            },
            "IDEMPOTENCY_REQUEST_IN_PROGRESS",
        ),
        (
            {
                "statusCode": 400,
                "message": ["audio too long"],
                "error": "Bad Request",
                "error_code": "generation_audio_length_exceeded",
            },
            "generation_audio_length_exceeded",
        ),  # fmt: skip
        (
            {
                "statusCode": 404,
                "message": "Asset x not found",
                "error": "Not Found",
                "errorCode": "asset_not_found",
            },
            "asset_not_found",
        ),  # fmt: skip
    ],
)
def test_an_error_keeps_the_bodys_own_code_not_the_reason_phrase(
    body: dict[str, Any], code: str | None
) -> None:
    parsed = SyncSo.parse_error(httpx.Response(body["statusCode"], json=body), body)
    assert parsed.code == code
    assert body["error"] not in (parsed.code or "")


def test_a_canceled_generation_ends_cancelled(sandbox) -> None:
    """CANCELED is a documented status: the job ends cancelled, not failed as unknown."""
    provider = provider_client(sandbox, "syncso")
    job = nm.Job(provider="syncso", kind="lipsync")
    provider.apply(job, {"id": "gen_1", "status": "CANCELED"})
    assert job.status is nm.JobStatus.CANCELLED and job.done


def test_speaker_coordinates_are_whole_pixels(studio, sandbox, clips) -> None:
    before = len(sandbox.request_log)
    with pytest.raises(nm.ValidationError) as info:
        studio.lipsync(
            clips["video"],
            audio=clips["audio"],
            active_speaker_detection={"coordinates": [10.5, 20]},
        )
    assert info.value.field.startswith("active_speaker_detection.coordinates")
    assert len(sandbox.request_log) == before


def test_a_failed_upload_fails_the_job_without_a_create(studio, sandbox, clips) -> None:
    """An asset upload that never got through made no generation: the job fails at once with
    the transport's error, and is not searched for as a create that may have been made."""
    sandbox.faults.drop_after_receive_next(50, path="/syncso/v2/assets/upload")
    before = len(sandbox.request_log)
    with pytest.raises(nm.NbmediaError):
        studio.lipsync(clips["video"], audio=clips["audio"])
    sandbox.faults.reset()
    row = studio.jobs().iloc[0]  # newest first
    assert (row["provider"], row["status"], row["error_code"]) == ("syncso", "failed", "not_sent")
    posts = [
        r.path
        for r in list(sandbox.request_log)[before:]
        if r.method == "POST" and r.provider == "syncso"
    ]
    assert posts and set(posts) == {"/syncso/v2/assets/upload"}  # no create was sent
