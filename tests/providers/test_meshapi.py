"""The Mesh API client over real HTTP against the sandbox."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest
from PIL import Image

import nbmedia as nm
from tests import mediacheck
from tests.conftest import provider_client
from tests.mediacheck import tone

pytestmark = pytest.mark.timeout(180)


def test_text_to_video(studio: nm.Studio) -> None:
    job = studio.generate(
        "A paper boat on a rainy street", provider="meshapi", duration=4, ratio="16:9"
    )
    job.wait(timeout=120)
    info = mediacheck.probe(job.path)
    assert info["video"]["codec"] == "h264" and info["audio"] is None
    assert info["duration"] == pytest.approx(4, abs=0.15)
    assert info["video"]["width"] > info["video"]["height"]
    assert job.cost and job.cost > 0


def test_generate_audio_and_last_frame(studio: nm.Studio) -> None:
    job = studio.generate(
        "Waves", provider="meshapi", duration=4, generate_audio=True, return_last_frame=True
    )
    job.wait(timeout=120)
    assert mediacheck.probe(job.path)["audio"] is not None
    last = job.output("image", role="last_frame")
    assert last is not None and last.path.exists()


def test_image_and_audio_inputs_from_local_files(studio: nm.Studio, tmp_path: Path) -> None:
    png = tmp_path / "green.png"
    Image.new("RGB", (256, 256), (20, 220, 20)).save(png)
    clip = tone(tmp_path / "a.wav", 3.0)
    job = studio.generate(
        "Green field", provider="meshapi", images=[png], audios=[clip], duration=4, ratio="1:1"
    )
    job.wait(timeout=120)
    info = mediacheck.probe(job.path)
    assert info["audio"] is not None and info["video"]["width"] == info["video"]["height"]
    frame = mediacheck.frame(job.path, 1.0).astype(float)
    assert frame[..., 1].mean() > frame[..., 0].mean() + 40


def test_earlier_job_output_is_an_input(studio: nm.Studio) -> None:
    first = studio.generate("First", provider="meshapi", duration=4, return_last_frame=True)
    first.wait(timeout=120)
    second = studio.generate(
        "Continue",
        provider="meshapi",
        images=[first.output("image", role="last_frame")],
        duration=4,
    )
    second.wait(timeout=120)
    assert second.path.exists()


@pytest.mark.parametrize(
    ("make", "field", "rule"),
    [
        (lambda d: {"audios": [tone(d / "a.wav", 3)]}, "audios", "only input"),
        (
            lambda d: {"images": [d / "i.png"], "audios": [tone(d / "a.wav", 1.0)]},
            "audios.0",
            "2–15 seconds",
        ),
        (
            lambda d: {"images": [d / "i.png"], "audios": [tone(d / "a.wav", 16.0)]},
            "audios.0",
            "2–15 seconds",
        ),
        (
            lambda d: {
                "images": [d / "i.png"],
                "audios": [tone(d / f"a{i}.wav", 2.5) for i in range(4)],
            },
            "audios",
            "at most 3",
        ),
        (
            lambda d: {
                "images": [d / "i.png"],
                "audios": [tone(d / f"b{i}.wav", 6) for i in range(3)],
            },
            "audios",
            "at most 15 seconds",
        ),
        (lambda d: {"images": [d / "i.png"], "audios": [d / "x.ogg"]}, "audios.0", "wav or mp3"),
        (lambda d: {"videos": [d / "big.mp4"]}, "videos.0", "50 MB"),
        (
            lambda d: {
                "images": [d / "i.png"],
                "model": "byteplus/seedance-1-0-pro",
                "audios": [tone(d / "a.wav", 3)],
            },
            "model",
            "Seedance 2.0",
        ),
        (lambda d: {"duration": 3, "frames": 72}, "frames", "not both"),
        (lambda d: {"priority": 10}, "priority", "less than or equal to 9"),
        (lambda d: {"duration": 2}, "duration", "4–15 s"),
        (lambda d: {"frames": 30}, "frames", "25 + 4n"),
        (lambda d: {"ratio": "2:1"}, "ratio", "'16:9'"),
        (lambda d: {"resolution": "4k"}, "resolution", "'480p'"),
        (
            lambda d: {"images": ["data:image/png;base64," + "A" * (65 * 1024 * 1024)]},
            "request",
            "public URL",
        ),
    ],
)
def test_limits_before_any_request(studio, sandbox, tmp_path, make, field, rule) -> None:
    Image.new("RGB", (64, 64)).save(tmp_path / "i.png")
    (tmp_path / "x.ogg").write_bytes(b"OggS" + b"\0" * 100)
    with open(tmp_path / "big.mp4", "wb") as fh:
        fh.truncate(51 * 1024 * 1024)
    fields = make(tmp_path)
    before = len(sandbox.request_log)
    with pytest.raises(nm.ValidationError) as info:
        studio.generate("p", provider="meshapi", **fields)
    assert info.value.field == field and rule in info.value.rule, str(info.value)
    assert len(sandbox.request_log) == before


def test_failed_task_is_job_failed_with_code(studio, sandbox) -> None:
    sandbox.faults.fail_next_jobs(1, code="content_policy_violation", message="blocked")
    job = studio.generate("Blocked", provider="meshapi", duration=4)
    with pytest.raises(nm.JobFailed):
        job.wait(timeout=120)
    assert job.error["code"] == "content_policy_violation"


def test_http_errors_keep_mesh_body(studio, sandbox, tmp_path, monkeypatch) -> None:
    ghost = nm.Job(provider="meshapi", kind="video", id="task_missing")
    with pytest.raises(nm.NotFound) as info:
        asyncio.run(provider_client(sandbox, "meshapi").refresh(ghost))
    assert info.value.code == "not_found"
    with pytest.raises(nm.NotFound) as info:
        studio.generate("x", provider="meshapi", model="acme/unknown-model", duration=4)
    assert info.value.code == "model_not_found"
    monkeypatch.setenv("NBMEDIA_MESHAPI_BASE_URL", sandbox.base_url("meshapi"))
    bad = nm.Studio(root=tmp_path / "bad", keys={"meshapi": "sk_wrong_prefix"}, sandbox=False)
    with pytest.raises(nm.AuthError) as info:
        bad.generate("x", provider="meshapi", duration=4)
    assert info.value.code == "unauthorized" and "sk_wrong_prefix" not in str(info.value)
    bad.close()


def test_429_retry_after_seconds_is_honoured(studio, sandbox) -> None:
    sandbox.faults.rate_limit_next(1, retry_after=1)
    job = studio.generate("Limited once", provider="meshapi", duration=4)
    assert job.id
    job.wait(timeout=120)


def test_remote_jobs_filters_and_paging(studio) -> None:
    jobs = [studio.generate(f"list {i}", provider="meshapi", duration=4) for i in range(3)]
    for job in jobs:
        job.wait(timeout=120)
    df = studio.remote_jobs("meshapi", status=["succeeded"], limit=200)
    assert {j.id for j in jobs} <= set(df["id"])
    page = studio.remote_jobs("meshapi", limit=1, offset=1)
    assert len(page) == 1
    with pytest.raises(nm.ValidationError):
        studio.remote_jobs("meshapi", limit=201)


def test_data_uri_sizes_are_decoded_sizes() -> None:
    from nbmedia.providers.inputs import data_uri_size

    raw = b"x" * 1000
    assert data_uri_size("data:a/b;base64," + base64.b64encode(raw).decode()) == 1000


def test_unsigned_callback_only_triggers_a_re_read(studio, sandbox) -> None:
    import json as _json

    job = studio.generate("Callback", provider="meshapi", duration=4)
    forged = _json.dumps(
        {"id": job.id, "status": "succeeded", "content": {"video_url": "http://evil/x.mp4"}}
    ).encode()
    assert studio.handle_webhook("meshapi", {}, forged) is job
    job.wait(timeout=120)
    assert "evil" not in (
        job.output("video").url or ""
    )  # the state came from GET, not the callback


def test_a_request_without_a_seed_gets_one_drawn_by_the_client(sandbox) -> None:
    """The list echoes seeds but not prompts: a drawn seed tells lost creates apart."""
    from tests.conftest import provider_client

    p = provider_client(sandbox, "meshapi")
    seeds = {p.make_request("video", {"prompt": "same", "duration": 4}).wire()["seed"]
             for _ in range(5)}  # fmt: skip
    assert len(seeds) == 5 and all(0 <= s < 2**31 for s in seeds)
    given = p.make_request("video", {"prompt": "same", "duration": 4, "seed": 7})
    assert given.wire()["seed"] == 7


@pytest.mark.parametrize("uri", ["data:;base64,AAAA", "data:base64,AAAA", "data:,AAAA"])
def test_a_data_uri_without_its_mime_type_is_refused(studio, sandbox, uri) -> None:
    before = len(sandbox.request_log)
    with pytest.raises(nm.ValidationError, match="MIME type") as info:
        studio.generate("p", provider="meshapi", images=[uri])
    assert info.value.field == "images.0" and len(sandbox.request_log) == before


def test_content_items_keep_their_roles_and_a_draft_task_reaches_the_wire(studio, sandbox) -> None:
    """As the docs and the SDK's VideoContentItem have them: roles stay on their items, and a
    draft_task is an item of its own (it was sent as a bare text item, roles dropped)."""
    draft = studio.generate("A draft", provider="meshapi", duration=4, draft=True)
    draft.wait(timeout=180)
    first, last = "https://example.com/first.png", "https://example.com/last.png"
    _, request = studio.prepare(
        "meshapi",
        "video",
        content=[
            {"type": "text", "text": "From the draft"},
            {"type": "image_url", "image_url": {"url": first}, "role": "first_frame"},
            {"type": "image_url", "image_url": {"url": last}, "role": "last_frame"},
            {"type": "draft_task", "draft_task": {"id": draft.id}},
        ],
    )
    assert request.wire()["content"] == [
        {"type": "text", "text": "From the draft"},
        {"type": "image_url", "image_url": {"url": first}, "role": "first_frame"},
        {"type": "image_url", "image_url": {"url": last}, "role": "last_frame"},
        {"type": "draft_task", "draft_task": {"id": draft.id}},
    ]
    _, same = studio.prepare(
        "meshapi", "video", "From the draft",
        images=[{"url": first, "role": "first_frame"}, {"url": last, "role": "last_frame"}],
        draft_task=draft.id,
    )  # fmt: skip
    assert same.wire()["content"] == request.wire()["content"]
    job = studio.submit("meshapi", "video", None, draft_task=draft.id, duration=4)
    job.wait(timeout=180)
    assert job.status is nm.JobStatus.SUCCEEDED and job.raw["draft_task_id"] == draft.id
    with pytest.raises(nm.ValidationError) as info:
        studio.prepare("meshapi", "video", "x", roles={"images.3": "first_frame"})
    assert info.value.field == "roles.images.3"


def test_a_sweep_spans_jobs_with_naive_and_aware_creation_times(sandbox) -> None:
    """A row written by an older build may hold a naive (UTC) creation time beside aware
    ones: the sweep's window takes both, and reads every task in it."""
    import datetime as dt

    from nbmedia.models import Job, JobStatus

    sandbox.speed = 20.0
    p = provider_client(sandbox, "meshapi")

    async def run() -> list[Job | None]:
        jobs = []
        for i in range(3):
            job = Job(provider="meshapi", kind="video", local_id=f"l{i}")
            await p.submit(job, p.make_request("video", {"prompt": f"span {i}", "duration": 4}))
            jobs.append(job)
        jobs[0].created_at = jobs[0].created_at.astimezone(dt.timezone.utc).replace(tzinfo=None)
        for _ in range(200):
            swept = await p.sweep(jobs)
            answers = [swept.answer(j) for j in jobs]
            if all(a is not None and a.done for a in answers):
                return answers
            await asyncio.sleep(0.1)
        return answers

    answers = asyncio.run(run())
    assert [a.status if a else None for a in answers] == [JobStatus.SUCCEEDED] * 3
