"""Vimmerse's contract, walked on both sides: the tables of providers.md section 2 and its
readings, and the examples of api-docs/vimmerse.txt, run on the sandbox over HTTP and through
the client's request models and parsers. The expected values are written here from the
documents; nothing is imported from the sandbox or the client to say what is right."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import nbmedia as nm
from nbmedia.models import Job, JobStatus
from nbmedia.sandbox import Sandbox
from tests.conftest import Receiver, download, provider_client, sandbox_client, wait_for
from tests.mediacheck import probe

from .conftest import EXAMPLES, refused, run_python

pytestmark = pytest.mark.timeout(180)

# ---- the documents, as tables ----------------------------------------------------------------
CREATE_FIELDS = {
    "title", "description", "media_items", "prompt", "video_tool", "quantity", "duration",
    "loop", "audio_option", "aspect_ratio", "pipeline_mode", "webhook_url",
}  # fmt: skip
AUDIO_FIELDS = {
    "narrator", "narration", "narration_url", "bg_music_prompt", "bg_music_url", "native_audio"
}  # fmt: skip
METADATA = {"title", "description", "visibility_status", "rating", "webhook_url"}
"""PATCH keys that update in place; every other key starts a new generation."""
GENERATION = {"prompt", "video_tool", "duration", "media_items", "audio_option"}
"""The PATCH keys the page names as generation keys ("… etc.": the create's other fields)."""
VIDEO_TOOLS = (
    "Auto", "AutoT3", "KlingAI", "KlingT4", "LumaAI", "LumaRay2", "VeoFast", "Veo", "RunwayML",
    "MinimaxHailuo", "Seedance", "SeedanceFast", "Hunyuan", "Pixverse", "PixverseT3",
    "PicoMotion", "StaticMotion", "Wan", "Sora", "SoraPro", "TryOnVideo",
)  # fmt: skip
NARRATORS = (
    "AutoV", "Rachel", "Aria", "Roger", "Sarah", "Laura", "Charlie", "George", "Callum", "River",
    "Liam", "Charlotte", "Alice", "Matilda", "Will", "Jessica", "Eric", "Chris", "Brian", "Daniel",
    "Lily", "Bill",
)  # fmt: skip
ASPECT_RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16")
PIPELINE_MODES = ("Advanced", "Quick")
DEFAULTS = {"video_tool": "Auto", "quantity": 1, "duration": 5, "loop": 1}
"""What pose_preset reports for a bare prompt: motion_type, quantity, motion_length, loop."""
INSIDE = [
    ("quantity", 1), ("quantity", 4), ("duration", 1), ("duration", 10), ("loop", 1),
    ("loop", 6),
    *[("video_tool", t) for t in VIDEO_TOOLS],
    *[("aspect_ratio", a) for a in ASPECT_RATIOS],
    *[("pipeline_mode", m) for m in PIPELINE_MODES],
    *[("audio_option", {"narrator": n}) for n in NARRATORS],
]  # fmt: skip
OUTSIDE = [
    ("quantity", 0), ("quantity", 5), ("duration", 0), ("duration", 11), ("loop", 0),
    ("loop", 7), ("video_tool", "auto"), ("aspect_ratio", "2:1"), ("pipeline_mode", "Fast"),
    ("audio_option.narrator", "Bob"), ("media_items.0.type", "gif"),
]  # fmt: skip
STATUSES = {
    "new": JobStatus.QUEUED, "queue_bullet": JobStatus.QUEUED,
    "processing_bullet": JobStatus.RUNNING, "success": JobStatus.SUCCEEDED,
    "failed": JobStatus.FAILED, "fail": JobStatus.FAILED,
}  # fmt: skip
"""v2's new / success / failed and v1's queue_bullet / processing_bullet / fail; `cancel` (and
`cancelled`) end a job too, checked apart."""
V2_STATUSES = ("new", "success", "failed")
ERRORS = {401: None, 402: "INSUFFICIENT_CREDIT", 404: "MEDIA_NOT_FOUND", 422: None, 429: None,
          500: None, 400: "JOB_CREATE_FAILED"}  # fmt: skip
"""The documented HTTP errors, each `{"message", "code"}` exactly (the page's codes where it
names one for that status)."""
WEBHOOK_KEYS = {"customer_id", "media_id", "status"}
DOC = json.loads((EXAMPLES / "vimmerse_examples.json").read_text())
DOC_BASE_URL = '"https://api.vimmerse.net"'
DOC_KEY = '"YOUR_API_KEY"'


# ---- helpers -----------------------------------------------------------------------------------
def new_key(marker: str = "") -> str:
    return f"vk_{marker}{secrets.token_hex(6)}"


def client_for(sandbox: Sandbox, key: str | None) -> httpx.Client:
    return sandbox_client(sandbox, "vimmerse", {"X-Api-Key": key} if key is not None else None)


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with client_for(sandbox, new_key()) as c:
        yield c


def body_for(field: str, value: Any) -> dict[str, Any]:
    """A create with `field` (dotted for nested ones) set to `value`."""
    if field.startswith("audio_option."):
        return {"prompt": "x", "audio_option": {field.split(".")[1]: value}}
    if field.startswith("media_items."):
        return {"media_items": [{"type": value, "url": "https://example.com/a.png"}]}
    return {"prompt": "x", field: value}


def assert_error(r: httpx.Response, status: int, code: str | None = None) -> dict[str, str]:
    assert r.status_code == status, r.text
    body = r.json()
    assert list(body) == ["message", "code"], body  # "exactly two fields", in v2's order
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["code"], str) and body["code"]
    if code is not None:
        assert body["code"] == code, body
    return body


# ---- fields, enums, limits ---------------------------------------------------------------------
def test_the_client_models_have_exactly_the_documented_fields(sandbox: Sandbox) -> None:
    p = provider_client(sandbox, "vimmerse")
    assert set(p.requests["video"].model_fields) == CREATE_FIELDS
    audio = p.make_request("video", {"prompt": "x", "audio_option": {}}).audio_option
    assert set(type(audio).model_fields) == AUDIO_FIELDS
    update = p.check_update({})
    assert set(type(update).model_fields) == CREATE_FIELDS | METADATA
    assert GENERATION <= CREATE_FIELDS - METADATA


def test_defaults_on_both_sides(sandbox: Sandbox, api: httpx.Client) -> None:
    wire = provider_client(sandbox, "vimmerse").make_request("video", {"prompt": "x"}).wire()
    assert {k: wire[k] for k in DEFAULTS} == DEFAULTS
    sandbox.faults.fail_next_jobs(1)
    r = api.post("/v2/media", json={"prompt": "x"})
    assert r.status_code == 200, r.text
    preset = r.json()["pose_preset"]
    assert (preset["motion_type"], preset["quantity"], preset["motion_length"], preset["loop"]) == (
        DEFAULTS["video_tool"],
        DEFAULTS["quantity"],
        DEFAULTS["duration"],
        DEFAULTS["loop"],
    )


@pytest.mark.parametrize(("field", "value"), INSIDE)
def test_values_inside_the_limits_pass_on_both_sides(
    sandbox: Sandbox, api: httpx.Client, field, value
) -> None:
    body = body_for(field, value)
    wire = provider_client(sandbox, "vimmerse").make_request("video", body).wire()
    if isinstance(value, dict):
        assert wire[field].items() >= value.items()
    else:
        assert wire[field] == value
    sandbox.faults.fail_next_jobs(1)  # only the answer is checked: nothing to render
    r = api.post("/v2/media", json=wire)
    assert r.status_code == 200, r.text
    preset = r.json()["pose_preset"]
    shown = {"video_tool": preset["motion_type"], "quantity": preset["quantity"],
             "duration": preset["motion_length"], "loop": preset["loop"]}  # fmt: skip
    if field in shown:
        assert shown[field] == value


@pytest.mark.parametrize(("field", "value"), OUTSIDE)
def test_values_outside_the_limits_are_refused_on_both_sides(
    sandbox: Sandbox, api: httpx.Client, field, value
) -> None:
    p = provider_client(sandbox, "vimmerse")
    refused(lambda: p.make_request("video", body_for(field, value)), field)
    body = assert_error(api.post("/v2/media", json=body_for(field, value)), 422)
    assert field in body["message"], body


def test_a_prompt_or_media_is_required_on_both_sides(sandbox: Sandbox, api) -> None:
    refused(lambda: provider_client(sandbox, "vimmerse").make_request("video", {}), "prompt")
    assert "prompt" in assert_error(api.post("/v2/media", json={}), 422)["message"]


@pytest.mark.parametrize("value", ["0", "1", "2"])
def test_visibility_status_on_both_sides(sandbox: Sandbox, api: httpx.Client, value) -> None:
    p = provider_client(sandbox, "vimmerse")
    assert p.check_update({"visibility_status": value}).wire() == {"visibility_status": value}
    refused(lambda: p.check_update({"visibility_status": "3"}), "visibility_status")
    sandbox.faults.fail_next_jobs(1)
    media = api.post("/v2/media", json={"prompt": "x"}).json()
    r = api.patch(f"/v2/media/{media['id']}", json={"visibility_status": value})
    assert r.status_code == 200 and r.json()["visibility_status"] == value
    assert_error(api.patch(f"/v2/media/{media['id']}", json={"visibility_status": "3"}), 422)


# ---- PATCH: metadata in place, generation keys regenerate ----------------------------------------
@pytest.mark.parametrize(
    ("update", "regenerates"),
    [
        ({}, False),
        *[({k: v}, False) for k, v in [("title", "T"), ("description", "D"),
                                        ("visibility_status", "2"), ("rating", 4.5),
                                        ("webhook_url", "http://127.0.0.1:9/hook")]],
        *[({k: v}, True) for k, v in [("prompt", "again"), ("video_tool", "Veo"),
                                       ("duration", 2), ("quantity", 2), ("loop", 2),
                                       ("aspect_ratio", "1:1"), ("pipeline_mode", "Quick"),
                                       ("audio_option", {"narrator": "Sarah"})]],
    ],
)  # fmt: skip
def test_patch_keys_on_both_sides(sandbox: Sandbox, api: httpx.Client, update, regenerates):
    p = provider_client(sandbox, "vimmerse")
    assert p.regenerates(p.check_update(update)) is regenerates
    sandbox.faults.fail_next_jobs(2)  # the first take, and a regeneration if any
    media = wait_for(
        api, f"/v2/media/{api.post('/v2/media', json={'prompt': 'x'}).json()['id']}",
        "processing_status", ("failed",),
    )  # fmt: skip
    r = api.patch(f"/v2/media/{media['id']}", json=update)
    assert r.status_code == 200, r.text
    after = r.json()
    assert after["id"] == media["id"]
    assert after["processing_status"] == ("new" if regenerates else "failed")
    if not update:
        assert after == media  # `{}` is a no-op


# ---- statuses ------------------------------------------------------------------------------------
def test_the_client_reads_every_documented_status(sandbox: Sandbox) -> None:
    p = provider_client(sandbox, "vimmerse")
    for status, expected in STATUSES.items():
        assert p.status_of(status) is expected, status
    for ended in ("cancel", "cancelled"):  # a terminal failure, not a success
        assert p.status_of(ended).terminal and p.status_of(ended) is not JobStatus.SUCCEEDED
    with pytest.raises(nm.NbmediaError, match="processing"):
        p.status_of("processing")  # not a documented value (readings)


def test_the_sandbox_shows_only_v2_statuses(sandbox: Sandbox, api: httpx.Client) -> None:
    sandbox.speed = 5
    media = api.post("/v2/media", json={"prompt": "statuses", "duration": 1}).json()
    seen = {media["processing_status"]}
    while not seen & {"success", "failed"}:
        seen.add(api.get(f"/v2/media/{media['id']}").json()["processing_status"])
        time.sleep(0.02)
    assert seen == {"new", "success"} and seen <= set(V2_STATUSES)


# ---- errors ------------------------------------------------------------------------------------
def test_every_documented_error_has_exactly_message_and_code(sandbox: Sandbox, api) -> None:
    answers = {
        400: api.post("/v2/media", json={"prompt": "x", "audio_option": {
            "narration_url": "https://example.com/voiceover.mp3"}}),
        401: client_for(sandbox, None).get("/v2/media/abc"),
        402: client_for(sandbox, new_key("_nocredit_")).post("/v2/media", json={"prompt": "x"}),
        404: api.get("/v2/media/abc123-def456-ghi789"),
        422: api.post("/v2/media", json={"prompt": "x", "loop": 9}),
    }  # fmt: skip
    sandbox.faults.rate_limit_next(1, retry_after=3)
    answers[429] = api.get("/v2/media/abc")
    sandbox.faults.fail_next_requests(1, status=500)
    answers[500] = api.get("/v2/media/abc")
    assert set(answers) == set(ERRORS)
    for status, r in answers.items():
        assert_error(r, status, ERRORS[status])
    assert answers[404].json() == DOC["error"]  # the page's own example


def test_the_client_reads_the_error_bodies(sandbox: Sandbox) -> None:
    p = provider_client(sandbox, "vimmerse", max_retries=0)

    def error_of(call) -> nm.ProviderError:
        with pytest.raises(nm.ProviderError) as info:
            asyncio.run(call())
        return info.value

    err = error_of(lambda: p.get("abc123-def456-ghi789"))
    assert (err.http_status, err.code, err.message) == (
        404, DOC["error"]["code"], DOC["error"]["message"],
    )  # fmt: skip
    sandbox.faults.rate_limit_next(1, retry_after=3)  # 429: no hint documented; ours a header
    err = error_of(lambda: p.get("abc123-def456-ghi789"))
    assert (err.http_status, err.retry_after) == (429, 3.0) and err.code and err.message
    poor = provider_client(sandbox, "vimmerse", key=new_key("_nocredit_"), max_retries=0)
    request = poor.make_request("video", {"prompt": "x"})
    err = error_of(lambda: poor.submit(Job("vimmerse", "video"), request))
    assert (err.http_status, err.code) == (402, "INSUFFICIENT_CREDIT")


# ---- GET ?fields= ----------------------------------------------------------------------------------
def test_fields_query_on_both_sides(sandbox: Sandbox, api: httpx.Client) -> None:
    sandbox.faults.fail_next_jobs(1)
    media = api.post("/v2/media", json={"prompt": "x"}).json()
    key = api.headers["X-Api-Key"]
    p = provider_client(sandbox, "vimmerse", key=key)
    got = asyncio.run(p.get(media["id"], ["id", "processing_status"]))
    assert set(got) == {"id", "processing_status"} and got["id"] == media["id"]
    every = list(DOC["media"])  # "allowed keys are those in the media response body"
    assert set(asyncio.run(p.get(media["id"], every))) == set(every)
    assert set(api.get(f"/v2/media/{media['id']}", params={"fields": ",".join(every)}).json()) == (
        set(every)
    )
    err = refused(lambda: asyncio.run(p.get(media["id"], ["id", "password"])), "fields")
    assert err.value == "password"
    r = api.get(f"/v2/media/{media['id']}", params={"fields": "id,password"})
    assert "password" in assert_error(r, 422)["message"]


# ---- the page's examples -------------------------------------------------------------------------
def run_doc(name: str, sandbox: Sandbox, key: str) -> dict[str, Any]:
    base = repr(sandbox.base_url("vimmerse"))
    return run_python(name, {DOC_BASE_URL: base, DOC_KEY: repr(key)})


def test_the_documented_examples_run_unchanged(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:  # fmt: skip
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    key = new_key()
    created = run_doc("vimmerse_create.py", sandbox, key)["result"]
    assert set(DOC["media"]) <= set(created)
    assert created["processing_status"] == "new" and created["title"] == "Product Launch Clip"
    for k, v in DOC["media"].items():  # the page's example object, key by key: the same types
        assert type(created[k]) is type(v) or v is None, k
    monkeypatch.setattr(time, "sleep", lambda s: threading.Event().wait(min(s, 0.1)))
    ns = run_doc("vimmerse_poll.py", sandbox, key)
    monkeypatch.undo()
    out = capsys.readouterr().out
    assert f"Created media: {ns['media_id']}" in out and "status=success" in out
    urls = re.findall(r"^Video URL: (\S+)$", out, re.M)
    assert urls == ns["video_urls"] and len(urls) == 1
    info = probe(download(urls[0], tmp_path / "doc.mp4", content_type="video/mp4"))
    assert info["video"]["codec"] == "h264" and info["duration"] == pytest.approx(5, abs=0.1)
    assert (info["video"]["width"], info["video"]["height"]) == (640, 360) and not info["audio"]
    with client_for(sandbox, key) as c:  # the first example, narrated by Sarah, finished too
        narrated = wait_for(c, f"/v2/media/{created['id']}", "processing_status", ("success",))
    narrated_mp4 = download(
        narrated["result"][0], tmp_path / "narrated.mp4", content_type="video/mp4"
    )
    info = probe(narrated_mp4)
    assert info["audio"] is not None and info["duration"] == pytest.approx(5, abs=0.1)


def test_the_client_reads_the_documented_media_object(sandbox: Sandbox) -> None:
    p = provider_client(sandbox, "vimmerse")
    job = p.apply(Job("vimmerse", "video"), json.loads(json.dumps(DOC["media"])))
    assert (job.id, job.status, job.outputs) == ("abc123-def456-ghi789", JobStatus.QUEUED, [])
    done = {**DOC["media"], "processing_status": "success",
            "result": ["https://cdn.example/1.mp4", "https://cdn.example/2.mp4"]}  # fmt: skip
    job = p.apply(job, done)
    assert job.status is JobStatus.SUCCEEDED and [o.url for o in job.outputs] == done["result"]


@pytest.fixture(scope="module")
def mp3_url(sandbox: Sandbox) -> str:
    """A real MP3 served by the sandbox (a MercaDream speech output): a reachable stand-in for
    the page's example.com placeholders."""
    with sandbox_client(
        sandbox, "mercadream", {"Authorization": f"Bearer mk_test_{secrets.token_hex(6)}"}
    ) as c:
        job = c.post("/v2/speech", json={"text": "A voice over, two seconds or so."}).json()
        done = wait_for(c, f"/v2/jobs/{job['id']}", "status", ("completed", "failed"))
    assert done["status"] == "completed", done
    return done["download_url"]


@pytest.mark.parametrize("name", sorted(DOC["audio_option"]))
def test_the_documented_audio_options(
    sandbox: Sandbox, api: httpx.Client, mp3_url: str, name: str, tmp_path: Path
) -> None:
    """Each audio_option example, through the client's model and on the sandbox. The two with
    https://example.com/… URLs are placeholders that no server can fetch: as printed they are
    refused with JOB_CREATE_FAILED naming the URL; with a reachable MP3 in their place they
    make a video with sound."""
    option = DOC["audio_option"][name]
    p = provider_client(sandbox, "vimmerse")
    body = {"prompt": "Audio option example", "duration": 1, "audio_option": option}
    assert p.make_request("video", body).wire()["audio_option"].items() >= option.items()
    placeholders = [v for v in option.values() if str(v).startswith("https://example.com/")]
    if placeholders:
        r = api.post("/v2/media", json=body)
        assert placeholders[0] in assert_error(r, 400, "JOB_CREATE_FAILED")["message"]
        option = {k: (mp3_url if v in placeholders else v) for k, v in option.items()}
        body = {**body, "audio_option": option}
    r = api.post("/v2/media", json=body)
    assert r.status_code == 200, r.text
    done = wait_for(api, f"/v2/media/{r.json()['id']}", "processing_status", ("success", "failed"))
    assert done["processing_status"] == "success", done
    info = probe(download(done["result"][0], tmp_path / "a.mp4", content_type="video/mp4"))
    assert info["audio"] is not None


def test_webhook_body_on_both_sides(sandbox: Sandbox, api, receiver: Receiver) -> None:
    sandbox.faults.fail_next_jobs(1)
    media = api.post("/v2/media", json={"prompt": "hook", "webhook_url": receiver.url}).json()
    receiver.wait(lambda bodies: len(bodies) >= 1)
    headers, raw = receiver.events[0]
    event = json.loads(raw)
    assert set(event) == WEBHOOK_KEYS and event["media_id"] == media["id"]
    assert event["status"] == "failed" and event["customer_id"] == media["customer_id"]
    parsed = provider_client(sandbox, "vimmerse").parse_webhook(headers, raw)
    assert parsed["id"] == media["id"] and parsed["verified"] is False  # unsigned: re-read
