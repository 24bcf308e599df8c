"""Mesh API's contract, walked on both sides: the tables of providers.md section 4 and its
readings on the sandbox over HTTP and through the client's request models and parsers, and the
public `meshapi` SDK (0.1.11) run unchanged (base_url and token only) across its video routes
and methods, sync and async, errors included and parsed by its own `MeshAPIError`.

The page (api-docs/meshapi.txt) shows its examples only as headings ("curl", "Python",
"Node.js"): their code was not captured, so the one literal it prints (a `callback_url`) and
the SDK are the documented examples run here. Expected values are written here from the
documents; nothing is imported from the sandbox or the client to say what is right."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import secrets
import subprocess
import tempfile
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import imageio_ffmpeg
import meshapi as sdk
import pytest

import nbmedia as nm
from nbmedia.models import Job, JobStatus
from nbmedia.sandbox import Sandbox
from tests.conftest import Receiver, png_data_uri, provider_client, sandbox_client, wait_for

from .conftest import refused

pytestmark = pytest.mark.timeout(180)

# ---- the documents, as tables ----------------------------------------------------------------
PATH = "/v1/video/generations"
MODEL = "byteplus/dreamina-seedance-2-0"
MODEL_1 = "byteplus/seedance-1-0-pro"
CREATE_FIELDS = {
    "model", "content", "callback_url", "resolution", "ratio", "duration", "frames",
    "generate_audio", "return_last_frame", "seed", "camera_fixed", "watermark", "draft",
    "service_tier", "execution_expires_after", "priority", "safety_identifier",
}  # fmt: skip
TASK_KEYS = {
    "id", "status", "model", "error", "created_at", "updated_at", "content", "seed",
    "resolution", "ratio", "duration", "frames", "framespersecond", "generate_audio",
    "safety_identifier", "priority", "draft", "draft_task_id", "service_tier",
    "execution_expires_after", "usage",
}  # fmt: skip
LIST_KEYS = {"object", "data", "has_more", "total", "limit", "offset"}
STATUSES = {
    "queued": JobStatus.QUEUED, "running": JobStatus.RUNNING,
    "succeeded": JobStatus.SUCCEEDED, "failed": JobStatus.FAILED,
    "expired": JobStatus.EXPIRED, "cancelled": JobStatus.CANCELLED,
}  # fmt: skip
ERROR_KEYS = ["code", "message", "details", "provider_error", "retry_after_seconds"]
SERVER_ERRORS = {"upstream_error", "gateway_timeout", "internal_error"}
"""The documented codes of a 5xx."""
DOC_CALLBACK = "https://yourapp.example.com/webhooks/video"
"""The one literal of the page's examples ("You pass "callback_url": … in the create request")."""
RED = png_data_uri((220, 30, 30))


def text(prompt: str) -> dict[str, Any]:
    return {"type": "text", "text": prompt}


def image(url: str = RED, role: str | None = None) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}} | ({"role": role} if role else {})


def wav(seconds: float) -> bytes:
    """A real WAV tone of `seconds`, made with the standard library."""
    rate = 8000
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x10\x00\xf0" * round(seconds * rate / 2))
    return buf.getvalue()


def mp3(seconds: float) -> bytes:
    """The same tone as an MP3 (ffmpeg's libmp3lame, from imageio-ffmpeg)."""
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "a.wav", Path(tmp) / "a.mp3"
        src.write_bytes(wav(seconds))
        subprocess.run(
            [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(src), str(out)], check=True
        )
        return out.read_bytes()


def tone(seconds: float, mime: str = "audio/wav") -> dict[str, Any]:
    """An audio_url item: a tone of `seconds` as a data URI (an MP3 for audio/mpeg)."""
    data = mp3(seconds) if mime == "audio/mpeg" else wav(seconds)
    uri = f"data:{mime};base64," + base64.b64encode(data).decode()
    return {"type": "audio_url", "audio_url": {"url": uri}}


INSIDE = [  # (name, request fields beyond model) just inside a documented limit or an enum value
    ("priority 0", {"content": [text("p")], "priority": 0}),
    ("priority 9", {"content": [text("p")], "priority": 9}),
    ("seedance 2.0 4 s", {"content": [text("d")], "duration": 4}),
    ("seedance 2.0 15 s", {"content": [text("d")], "duration": 15}),
    ("seedance 1.0 2 s", {"model": MODEL_1, "content": [text("d")], "duration": 2}),
    ("seedance 1.0 12 s", {"model": MODEL_1, "content": [text("d")], "duration": 12}),
    ("frames 29", {"content": [text("f")], "frames": 29}),
    ("frames 33", {"content": [text("f")], "frames": 33}),
    ("frames 289", {"content": [text("f")], "frames": 289}),
    ("audio clip 2 s", {"content": [image(), tone(2.0)]}),
    ("audio clip 15 s", {"content": [image(), tone(15.0)]}),
    ("3 audio clips, 15 s", {"content": [image(), tone(5.0), tone(5.0), tone(5.0)]}),
    ("mp3", {"content": [image(), tone(3.0, "audio/mpeg")]}),
    ("audio/x-wav", {"content": [image(), tone(2.0, "audio/x-wav")]}),
    ("seed -1", {"content": [text("s")], "seed": -1}),
    ("seed 2^32-1", {"content": [text("s")], "seed": 2**32 - 1}),
    ("expires after 1 s", {"content": [text("e")], "execution_expires_after": 1}),
    ("expires after 72 h", {"content": [text("e")], "execution_expires_after": 259200}),
    *[(f"role {r}", {"content": [text("r"), image(role=r)]})
      for r in ("first_frame", "last_frame", "reference_image")],
    ("every option", {
        "content": [text("all")], "resolution": "1080p", "ratio": "9:16", "duration": 5,
        "generate_audio": True, "return_last_frame": True, "seed": 11, "camera_fixed": True,
        "watermark": False, "draft": False, "service_tier": "default",
        "execution_expires_after": 172800, "priority": 5, "safety_identifier": "user-1",
        "callback_url": DOC_CALLBACK,
    }),
]  # fmt: skip
OUTSIDE = [  # (name, request fields, the field a refusal names)
    ("priority -1", {"content": [text("p")], "priority": -1}, "priority"),
    ("priority 10", {"content": [text("p")], "priority": 10}, "priority"),
    ("seed -2", {"content": [text("s")], "seed": -2}, "seed"),
    ("seed 2^32", {"content": [text("s")], "seed": 2**32}, "seed"),
    ("expires after 0 s", {"content": [text("e")], "execution_expires_after": 0},
     "execution_expires_after"),
    ("expires after 72 h + 1 s", {"content": [text("e")], "execution_expires_after": 259201},
     "execution_expires_after"),
    ("seedance 2.0 3 s", {"content": [text("d")], "duration": 3}, "duration"),
    ("seedance 2.0 16 s", {"content": [text("d")], "duration": 16}, "duration"),
    ("seedance 1.0 1 s", {"model": MODEL_1, "content": [text("d")], "duration": 1}, "duration"),
    ("seedance 1.0 13 s", {"model": MODEL_1, "content": [text("d")], "duration": 13}, "duration"),
    ("frames 25", {"content": [text("f")], "frames": 25}, "frames"),
    ("frames 30", {"content": [text("f")], "frames": 30}, "frames"),
    ("frames 293", {"content": [text("f")], "frames": 293}, "frames"),
    ("duration and frames", {"content": [text("f")], "duration": 5, "frames": 29}, "frames"),
    ("audio only", {"content": [tone(2.0)]}, "audio"),
    ("audio clip 1.9 s", {"content": [image(), tone(1.9)]}, "audio"),
    ("audio clip 15.5 s", {"content": [image(), tone(15.5)]}, "audio"),
    ("4 audio clips", {"content": [image(), *[tone(2.0)] * 4]}, "audio"),
    ("audio 16.5 s in all", {"content": [image(), *[tone(5.5)] * 3]}, "audio"),
    ("flac audio", {"content": [image(), tone(2.0, "audio/flac")]}, "audio"),
    ("video on seedance 1.0", {"model": MODEL_1, "content": [
        text("v"), {"type": "video_url", "video_url": {"url": "https://example.com/v.mp4"}}]},
     "model"),
    ("item type image", {"content": [text("t"), {"type": "image", "image": {"url": RED}}]},
     "content"),
    ("base64 without its mime", {"content": [image("data:;base64,iVBORw0KGgo=")]}, "image"),
]  # fmt: skip
LIST_INSIDE = [{"limit": 1}, {"limit": 200}, {"offset": 0}, *({"status": s} for s in STATUSES),
               {"created_after": "2025-01-01T00:00:00Z", "created_before": "2999-01-01T00:00:00Z"},
               {"model": MODEL}]  # fmt: skip
LIST_OUTSIDE = [({"limit": 0}, "limit"), ({"limit": 201}, "limit"), ({"offset": -1}, "offset"),
                ({"status": "done"}, "status"), ({"created_after": "yesterday"}, "created_after")]  # fmt: skip


# ---- helpers -----------------------------------------------------------------------------------
def new_key(marker: str = "_") -> str:
    return f"rsk_contract{marker}{secrets.token_hex(6)}"


def client_for(sandbox: Sandbox, key: str | None) -> httpx.Client:
    return sandbox_client(sandbox, "meshapi", {"Authorization": f"Bearer {key}"} if key else None)


@pytest.fixture
def key() -> str:
    return new_key()


@pytest.fixture
def api(sandbox: Sandbox, key: str) -> Iterator[httpx.Client]:
    with client_for(sandbox, key) as c:
        yield c


def mesh(sandbox: Sandbox, token: str, **options: Any) -> sdk.MeshAPI:
    """The SDK as its README has it: base_url and token (only the base URL is the sandbox's)."""
    return sdk.MeshAPI(base_url=sandbox.base_url("meshapi"), token=token, **options)


def envelope(r: httpx.Response, status: int) -> dict[str, Any]:
    """The documented error body; its request id is also the `x-request-id` header."""
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "request_id"}, body
    assert list(body["error"]) == ERROR_KEYS, body
    assert body["error"]["code"] and body["error"]["message"]
    assert r.headers["x-request-id"] == body["request_id"]
    return body["error"]


def sdk_error(call) -> sdk.MeshAPIError:
    with pytest.raises(sdk.MeshAPIError) as info:
        call()
    return info.value


# ---- fields and limits on both sides -------------------------------------------------------------
def test_the_clients_wire_carries_only_documented_fields(sandbox: Sandbox) -> None:
    p = provider_client(sandbox, "meshapi")
    every = dict(INSIDE)["every option"]
    wire = p.make_request("video", {"model": MODEL, **every}).wire()
    by_frames = {k: v for k, v in every.items() if k != "duration"} | {"frames": 121}
    other = p.make_request("video", {"model": MODEL, **by_frames}).wire()  # duration or frames
    assert set(wire) | set(other) == CREATE_FIELDS and set(wire) ^ set(other) == {
        "duration",
        "frames",
    }
    for body in (wire, other):  # the SDK's own model takes them as they are
        sdk.VideoGenerationParams.model_validate(body)


@pytest.mark.parametrize(("name", "fields"), INSIDE, ids=[n for n, _ in INSIDE])
def test_values_inside_the_limits_pass_on_both_sides(sandbox: Sandbox, api, name, fields):
    body = {"model": MODEL, **fields}
    wire = provider_client(sandbox, "meshapi").make_request("video", body).wire()
    assert wire["content"] == body["content"]  # items, payloads and roles unchanged
    random_seed = fields.get("seed") == -1  # "-1: a random one", which both sides draw
    if random_seed:
        assert 0 <= wire.pop("seed") < 2**32
        fields = {k: v for k, v in fields.items() if k != "seed"}
    assert {k: wire[k] for k in fields} == fields
    sandbox.faults.fail_next_jobs(1)  # only the answer is checked: nothing to render
    r = api.post(PATH, json=body)
    assert r.status_code == 200 and list(r.json()) == ["id"], r.text
    task = api.get(f"{PATH}/{r.json()['id']}").json()
    echoed = set(fields) & TASK_KEYS - {"content"}
    assert {k: task[k] for k in echoed} == {k: fields[k] for k in echoed}
    if random_seed:
        assert 0 <= task["seed"] < 2**32  # the seed it drew, reported


@pytest.mark.parametrize(("name", "fields", "field"), OUTSIDE, ids=[n for n, *_ in OUTSIDE])
def test_values_outside_the_limits_are_refused_on_both_sides(
    sandbox: Sandbox, api, name, fields, field
) -> None:
    body = {"model": MODEL, **fields}
    with pytest.raises(nm.ValidationError) as info:
        provider_client(sandbox, "meshapi").make_request("video", body)
    assert field in info.value.field and info.value.rule, str(info.value)
    err = envelope(api.post(PATH, json=body), 422)
    assert err["code"] == "validation_error" and err["details"], err
    assert field in err["message"].lower() or field in json.dumps(err["details"]), err
    assert api.get(PATH).json()["total"] == 0  # nothing was made


def test_model_and_content_are_required_on_both_sides(sandbox: Sandbox, api) -> None:
    p = provider_client(sandbox, "meshapi")
    refused(lambda: p.make_request("video", {"content": []}), "prompt")
    for body, field in (({"content": [text("x")]}, "model"), ({"model": MODEL}, "content")):
        err = envelope(api.post(PATH, json=body), 422)
        assert any(d["loc"][-1] == field for d in err["details"]), err


def test_two_text_items_are_not_silently_merged_or_dropped(sandbox: Sandbox) -> None:
    """A raw content array (the SDK's shape) with two text items: the client has one prompt,
    so it must refuse the second item by name rather than drop the first one unseen."""
    p = provider_client(sandbox, "meshapi")
    content = [text("first part"), text("second part")]
    refused(lambda: p.make_request("video", {"model": MODEL, "content": content}), "content.1")


def test_a_role_on_a_text_item_reaches_the_wire(sandbox: Sandbox, api) -> None:
    """Items may carry a role, which reaches the wire unchanged (the readings), whatever the
    item's type."""
    body = {"model": MODEL, "content": [text("t") | {"role": "prompt"}, image(role="last_frame")]}
    assert (
        provider_client(sandbox, "meshapi").make_request("video", body).wire()["content"]
        == (body["content"])
    )
    sandbox.faults.fail_next_jobs(1)
    assert api.post(PATH, json=body).status_code == 200


@pytest.mark.parametrize(
    "item",
    [text("t") | {"detail": "high"}, image() | {"text": "a caption"},
     {"type": "draft_task", "draft_task": {"id": "cgt-x"}, "image_url": {"url": RED}}],
)  # fmt: skip
def test_an_item_key_of_no_documented_use_is_refused_on_both_sides(sandbox: Sandbox, api, item):
    """An item holds `type`, the payload its type names, and `role` (the SDK's own model and
    the sandbox refuse anything else): the client refuses it by name, never drops it."""
    body = {"model": MODEL, "content": [text("keys"), item] if item["type"] != "text" else [item]}
    n = len(body["content"]) - 1
    extra = next(k for k in item if k not in ("type", item["type"], "role"))
    p = provider_client(sandbox, "meshapi")
    refused(lambda: p.make_request("video", body), f"content.{n}.{extra}")
    err = envelope(api.post(PATH, json=body), 422)
    assert any(d["loc"][-2:] == [n, extra] for d in err["details"]), err


def test_a_draft_task_item_reaches_the_wire_and_a_running_one_is_409(
    sandbox: Sandbox, api, key
) -> None:
    sandbox.speed = 0.2  # the draft stays running while it is named
    sandbox.faults.fail_next_jobs(1)
    draft = api.post(PATH, json={"model": MODEL, "content": [text("draft")], "draft": True})
    item = {"type": "draft_task", "draft_task": {"id": draft.json()["id"]}}
    body = {"model": MODEL, "content": [text("final"), item]}
    assert (
        provider_client(sandbox, "meshapi").make_request("video", body).wire()["content"]
        == (body["content"])
    )
    err = envelope(api.post(PATH, json=body), 409)
    assert err["code"] == "conflict"
    assert sdk_error(lambda: mesh(sandbox, key).videos.generate(
        sdk.VideoGenerationParams.model_validate(body))).error_code == "conflict"  # fmt: skip


def test_the_documented_callback_url_literal_on_both_sides(sandbox: Sandbox, api) -> None:
    body = {"model": MODEL, "content": [text("hook")], "callback_url": DOC_CALLBACK}
    wire = provider_client(sandbox, "meshapi").make_request("video", body).wire()
    assert wire["callback_url"] == DOC_CALLBACK
    sandbox.faults.fail_next_jobs(1)
    assert api.post(PATH, json=wire).status_code == 200


# ---- statuses, tasks, the list -------------------------------------------------------------------
def test_the_client_knows_exactly_the_documented_statuses(sandbox: Sandbox) -> None:
    p = provider_client(sandbox, "meshapi")
    assert {s: p.status_of(s) for s in STATUSES} == STATUSES
    with pytest.raises(nm.NbmediaError, match="done"):
        p.status_of("done")


@pytest.mark.parametrize("query", LIST_INSIDE)
def test_list_query_inside_on_both_sides(sandbox: Sandbox, api, key, query) -> None:
    p = provider_client(sandbox, "meshapi", key=key)
    assert asyncio.run(p.list_jobs(**query)) == []
    r = api.get(PATH, params=query)
    assert r.status_code == 200 and set(r.json()) == LIST_KEYS, r.text
    assert r.json()["object"] == "list" and r.json()["data"] == []


@pytest.mark.parametrize(("query", "field"), LIST_OUTSIDE)
def test_list_query_outside_on_both_sides(sandbox: Sandbox, api, query, field) -> None:
    p = provider_client(sandbox, "meshapi")
    refused(lambda: asyncio.run(p.list_jobs(**query)), field)
    err = envelope(api.get(PATH, params=query), 422)
    assert any(field in d["loc"] for d in err["details"]), err


def test_a_callback_is_the_task_as_get_shows_it_unsigned(
    sandbox: Sandbox, api, receiver: Receiver
) -> None:
    sandbox.faults.fail_next_jobs(1, code="content_policy_violation", message="Not allowed.")
    body = {"model": MODEL, "content": [text("hook")], "callback_url": receiver.url}
    task_id = api.post(PATH, json=body).json()["id"]
    receiver.wait(lambda bodies: len(bodies) >= 1)
    headers, raw = receiver.events[0]
    sent = json.loads(raw)
    assert sent == api.get(f"{PATH}/{task_id}").json()  # "identical to the response from GET"
    assert set(sent) == TASK_KEYS and sent["status"] == "failed"
    assert sent["error"] == {"code": "content_policy_violation", "message": "Not allowed."}
    assert not {k.lower() for k in headers} & {"signature", "x-signature", "webhook-signature"}
    parsed = provider_client(sandbox, "meshapi").parse_webhook(headers, raw)
    assert parsed == {"id": task_id, "status": "failed", "verified": False}  # re-read first
    job = provider_client(sandbox, "meshapi").apply(Job("meshapi", "video"), sent)
    assert job.status is JobStatus.FAILED and job.error["code"] == "content_policy_violation"


# ---- errors on both sides ------------------------------------------------------------------------
def test_every_documented_error_status_has_the_envelope(sandbox: Sandbox, api) -> None:
    codes = {
        401: envelope(client_for(sandbox, "sk_not_mesh").get(PATH), 401)["code"],
        402: envelope(client_for(sandbox, new_key("_nospend_")).post(
            PATH, json={"model": MODEL, "content": [text("x")]}), 402)["code"],
        403: envelope(client_for(sandbox, new_key("_forbidden_")).get(PATH), 403)["code"],
        404: envelope(api.get(f"{PATH}/cgt-nothing"), 404)["code"],
        422: envelope(api.post(PATH, json={"model": MODEL, "content": "x"}), 422)["code"],
    }  # fmt: skip
    model = envelope(api.post(PATH, json={"model": "acme/none", "content": [text("x")]}), 404)
    sandbox.faults.rate_limit_next(1, retry_after=2)
    r = api.get(PATH)
    limited = envelope(r, 429)
    assert r.headers["Retry-After"] == "2" and limited["retry_after_seconds"] == 2
    assert codes == {401: "unauthorized", 402: "spend_limit_exceeded", 403: "forbidden",
                     404: "not_found", 422: "validation_error"}  # fmt: skip
    assert model["code"] == "model_not_found" and limited["code"] == "rate_limit_exceeded"
    for status in (500, 502, 503, 504):
        sandbox.faults.fail_next_requests(1, status=status)
        assert envelope(api.get(PATH), status)["code"] in SERVER_ERRORS


def test_the_client_reads_the_envelope(sandbox: Sandbox) -> None:
    p = provider_client(sandbox, "meshapi", max_retries=0)

    def error_of(call) -> nm.ProviderError:
        with pytest.raises(nm.ProviderError) as info:
            asyncio.run(call())
        return info.value

    err = error_of(lambda: p.refresh(Job("meshapi", "video", id="cgt-nothing")))
    assert (err.http_status, err.code) == (404, "not_found") and err.message
    sandbox.faults.rate_limit_next(1, retry_after=2)
    err = error_of(p.list_jobs)
    assert (err.http_status, err.code, err.retry_after) == (429, "rate_limit_exceeded", 2.0)
    poor = provider_client(sandbox, "meshapi", key=new_key("_nospend_"), max_retries=0)
    request = poor.make_request("video", {"prompt": "x"})
    err = error_of(lambda: poor.submit(Job("meshapi", "video"), request))
    assert (err.http_status, err.code) == (402, "spend_limit_exceeded")


# ---- the SDK, unchanged ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def made(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Tasks created and ended through the SDK itself: one with every item type the SDK has
    (text, image_url with a role, audio_url, video_url, draft_task) and every option."""
    token = new_key()
    client = mesh(sandbox, token)
    plain = client.videos.generate(sdk.VideoGenerationParams(
        model=MODEL, content=[sdk.VideoContentItem(type="text", text="A plain one")],
        duration=4, seed=3, return_last_frame=True,
    ))  # fmt: skip
    first = wait_for(client_for(sandbox, token), f"{PATH}/{plain.id}", "status", ("succeeded",))
    every = client.videos.generate(sdk.VideoGenerationParams(
        model=MODEL,
        content=[
            sdk.VideoContentItem(type="text", text="Every item"),
            sdk.VideoContentItem(type="image_url", image_url={"url": RED}, role="first_frame"),
            sdk.VideoContentItem(type="video_url", video_url={"url": first["content"]["video_url"]},
                                 role="reference_video"),
            sdk.VideoContentItem(type="audio_url", audio_url=tone(2.0)["audio_url"]),
            sdk.VideoContentItem(type="draft_task", draft_task={"id": plain.id}),
        ],
        resolution="480p", ratio="1:1", duration=4, generate_audio=True, seed=5,
        camera_fixed=True, watermark=False, draft=False, service_tier="default",
        execution_expires_after=3600, priority=3, safety_identifier="contract",
    ))  # fmt: skip
    sandbox.faults.fail_next_jobs(1, code="invalid_input", message="Bad input.")
    failed = client.videos.generate(sdk.VideoGenerationParams(
        model=MODEL_1, content=[sdk.VideoContentItem(type="text", text="Fails")]))  # fmt: skip
    with client_for(sandbox, token) as c:
        for task in (every, failed):
            wait_for(c, f"{PATH}/{task.id}", "status", ("succeeded", "failed"))
    yield {"token": token, "plain": plain.id, "every": every.id, "failed": failed.id}
    client.close()


def test_sdk_retrieve_parses_every_documented_task_field(sandbox: Sandbox, made) -> None:
    client = mesh(sandbox, made["token"])
    every = client.videos.retrieve(made["every"])
    assert every.status == "succeeded" and every.draft_task_id == made["plain"]
    assert (every.model, every.resolution, every.ratio, every.duration) == (MODEL, "480p", "1:1", 4)
    assert (every.seed, every.priority, every.safety_identifier) == (5, 3, "contract")
    assert (every.generate_audio, every.draft, every.service_tier) == (True, False, "default")
    assert every.execution_expires_after == 3600 and every.framespersecond == 24
    assert every.usage and every.usage.total_tokens == every.usage.completion_tokens > 0
    assert every.content and every.content.video_url and every.content.last_frame_url is None
    assert isinstance(every.created_at, int) and every.updated_at >= every.created_at
    assert set(every.model_fields_set) == TASK_KEYS  # the server sent every documented key
    plain = client.videos.retrieve(made["plain"])
    assert plain.content and plain.content.last_frame_url  # return_last_frame
    failed = client.videos.retrieve(made["failed"])
    assert failed.status == "failed" and failed.content is None
    assert failed.error and (failed.error.code, failed.error.message) == (
        "invalid_input",
        "Bad input.",
    )
    r = httpx.get(every.content.video_url, trust_env=False)
    assert r.status_code == 200 and r.content[4:8] == b"ftyp"


def test_sdk_list_with_every_parameter(sandbox: Sandbox, made) -> None:
    client = mesh(sandbox, made["token"])
    everything = client.videos.list()
    assert everything.object == "list" and everything.total == 3
    assert [t.id for t in everything.data] == [made["failed"], made["every"], made["plain"]]
    page = client.videos.list(sdk.ListVideoGenerationsParams(limit=1, offset=1))
    assert [t.id for t in page.data] == [made["every"]] and page.has_more
    assert (page.limit, page.offset, page.total) == (1, 1, 3)
    by_status = client.videos.list(sdk.ListVideoGenerationsParams(status="failed"))
    assert [t.id for t in by_status.data] == [made["failed"]]
    by_model = client.videos.list(sdk.ListVideoGenerationsParams(model=MODEL_1))
    assert [t.id for t in by_model.data] == [made["failed"]]
    created = client.videos.retrieve(made["every"]).created_at
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created))
    after = client.videos.list(sdk.ListVideoGenerationsParams(created_after=iso))
    before = client.videos.list(
        sdk.ListVideoGenerationsParams(created_before="2000-01-01T00:00:00Z")
    )
    assert made["every"] in [t.id for t in after.data] and before.total == 0


def test_async_sdk_generate_retrieve_list(sandbox: Sandbox, made, key) -> None:
    """AsyncMeshAPI's three video methods; the new task goes to a key of its own, so the
    module's tasks stay three."""

    def client(token: str) -> sdk.AsyncMeshAPI:
        return sdk.AsyncMeshAPI(base_url=sandbox.base_url("meshapi"), token=token)

    async def main() -> tuple[str, str, list[str], sdk.MeshAPIError]:
        async with client(key) as mine, client(made["token"]) as theirs:
            sandbox.faults.fail_next_jobs(1)
            created = await mine.videos.generate(sdk.VideoGenerationParams(
                model=MODEL, content=[sdk.VideoContentItem(type="text", text="Async")]))  # fmt: skip
            listed = await mine.videos.list(sdk.ListVideoGenerationsParams(limit=2))
            task = await theirs.videos.retrieve(made["every"])
            try:
                await mine.videos.retrieve(made["every"])  # another key's task
            except sdk.MeshAPIError as exc:
                return created.id, task.status, [t.id for t in listed.data], exc
            raise AssertionError("no error for another key's task")

    new, status, listed, err = asyncio.run(main())
    assert status == "succeeded" and listed == [new]
    assert (err.status, err.error_code) == (404, "not_found")


@pytest.mark.parametrize(
    ("token", "status", "code"),
    [("sk_wrong", 401, "unauthorized"), (new_key("_nospend_"), 402, "spend_limit_exceeded"),
     (new_key("_forbidden_"), 403, "forbidden")],
)  # fmt: skip
def test_sdk_parses_auth_and_plan_errors(sandbox: Sandbox, token, status, code) -> None:
    client = mesh(sandbox, token)
    params = sdk.VideoGenerationParams(model=MODEL, content=[{"type": "text", "text": "x"}])
    err = sdk_error(lambda: client.videos.generate(params))
    assert (err.status, err.error_code) == (status, code)
    assert err.request_id.startswith("req_") and str(err)


def test_sdk_parses_not_found_and_validation_errors(sandbox: Sandbox, key) -> None:
    client = mesh(sandbox, key)
    err = sdk_error(lambda: client.videos.retrieve("cgt-nothing"))
    assert (err.status, err.error_code) == (404, "not_found")
    unknown = sdk.VideoGenerationParams(model="acme/none", content=[{"type": "text", "text": "x"}])
    assert sdk_error(lambda: client.videos.generate(unknown)).error_code == "model_not_found"
    bad = sdk.VideoGenerationParams(model=MODEL, content=[{"type": "text", "text": "x"}],
                                    duration=99, priority=10)  # fmt: skip
    err = sdk_error(lambda: client.videos.generate(bad))
    assert (err.status, err.error_code) == (422, "validation_error")
    assert {d["loc"][-1] for d in err.details} == {"duration", "priority"}
    err = sdk_error(lambda: client.videos.list(sdk.ListVideoGenerationsParams(limit=500)))
    assert (err.status, err.error_code) == (422, "validation_error")


def test_sdk_honours_retry_after_and_retries_gateway_errors(sandbox: Sandbox, key) -> None:
    sandbox.faults.rate_limit_next(1, retry_after=1)
    started = time.monotonic()
    assert mesh(sandbox, key).videos.list().total == 0  # retried after the 429
    assert time.monotonic() - started >= 0.75  # Retry-After: 1, less the SDK's 20 % jitter
    sandbox.faults.rate_limit_next(1, retry_after=4)
    err = sdk_error(lambda: mesh(sandbox, key, max_retries=0).videos.list())
    assert (err.status, err.error_code, err.retry_after_seconds) == (429, "rate_limit_exceeded", 4)
    for status in (502, 503, 504):
        sandbox.faults.fail_next_requests(1, status=status)
        assert mesh(sandbox, key).videos.list().total == 0  # retried
    sandbox.faults.fail_next_requests(1, status=500)  # not retried: the SDK raises it
    err = sdk_error(lambda: mesh(sandbox, key).videos.list())
    assert err.status == 500 and err.error_code in SERVER_ERRORS


def test_sdk_routes_outside_video_are_404_in_the_envelope(sandbox: Sandbox, key) -> None:
    """The sandbox serves Mesh API's video generations only; the SDK's other resources get a
    404 it parses with its own error class (nbmedia does not use them)."""
    client = mesh(sandbox, key)
    for call in (client.models.list, lambda: client.batches.get("b1")):
        err = sdk_error(call)
        assert err.status in (404, 405) and err.error_code in ("not_found", "method_not_allowed")


def test_list_filters_repeat_on_both_sides(sandbox: Sandbox, made) -> None:
    """`status` and `model` are repeatable query parameters (the API reference)."""
    query = [("status", "failed"), ("status", "succeeded"), ("model", MODEL_1), ("model", MODEL)]
    with client_for(sandbox, made["token"]) as c:
        both = c.get(PATH, params=query).json()
        only = c.get(PATH, params=[("status", "failed"), ("model", MODEL)]).json()
    assert [t["id"] for t in both["data"]] == [made["failed"], made["every"], made["plain"]]
    assert only["data"] == []  # the failed task is Seedance 1.0's
    p = provider_client(sandbox, "meshapi", key=made["token"])
    rows = asyncio.run(p.list_jobs(status=["failed", "succeeded"], model=[MODEL_1, MODEL]))
    assert [t["id"] for t in rows] == [t["id"] for t in both["data"]]
    assert asyncio.run(p.list_jobs(status=["failed"], model=[MODEL])) == []


@pytest.mark.parametrize(
    ("field", "name", "size", "rule"),
    [("videos", "big.mp4", 50 * 2**20 + 1, "50 MB"), ("audios", "big.wav", 15 * 2**20 + 1, "15 MB")],
)  # fmt: skip
def test_local_files_over_the_size_limits_are_refused_before_reading(
    sandbox: Sandbox, tmp_path: Path, field, name, size, rule
) -> None:
    """Video ≤ 50 MB, audio ≤ 15 MB each (the page; MB read as MiB): a local file one byte over
    is refused by its size, before it is read (a sparse file: nothing is written). The
    sandbox's side of these limits is in tests/sandbox/meshapi (test_video_over_the_size_limit
    and the "over 15 MB" case of test_422_for_each_input_limit)."""
    path = tmp_path / name
    with path.open("wb") as f:
        f.truncate(size)
    fields = {"model": MODEL, "prompt": "big", field: [str(path)]}
    if field == "audios":
        fields["images"] = [RED]
    err = refused(lambda: provider_client(sandbox, "meshapi").make_request("video", fields), field)
    assert rule in err.rule and err.value == str(path)
