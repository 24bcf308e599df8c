"""The ViddyScribe client over real HTTP against the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

import nbmedia as nm
from nbmedia.providers import viddyscribe as vs
from nbmedia.sandbox.services.media.video import render_video
from tests import mediacheck
from tests.conftest import provider_client
from tests.mediacheck import tone

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clips") / "clip.mp4"
    return render_video(
        path, text="A red kite over a green hill", duration=6, fps=24, width=320, height=180
    )


def test_text_description_json_from_a_local_file(studio, clip) -> None:
    job = studio.describe(clip, language="en-US", format="json")
    job.wait(timeout=180)
    segs = studio.segments(job)
    assert len(segs) >= 1 and list(segs.columns) == ["start", "end", "text"]
    assert (
        (segs["start"] >= 0).all()
        and (segs["end"] <= 6.2).all()
        and segs["text"].str.len().gt(0).all()
    )
    assert segs["start"].is_monotonic_increasing


def test_vtt_is_a_caption_track_on_the_player(studio, clip) -> None:
    job = studio.describe(clip, language="fr-FR", format="vtt")
    job.wait(timeout=180)
    vtt = job.output("captions")
    text = vtt.path.read_text()
    assert text.startswith("WEBVTT")
    cues = vs.parse_cues(text)
    assert cues and cues[-1]["end"] <= 6.2
    from nbmedia.display.players import job_player_html

    html = job_player_html(job)
    assert "<video" in html and "<track" in html and vtt.path.name in html


def test_edl_saved_as_a_file(studio, clip) -> None:
    job = studio.describe(clip, format="edl")
    job.wait(timeout=180)
    assert job.path.suffix == ".edl" and job.path.read_text().strip()


def test_audio_track_and_described_video(studio, clip) -> None:
    audio = studio.describe(clip, output="audio", language="de-DE")
    video = studio.describe(clip, output="video", ad_type="extended_ad")
    audio.wait(timeout=180)
    video.wait(timeout=180)
    assert mediacheck.audio_rms(audio.path) > 0.01
    assert mediacheck.probe(audio.path)["duration"] == pytest.approx(6, abs=0.5)
    info = mediacheck.probe(video.path)
    assert info["video"] is not None and info["audio"] is not None
    assert info["duration"] == pytest.approx(6, abs=0.5)


def test_describe_an_earlier_generated_job(studio) -> None:
    made = studio.generate("Neon rain", duration=15, resolution="720p")
    job = studio.describe(made, format="json")
    job.wait(timeout=180)
    assert len(studio.segments(job)) >= 1


def test_by_url_and_by_media_id(studio, clip) -> None:
    made = studio.describe(clip)
    made.wait(timeout=180)
    media_id = made.raw["media_id"]
    again = studio.describe(media_id, format="vtt")
    again.wait(timeout=180)
    assert again.output("captions").path.exists()


@pytest.mark.parametrize(
    ("fields", "field", "rule"),
    [
        ({"language": "xx-YY"}, "language", "52 supported"),
        ({"format": "pdf"}, "format", "'json'"),
        ({"video_category": "Sports"}, "video_category", "'Auto'"),
        ({"ad_type": "short"}, "ad_type", "'standard_ad'"),
        ({"output": "image"}, "output", "'text'"),
    ],
)
def test_validation_before_any_request(studio, sandbox, clip, fields, field, rule) -> None:
    before = len(sandbox.request_log)
    with pytest.raises(nm.ValidationError) as info:
        studio.describe(clip, **fields)
    assert info.value.field == field and rule in info.value.rule
    assert len(sandbox.request_log) == before


def test_all_52_languages_accepted_locally() -> None:
    assert len(vs.LANGUAGES) == 52
    for code in vs.LANGUAGES:
        vs.DescribeRequest(video="m", language=code)


def test_an_audio_only_file_is_refused_before_it_is_sent(studio, sandbox, tmp_path) -> None:
    """The API answers 415 no_video_stream (the sandbox's own tests check that): the file is
    probed first, so nothing is uploaded and no row is written."""
    path = tone(tmp_path / "tone.wav", 1.0, 8000)
    sent, rows = len(sandbox.request_log), len(studio.ledger.rows())
    with pytest.raises(nm.ValidationError, match="no video stream") as info:
        studio.describe(path)
    assert info.value.field == "video" and "no_video_stream" in info.value.rule
    assert len(sandbox.request_log) == sent and len(studio.ledger.rows()) == rows


def test_plan_limit_429_is_not_retried(tmp_path, sandbox, monkeypatch, clip) -> None:
    monkeypatch.setenv("NBMEDIA_VIDDYSCRIBE_BASE_URL", sandbox.base_url("viddyscribe"))
    s = nm.Studio(root=tmp_path, keys={"viddyscribe": "vsk_exhausted_team"}, sandbox=False)
    before = len(sandbox.request_log)
    with pytest.raises(nm.RateLimited) as info:
        s.describe(clip)
    assert info.value.code == "plan_limit_exceeded"
    posts = [r for r in list(sandbox.request_log)[before:] if "generate_ad" in r.path]
    assert len(posts) == 1  # not retried
    s.close()


def test_rate_limit_429_waits_retry_after(studio, sandbox, clip) -> None:
    sandbox.faults.rate_limit_next(1, retry_after=1)
    job = studio.describe(clip)
    job.wait(timeout=180)


def test_failed_job_keeps_error_code(studio, sandbox, clip) -> None:
    sandbox.faults.fail_next_jobs(1, code="processing_failed", message="could not describe")
    job = studio.describe(clip)
    with pytest.raises(nm.JobFailed):
        job.wait(timeout=180)
    assert job.error["code"] == "processing_failed"


def test_large_files_take_the_signed_url_flow(studio, sandbox, clip, monkeypatch) -> None:
    monkeypatch.setattr(vs, "DIRECT_UPLOAD_MAX", 1024)  # the clip now counts as large
    before = len(sandbox.request_log)
    job = studio.describe(clip, format="vtt")
    paths = [r.path for r in list(sandbox.request_log)[before:]]
    assert any("notify_upload_complete" in p for p in paths)
    assert any("get_upload_status" in p for p in paths)
    assert any(r.method == "PUT" for r in list(sandbox.request_log)[before:])
    job.wait(timeout=180)
    assert job.output("captions").path.read_text().startswith("WEBVTT")


def test_by_url_of_an_earlier_output(studio, clip) -> None:
    first = studio.describe(clip, output="video")
    first.wait(timeout=180)
    job = studio.describe(first.output("video").url)
    job.wait(timeout=180)
    assert len(studio.segments(job)) >= 1


def test_expired_links_are_signed_again_by_a_refresh(sandbox, clip) -> None:
    """Results carry links signed for 15 minutes: a stale one is refused, and reading the
    results again signs fresh ones (the engine does that before a download)."""
    import asyncio
    import time

    import httpx

    provider = provider_client(sandbox, "viddyscribe")

    async def finished() -> nm.Job:
        request = provider.make_request("describe", {"video": clip, "output": "audio"})
        job = nm.Job(provider="viddyscribe", kind="describe", request=request.wire())
        await provider.submit(job, request)
        deadline = time.monotonic() + 150
        while not job.done and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            await provider.refresh(job)
        return job

    job = asyncio.run(finished())
    assert job.status is nm.JobStatus.SUCCEEDED
    stale = job.output("audio").url
    speed = sandbox.speed
    sandbox.speed = 20000  # 15 sandbox minutes pass in a moment
    time.sleep(0.2)
    sandbox.speed = speed
    assert httpx.get(stale, trust_env=False).status_code == 403
    asyncio.run(provider.refresh(job))
    fresh = job.output("audio").url
    r = httpx.get(fresh, trust_env=False)
    assert fresh != stale and r.status_code == 200 and r.content[:4] == b"RIFF"


def test_batch_does_not_wait_out_an_exhausted_plan(tmp_path, sandbox, monkeypatch, clip) -> None:
    import pandas as pd

    monkeypatch.setenv("NBMEDIA_VIDDYSCRIBE_BASE_URL", sandbox.base_url("viddyscribe"))
    with nm.Studio(root=tmp_path, keys={"viddyscribe": "vsk_exhausted_team"}, sandbox=False) as s:
        batch = s.batch(
            pd.DataFrame({"provider": ["viddyscribe"], "kind": ["describe"], "video": [str(clip)]})
        )
        batch.wait(timeout=60)
        row = batch.table().iloc[0]
    assert row["error_code"] == "plan_limit_exceeded"


def test_an_audio_track_of_extended_ad_is_refused_and_empty_instructions_pass(
    studio, sandbox, clip
) -> None:
    before = len(sandbox.request_log)
    with pytest.raises(nm.ValidationError, match="Standard AD") as info:
        studio.describe(clip, output="audio", ad_type="extended_ad")
    assert info.value.field == "ad_type" and len(sandbox.request_log) == before
    _, request = studio.prepare("viddyscribe", "describe", clip, custom_instructions="")
    assert request.config()["custom_instructions"] == ""  # the reference's own example


def test_a_direct_upload_asks_no_upload_status(studio, sandbox, clip) -> None:
    """get_upload_status belongs to the signed-URL flow: a direct upload answers "created" and
    its verification is waited out by the generation (409 upload_not_ready)."""
    before = len(sandbox.request_log)
    studio.describe(clip, format="vtt").wait(timeout=120)
    paths = [r.path for r in list(sandbox.request_log)[before:]]
    assert any(p.endswith("/upload_media") for p in paths)
    assert not any("get_upload_status" in p for p in paths), paths


# ---- the API reference's further fields, voices and languages ----------------------------------
@pytest.mark.parametrize(
    ("fields", "field", "rule"),
    [
        ({"voice": "Rachel"}, "voice", "not a ViddyScribe voice id"),
        ({"language": "ar-SA"}, "language", "use ar-XA"),
        ({"language": "no-NO"}, "language", "use nb-NO"),
        ({"output": "audio", "volume_option": "loud"}, "volume_option", "'auto'"),
        ({"output": "audio", "volume_level_db": -10.5}, "volume_level_db", "-10"),
        ({"output": "video", "volume_level_db": 1}, "volume_level_db", "0"),
        ({"output": "audio", "audio_track_type": "stereo"}, "audio_track_type", "'mixed'"),
        ({"output": "video", "audio_track_type": "ad_only"}, "audio_track_type", "'audio'"),
        ({"volume_option": "max"}, "volume_option", "output='audio' and output='video'"),
        ({"description_content": "x"}, "description_content", "not output='text'"),
        ({"custom_captions": {"format": "vtt"}}, "custom_captions", "content"),
        ({"custom_captions": {"content": "x", "lang": "en"}}, "custom_captions", "lang"),
        ({"auto_fit": "often"}, "auto_fit", "bool"),
        ({"filename": ""}, "filename", "at least 1"),
    ],
)
def test_further_fields_are_checked_before_any_request(
    studio, sandbox, clip, fields, field, rule
) -> None:
    before = len(sandbox.request_log)
    with pytest.raises(nm.ValidationError) as info:
        studio.describe(clip, **fields)
    assert info.value.field == field and rule in info.value.rule, info.value
    assert len(sandbox.request_log) == before


def test_voices_match_in_any_case_and_are_sent_as_listed(studio, clip) -> None:
    _, request = studio.prepare("viddyscribe", "describe", clip, voice="kore")
    assert request.config()["voice"] == "Kore"
    assert {v["id"] for v in studio.provider("viddyscribe").voices()} == set(vs.VOICES)


def test_further_fields_reach_the_api(studio, clip) -> None:
    """What the sandbox renders shows they were sent: the narration alone, its peak at the
    volume asked for, and the EDL named by input.filename."""
    audio = studio.describe(
        clip,
        output="audio",
        audio_track_type="ad_only",
        volume_option="max",
        volume_level_db=-6,
        auto_fit=True,
        allow_descriptions_over_music=False,
        custom_captions="WEBVTT\n\n00:00.000 --> 00:01.000\nA kite.\n",
    )
    edl = studio.describe(clip, format="edl", filename="kite_take_2.mp4")
    audio.wait(timeout=180)
    edl.wait(timeout=180)
    samples, _ = mediacheck.decode_audio(audio.path)
    assert float(abs(samples).max()) == pytest.approx(10 ** (-6 / 20), abs=0.01)
    assert "TITLE: kite_take_2.mp4 audio description" in edl.path.read_text()
