"""The Vimmerse client over real HTTP against the sandbox."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from PIL import Image

import nbmedia as nm
from nbmedia.errors import UnknownStatus
from nbmedia.providers.base import Capability
from tests import mediacheck
from tests.conftest import provider_client

pytestmark = pytest.mark.timeout(180)


def sent(sandbox, method: str = "POST") -> int:
    return sum(
        1 for r in list(sandbox.request_log) if r.provider == "vimmerse" and r.method == method
    )


def test_prompt_to_several_videos_with_narration(studio: nm.Studio) -> None:
    job = studio.generate(
        "A cinematic drone shot over snow mountains",
        provider="vimmerse",
        duration=2,
        quantity=2,
        aspect_ratio="9:16",
        audio_option={"narrator": "Sarah", "narration": "Introducing the mountains."},
    )
    job.wait(timeout=120)
    videos = [o for o in job.outputs if o.kind == "video"]
    assert len(videos) == 2 and len({o.path for o in videos}) == 2
    for out in videos:
        info = mediacheck.probe(out.path)
        assert info["video"]["codec"] == "h264"
        assert info["video"]["height"] > info["video"]["width"]  # 9:16
        assert info["audio"] is not None and mediacheck.audio_rms(out.path) > 0.01
        assert info["duration"] >= 2 - 0.1


def test_no_audio_stream_without_audio(studio: nm.Studio) -> None:
    job = studio.generate("Silent square", provider="vimmerse", duration=2, aspect_ratio="1:1")
    job.wait(timeout=120)
    info = mediacheck.probe(job.path)
    assert info["audio"] is None and info["video"]["width"] == info["video"]["height"]


def test_local_image_is_used_as_frames(studio: nm.Studio, tmp_path: Path) -> None:
    png = tmp_path / "red.png"
    Image.new("RGB", (320, 180), (230, 20, 20)).save(png)
    job = studio.generate(
        None, provider="vimmerse", media_items=[{"type": "image", "url": png}], duration=2
    )
    job.wait(timeout=120)
    frame = mediacheck.frame(job.path, 1.0).astype(float)
    r, g, b = (frame[..., i].mean() for i in range(3))
    assert r > g + 40 and r > b + 40, (r, g, b)


def test_earlier_output_is_a_valid_input(studio: nm.Studio) -> None:
    speech = studio.speech("Narration recorded earlier.", format="mp3")
    speech.wait(timeout=60)
    job = studio.generate(
        "Reuse", provider="vimmerse", duration=2, audio_option={"narration_url": speech}
    )
    job.wait(timeout=120)
    assert mediacheck.probe(job.path)["audio"] is not None


@pytest.mark.parametrize(
    ("fields", "field", "rule"),
    [
        ({"quantity": 5}, "quantity", "less than or equal to 4"),
        ({"quantity": 0}, "quantity", "greater than or equal to 1"),
        ({"duration": 11}, "duration", "less than or equal to 10"),
        ({"loop": 7}, "loop", "less than or equal to 6"),
        ({"aspect_ratio": "2:1"}, "aspect_ratio", "'16:9'"),
        ({"video_tool": "Magic"}, "video_tool", "'Auto'"),
        ({"pipeline_mode": "Fast"}, "pipeline_mode", "'Advanced' or 'Quick'"),
        ({"audio_option": {"narrator": "Bob"}}, "audio_option.narrator", "'Rachel'"),
        (
            {"media_items": [{"type": "gif", "url": "https://x/y.gif"}]},
            "media_items.0.type",
            "'image'",
        ),
        (
            {"media_items": [{"type": "image", "url": "/no/such/file.png"}]},
            "media_items.0.url",
            "existing file",
        ),
        ({"webhook_url": "hook"}, "webhook_url", "http"),
    ],
)
def test_validation_before_any_request(studio, sandbox, fields, field, rule) -> None:
    before = len(sandbox.request_log)
    with pytest.raises(nm.ValidationError) as info:
        studio.generate("a prompt", provider="vimmerse", **fields)
    assert info.value.field == field and rule in info.value.rule
    assert len(sandbox.request_log) == before


def test_prompt_or_media_required(studio, sandbox) -> None:
    before = len(sandbox.request_log)
    with pytest.raises(nm.ValidationError, match="prompt or at least one media item"):
        studio.generate(None, provider="vimmerse")
    assert len(sandbox.request_log) == before


def test_patch_metadata_in_place_and_generation_as_new_job(studio, sandbox) -> None:
    job = studio.generate("Original", provider="vimmerse", duration=1)
    job.wait(timeout=120)
    posts = sent(sandbox)
    same = studio.update(job)  # {} changes nothing
    assert same is job
    renamed = studio.update(job, title="Renamed", rating=4.5)  # any number, as the API
    assert renamed is job and job.raw["title"] == "Renamed" and job.raw["rating"] == 4.5
    assert job.status is nm.JobStatus.SUCCEEDED
    again = studio.update(job, prompt="A second take", duration=2)
    assert again is not job and again.id == job.id
    again.wait(timeout=120)
    assert again.path != job.path and job.path.exists() and again.path.exists()
    assert mediacheck.probe(again.path)["duration"] >= 2 - 0.1
    assert sent(sandbox) == posts  # updates are PATCHes, not creates
    df = studio.jobs()
    assert (df["id"] == job.id).sum() == 2


def test_errors_keep_vimmerse_body(studio, sandbox, tmp_path, monkeypatch) -> None:
    ghost = nm.Job(provider="vimmerse", kind="video", id="no-such-media")
    with pytest.raises(nm.NotFound) as info:
        asyncio.run(provider_client(sandbox, "vimmerse").refresh(ghost))
    assert info.value.code == "MEDIA_NOT_FOUND" and info.value.message
    monkeypatch.setenv("NBMEDIA_VIMMERSE_BASE_URL", sandbox.base_url("vimmerse"))
    broke = nm.Studio(root=tmp_path / "b", keys={"vimmerse": "key_nocredit_1"}, sandbox=False)
    with pytest.raises(nm.ProviderError) as info:
        broke.generate("no money", provider="vimmerse", duration=1)
    assert info.value.http_status == 402 and info.value.code == "INSUFFICIENT_CREDIT"
    broke.close()


def test_unreachable_url_is_the_providers_error(studio) -> None:
    with pytest.raises(nm.ProviderError) as info:
        studio.generate(
            "x",
            provider="vimmerse",
            media_items=[{"type": "image", "url": "https://example.com/a.png"}],
        )
    assert info.value.code == "JOB_CREATE_FAILED"


def test_fields_query(sandbox) -> None:
    provider = provider_client(sandbox, "vimmerse")
    sandbox.faults.fail_next_jobs(1)  # nothing to render

    async def main() -> dict:
        request = provider.make_request("video", {"prompt": "Fields", "duration": 1})
        job = await provider.submit(nm.Job(provider="vimmerse", kind="video"), request)
        part = await provider.get(job.id, ["id", "processing_status"])
        await provider.api.aclose()
        return part

    assert set(asyncio.run(main())) == {"id", "processing_status"}


def test_patch_without_hasattr(sandbox) -> None:
    """check_update / regenerates / patch are the base methods, overridden: no probing."""
    provider = provider_client(sandbox, "vimmerse")
    assert provider.has(Capability.PATCH)
    assert not provider.regenerates(provider.check_update({"title": "t"}))
    assert provider.regenerates(provider.check_update({"prompt": "again", "duration": 2}))
    sandbox.faults.fail_next_jobs(1)

    async def main() -> dict:
        request = provider.make_request("video", {"prompt": "Patched", "duration": 1})
        job = await provider.submit(nm.Job(provider="vimmerse", kind="video"), request)
        media = await provider.patch(job.id, provider.check_update({"title": "Renamed"}))
        await provider.api.aclose()
        return media

    assert asyncio.run(main())["title"] == "Renamed"


def test_voices_are_the_22_narrators(studio) -> None:
    voices = studio.voices("vimmerse")
    assert len(voices) == 22 and "Rachel" in set(voices["id"])


def test_failed_generation(studio, sandbox) -> None:
    sandbox.faults.fail_next_jobs(1, code="JOB_FAILED", message="generation failed")
    job = studio.generate("Fails", provider="vimmerse", duration=1)
    with pytest.raises(nm.JobFailed):
        job.wait(timeout=120)
    assert job.status is nm.JobStatus.FAILED


def test_compare_three_providers(studio) -> None:
    cmp = studio.compare(
        "Drone shot over snowy peaks",
        providers=["mercadream", "vimmerse", "meshapi"],
        per_provider={
            "mercadream": {"duration": 15, "resolution": "720p"},
            "vimmerse": {"duration": 2},
            "meshapi": {"duration": 4},
        },
    )
    cmp.wait(timeout=180)
    table = cmp.table()
    assert list(table["provider"]) == ["mercadream", "vimmerse", "meshapi"]
    assert (table["status"] == "succeeded").all()
    for path in table["output_path"]:
        assert mediacheck.probe(Path(path))["video"]["codec"] == "h264"
    from nbmedia.display import CompareGrid

    grid = CompareGrid(cmp)
    assert len(grid.columns) == 3
    assert all(c.bar.value == 1.0 for c in grid.columns.values())


def test_compare_validates_everything_first(studio, sandbox) -> None:
    before = len(sandbox.request_log)
    with pytest.raises(nm.ValidationError):
        studio.compare("x", providers=["mercadream", "vimmerse"], duration=3)  # bad for mercadream
    assert len(sandbox.request_log) == before


def test_new_with_progress_reads_as_running_and_processing_is_not_a_status(sandbox) -> None:
    """v2 documents new, success and failed: a job rendering is "new" with its progress."""
    provider = provider_client(sandbox, "vimmerse")
    job = nm.Job(provider="vimmerse", kind="video")
    provider.apply(job, {"id": "m1", "processing_status": "new", "progress_percentage": 0})
    assert job.status is nm.JobStatus.QUEUED
    provider.apply(job, {"id": "m1", "processing_status": "new", "progress_percentage": 35})
    assert job.status is nm.JobStatus.RUNNING and job.progress == 0.35
    with pytest.raises(UnknownStatus):
        provider.apply(job, {"id": "m1", "processing_status": "processing"})
