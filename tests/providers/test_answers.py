"""What every provider client does with answers the sandbox cannot produce (an empty,
truncated, HTML or wrong-shape 2xx body), through `httpx.MockTransport`; and the facts each
provider declares on its class."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from nbmedia.errors import MalformedResponse, NbmediaError, ProviderError
from nbmedia.http import ApiClient, Secret
from nbmedia.models import Job, JobStatus, Output
from nbmedia.providers import REGISTRY
from nbmedia.providers.base import Capability, Provider, Unsupported

pytestmark = pytest.mark.timeout(60)

REQUESTS: dict[str, tuple[str, dict[str, Any]]] = {
    "mercadream": ("speech", {"text": "Hello"}),
    "vimmerse": ("video", {"prompt": "Hello"}),
    "meshapi": ("video", {"prompt": "Hello", "duration": 4}),
    "viddyscribe": ("describe", {"video": "media_123"}),  # a media id: no upload
    "syncso": (
        "lipsync",
        {"video": "https://example.com/v.mp4", "audio": "https://example.com/a.wav"},
    ),
}
BAD_BODIES = {
    "empty": b"",
    "truncated": b'{"id": "job_1", "status": "queu',
    "html": b"<html><body><h1>502 Bad Gateway</h1></body></html>",
    "array": b"[]",
    "no id or status": b'{"unexpected": true}',
}

Handler = Callable[[httpx.Request], httpx.Response]


def client(name: str, handler: Handler) -> Provider:
    cls = REGISTRY[name]
    api = ApiClient(
        name,
        "https://api.example.test",
        secret=Secret("k_test_secret_value"),
        auth_headers=cls.auth_headers,
        error_parser=cls.parse_error,
        transport=httpx.MockTransport(handler),
        max_retries=0,
    )
    return cls(api)


def answering(body: bytes, status: int = 200) -> Handler:
    return lambda request: httpx.Response(status, content=body)


async def _create(p: Provider) -> Job:
    kind, fields = REQUESTS[p.name]
    request = p.make_request(kind, fields)
    job = Job(provider=p.name, kind=kind, request=request.wire(), local_id="local1")
    try:
        return await p.submit(job, request)
    finally:
        await p.api.aclose()


async def _refresh(p: Provider) -> Job:
    job = Job(provider=p.name, kind=REQUESTS[p.name][0], id="job_1", local_id="local1")
    try:
        return await p.refresh(job)
    finally:
        await p.api.aclose()


@pytest.mark.parametrize("body", list(BAD_BODIES.values()), ids=list(BAD_BODIES))
@pytest.mark.parametrize("name", sorted(REGISTRY))
@pytest.mark.parametrize("call", [_create, _refresh], ids=["create", "refresh"])
def test_a_bad_2xx_body_is_malformed_response(name, body, call) -> None:
    p = client(name, answering(body, 201 if call is _create else 200))
    with pytest.raises(MalformedResponse) as info:
        asyncio.run(call(p))
    err = info.value
    assert isinstance(err, ProviderError) and err.code == "malformed_response"
    assert err.provider == name and err.may_have_reached_server
    if body:
        assert body[:20].decode() in str(err)  # the first bytes, to see what came back
    else:
        assert "empty" in str(err)


DONE = {
    "mercadream": "completed",
    "vimmerse": "success",
    "meshapi": "succeeded",
    "viddyscribe": "done",
    "syncso": "COMPLETED",
}


@pytest.mark.parametrize("name", sorted(REGISTRY))
@pytest.mark.parametrize("status", ["done", "odd", 5, ["x"]])
def test_a_job_object_with_odd_values_does_not_crash(name, status) -> None:
    """Right JSON type, wrong value types: the job is read as far as it makes sense, or an
    nbmedia error says what is wrong (never a TypeError, KeyError or AttributeError)."""
    body = {
        "id": "job_1", "job_id": "job_1", "progress": "half", "progress_percentage": [1],
        "compute_units": {}, "usage": "lots", "content": ["x"], "result": {"a": 1},
        "error": 5, "created_at": "yesterday", "updated_at": [], "completed_at": {},
        "download_url": 7, "thumbnail_url": 8, "outputUrl": ["x"], "segmentOutputUrl": 1,
        "video_signed_url": 3, "audio_signed_url": 4, "output": None,
    }  # fmt: skip
    value = DONE[name] if status == "done" else status
    body["processing_status" if name == "vimmerse" else "status"] = value
    p = client(name, answering(json.dumps(body).encode()))
    try:
        job = asyncio.run(_refresh(p))
    except NbmediaError:
        return
    assert job.status is JobStatus.SUCCEEDED and job.id == "job_1"


def test_a_key_never_shows_in_a_malformed_body() -> None:
    p = client("mercadream", answering(b"<p>bad key k_test_secret_value</p>"))
    with pytest.raises(MalformedResponse) as info:
        asyncio.run(_refresh(p))
    assert "k_test_secret_value" not in str(info.value) and "********" in str(info.value)


# ---- list answers ----------------------------------------------------------------------------
def _list_handler(rows_body: Any, seen: list[httpx.Request]) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith(("/v2/jobs", "/v2/generations")):
            return httpx.Response(200, json=rows_body)
        job_id = request.url.path.rsplit("/", 1)[-1]
        status = "processing" if "/v2/jobs/" in request.url.path else "PROCESSING"
        return httpx.Response(200, json={"id": job_id, "status": status})

    return handle


ROWS = {
    "mercadream": [
        {"id": "a", "status": "completed", "download_url": "https://cdn.test/a.mp3"},
        {"id": "b", "status": "failed", "error": {"code": "x", "message": "y"}},
    ],
    "syncso": [
        {"id": "a", "status": "COMPLETED", "outputUrl": "https://cdn.test/a.mp4"},
        {"id": "b", "status": "REJECTED", "error_code": "generation_media_download_failed"},
    ],
}


@pytest.mark.parametrize("name", sorted(ROWS))
@pytest.mark.parametrize("wrap", ["bare array", "data", "other rows"])
def test_refresh_many_reads_a_bare_array_or_a_wrapped_list(name, wrap) -> None:
    rows = ROWS[name] + ["not a row", {"no": "id"}]
    body: Any = rows if wrap == "bare array" else {"data": rows, "has_more": False}
    if wrap == "other rows":
        body = {"data": rows[:1], "has_more": False}  # b and c are not listed: one GET each
    seen: list[httpx.Request] = []
    p = client(name, _list_handler(body, seen))
    kind = REQUESTS[name][0]
    jobs = [Job(provider=name, kind=kind, id=i, local_id=i) for i in ("a", "b", "c")]

    async def main() -> None:
        await p.refresh_many(jobs)
        await p.api.aclose()

    asyncio.run(main())
    a, b, c = jobs
    assert a.status is JobStatus.SUCCEEDED and a.output() is not None
    assert c.status is JobStatus.RUNNING  # not in the list: read on its own
    gets = sorted(r.url.path.rsplit("/", 1)[-1] for r in seen[1:])
    assert gets == (["b", "c"] if wrap == "other rows" else ["c"])
    if wrap != "other rows":
        assert b.status is JobStatus.FAILED and b.error["code"]


@pytest.mark.parametrize(
    ("name", "body"),
    [("mercadream", {"data": "oops"}), ("mercadream", {"has_more": False}), ("syncso", 5)],
)
def test_a_list_answer_without_a_list_is_malformed(name, body) -> None:
    p = client(name, _list_handler(body, []))
    with pytest.raises(MalformedResponse):
        asyncio.run(p.list_jobs())


def test_mercadream_list_answer_as_bare_array_does_not_crash_find_created() -> None:
    p = client("mercadream", _list_handler([], []))
    job = Job(provider="mercadream", kind="speech", request={"text": "x", "format": "wav"})
    assert asyncio.run(p.find_created(job, claimed=())) is None


def test_mercadream_base_url_ending_in_v2_is_not_doubled() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"id": "job_1", "status": "queued"})

    cls = REGISTRY["mercadream"]
    api = ApiClient(
        "mercadream",
        "https://api.mercadream.com/v2",
        secret=Secret("mk_test_x"),
        auth_headers=cls.auth_headers,
        transport=httpx.MockTransport(handle),
    )
    asyncio.run(_create(cls(api)))
    assert [r.url.path for r in seen] == ["/v2/speech"]


# ---- declared facts ----------------------------------------------------------------------------
def test_declared_facts() -> None:
    facts = {
        name: (cls.key_env, cls.concurrency, {c.value for c in cls.capabilities})
        for name, cls in REGISTRY.items()
    }
    assert facts == {
        "mercadream": (
            "MERCADREAM_API_KEY",
            2,
            {"list_refresh", "vault", "signed_webhooks", "find_created"},
        ),
        "vimmerse": ("VIMMERSE_API_KEY", 2, {"patch"}),
        "viddyscribe": ("VIDDYSCRIBE_API_KEY", 2, {"segments"}),
        "meshapi": ("MESHAPI_API_KEY", 2, {"find_created", "list_refresh"}),
        "syncso": (
            "SYNC_API_KEY",
            1,
            {
                "list_refresh",
                "estimate",
                "signed_webhooks",
                "idempotent_create",
                "find_created",
                "batch",
            },  # fmt: skip
        ),
    }
    for cls in REGISTRY.values():
        assert set(cls.makes) == set(cls.requests)
        for accept, many, _item in cls.media_fields.values():
            assert accept and isinstance(many, bool)
    assert REGISTRY["meshapi"].media_fields == {
        "images": ("image/*", True, None),
        "videos": ("video/*", True, None),
        "audios": (".wav,.mp3", True, None),
    }
    assert REGISTRY["vimmerse"].media_fields == {
        "media_items": ("image/*,video/*,audio/*", True, "image"),
        "narration_url": ("audio/*", False, None),
        "bg_music_url": ("audio/*", False, None),
    }


@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("mercadream", lambda p: p.estimate(None)),
        ("meshapi", lambda p: p.vault()),
        ("syncso", lambda p: p.patch("x", None)),
    ],
)
def test_what_a_provider_does_not_offer_is_unsupported(name, call) -> None:
    p = client(name, answering(b"{}"))
    with pytest.raises(Unsupported):
        asyncio.run(call(p))
    with pytest.raises(Unsupported):
        p.segments(Job(provider=name, kind="x"))


def test_viddyscribe_label_names_the_source(tmp_path: Path) -> None:
    p = client("viddyscribe", answering(b"{}"))
    fields = {"video": str(tmp_path / "clip.mp4"), "language": "fr-FR", "format": "vtt"}
    wire = p.make_request("describe", {"video": "m", "language": "fr-FR", "format": "vtt"}).wire()
    wire["video"] = fields["video"]
    assert p.label("describe", wire, fields) == "describe clip.mp4 → text (fr-FR, vtt)"
    made = Job(provider="mercadream", kind="video", id="job_9", prompt="Neon rain")
    wire = p.make_request("describe", {"video": made, "output": "audio"}).wire()
    assert p.label("describe", wire, {"video": made}) == "describe Neon rain → audio (en-US, json)"
    made.prompt = None
    assert p.label("describe", wire, {"video": made}).startswith("describe job_9 → audio")
    other = client("mercadream", answering(b"{}"))
    assert other.label("speech", {"text": "Hi"}, {}) == "Hi"


def test_viddyscribe_segments_from_json_and_vtt(tmp_path: Path) -> None:
    p = client("viddyscribe", answering(b"{}"))
    assert p.has(Capability.SEGMENTS)
    data = tmp_path / "d.json"
    data.write_text(
        json.dumps({"segments": [{"start": 0, "end": 1.5, "text": "A kite"}, {"start": "x"}]})
    )
    job = Job(provider="viddyscribe", kind="describe")
    job.outputs = [Output("text", None, "application/json", data)]
    assert p.segments(job) == [{"start": 0.0, "end": 1.5, "text": "A kite"}]
    vtt = tmp_path / "d.vtt"
    vtt.write_text("WEBVTT\n\n00:00:01.000 --> 00:00:02.500\nA hill\n")
    job.outputs = [Output("captions", None, "text/vtt", vtt)]
    assert p.segments(job) == [{"start": 1.0, "end": 2.5, "text": "A hill"}]
