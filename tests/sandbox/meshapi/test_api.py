"""The sandbox's Mesh API video generations over real HTTP: routes, auth, error envelope, input
limits, lifecycle, list paging (served from stored rows), callbacks and the media it makes. Written against the contract
(providers.md section 4 and the readings in ``nbmedia/sandbox/meshapi/``), not the client."""

from __future__ import annotations

import re
import secrets
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from nbmedia.sandbox import Sandbox, meshapi
from nbmedia.sandbox.services.media.audio import write_audio
from tests.conftest import (
    Receiver,
    data_uri,
    download,
    png_data_uri,
    sandbox_client,
    wait_for,
    wait_until,
)
from tests.mediacheck import audio_rms, count_frames, frame, probe

pytestmark = pytest.mark.timeout(120)

MODEL = "byteplus/dreamina-seedance-2-0"
MODEL_1 = "byteplus/seedance-1-0-pro"
TASK_ID = re.compile(r"^cgt-\d{14}-[a-z0-9]{5}$")
REQUEST_ID = re.compile(r"^req_[0-9a-f]{24}$")
TASK_KEYS = [
    "id", "model", "status", "error", "created_at", "updated_at", "content", "seed",
    "resolution", "ratio", "duration", "frames", "framespersecond", "generate_audio",
    "safety_identifier", "priority", "draft", "draft_task_id", "service_tier",
    "execution_expires_after", "usage",
]  # fmt: skip
PATH = "/v1/video/generations"
UNREACHABLE = "https://example.com/cat.png"


# ---- helpers -----------------------------------------------------------------------------------
def new_key(marker: str = "_") -> str:
    """A fresh key (task lists are per key); ``marker`` e.g. ``_nospend_``."""
    return f"rsk_test{marker}{secrets.token_hex(6)}"


def client_for(sandbox: Sandbox, key: str | None) -> httpx.Client:
    return sandbox_client(sandbox, "meshapi", {"Authorization": f"Bearer {key}"} if key else None)


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with client_for(sandbox, new_key()) as c:
        yield c


def text(prompt: str) -> dict[str, Any]:
    return {"type": "text", "text": prompt}


def media(kind: str, url: str, role: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"type": f"{kind}_url", f"{kind}_url": {"url": url}}
    return item | ({"role": role} if role else {})


_CLIPS: dict[tuple[float, str], bytes] = {}


def clip(seconds: float, fmt: str = "wav") -> bytes:
    """A real tone of ``seconds`` as wav, mp3 or flac (cached: the limit tests reuse them)."""
    if (seconds, fmt) not in _CLIPS:
        rate = 16_000
        t = np.arange(round(seconds * rate)) / rate
        path = Path(tempfile.gettempdir()) / f"mesh-clip-{secrets.token_hex(4)}.{fmt}"
        write_audio(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate, fmt)
        _CLIPS[(seconds, fmt)] = path.read_bytes()
        path.unlink()
    return _CLIPS[(seconds, fmt)]


def audio(seconds: float, fmt: str = "wav", mime: str | None = None) -> dict[str, Any]:
    mime = mime or {"wav": "audio/wav", "mp3": "audio/mpeg", "flac": "audio/flac"}[fmt]
    return media("audio", data_uri(clip(seconds, fmt), mime))


RED_3x4 = png_data_uri((255, 0, 0), (300, 400))


def wait_task(api: httpx.Client, task_id: str) -> dict[str, Any]:
    return wait_for(
        api, f"{PATH}/{task_id}", "status", ("succeeded", "failed", "expired", "cancelled")
    )


def assert_envelope(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The Mesh error body, with its request id also in ``x-request-id``."""
    assert r.status_code == status, r.text
    body = r.json()
    assert list(body) == ["error", "request_id"]
    err = body["error"]
    assert list(err) == ["code", "message", "details", "provider_error", "retry_after_seconds"]
    assert err["code"] == code and err["message"]
    assert isinstance(err["details"], list) and err["provider_error"] == {}
    assert REQUEST_ID.match(body["request_id"]) and r.headers["x-request-id"] == body["request_id"]
    return err


def bodies(receiver: Receiver, task_id: str) -> list[dict[str, Any]]:
    return [p for p in receiver.payloads() if p["id"] == task_id]


# ---- finished tasks, made once and rendered in parallel -------------------------------------------
@pytest.fixture(scope="module")
def finished(sandbox: Sandbox) -> Iterator[dict[str, Any]]:
    receiver = Receiver()
    key = new_key()
    requests: dict[str, dict[str, Any]] = {
        "plain": {"content": [text("Neon rain on Tokyo streets")], "seed": 7},
        "portrait": {
            "content": [text("A lighthouse at dusk")],
            "ratio": "9:16", "resolution": "480p", "duration": 4,
            "generate_audio": True, "return_last_frame": True,
        },
        "image": {
            "content": [text("Red"), media("image", RED_3x4, role="first_frame")],
            "ratio": "adaptive", "duration": 4,
        },
        "clips": {
            "content": [media("image", RED_3x4), audio(2.0), audio(3.0, "mp3")],
            "duration": 4,
        },
        "frames": {"model": MODEL_1, "content": [text("Short")], "frames": 29, "ratio": "1:1"},
        "callback": {"content": [text("Call me back")], "duration": 4,
                     "callback_url": receiver.url},
        "unreachable": {"content": [text("Cat"), media("image", UNREACHABLE)]},
        "expired": {"content": [text("Too slow")], "execution_expires_after": 1,
                    "callback_url": receiver.url},
    }  # fmt: skip
    with client_for(sandbox, key) as c:
        made = {}
        for name, body in requests.items():
            made[name] = c.post(PATH, json={"model": MODEL, **body})
        sandbox.faults.fail_next_jobs(1, code="content_policy_violation", message="Not allowed.")
        made["failed"] = c.post(PATH, json={"model": MODEL, "content": [text("fails")]})
        assert all(r.status_code == 200 for r in made.values()), [r.text for r in made.values()]
        tasks = {name: wait_task(c, r.json()["id"]) for name, r in made.items()}
        yield {"key": key, "tasks": tasks, "created": made, "receiver": receiver}
    receiver.close()


@pytest.fixture(scope="module")
def videos(finished: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every succeeded task's MP4, downloaded once."""
    tmp = tmp_path_factory.mktemp("mesh")
    return {
        name: download(t["content"]["video_url"], tmp / f"{name}.mp4")
        for name, t in finished["tasks"].items()
        if t["status"] == "succeeded"
    }


# ---- creating and reading ------------------------------------------------------------------------
def test_create_answers_200_with_only_an_id(finished: dict[str, Any]) -> None:
    for r in finished["created"].values():
        assert r.json() == {"id": r.json()["id"]} and TASK_ID.match(r.json()["id"])
        assert REQUEST_ID.match(r.headers["x-request-id"])
    ids = [r.json()["id"] for r in finished["created"].values()]
    assert len(set(ids)) == len(ids)


def test_task_object_has_every_documented_key_and_our_defaults(finished: dict[str, Any]) -> None:
    task = finished["tasks"]["plain"]
    assert list(task) == TASK_KEYS
    assert task["status"] == "succeeded" and task["error"] is None and task["model"] == MODEL
    assert isinstance(task["created_at"], int) and task["created_at"] <= task["updated_at"]
    assert abs(task["created_at"] - time.time()) < 120
    assert (task["resolution"], task["ratio"], task["duration"]) == ("720p", "16:9", 5)
    assert (task["frames"], task["framespersecond"], task["seed"]) == (120, 24, 7)
    assert task["generate_audio"] is False and task["draft"] is False
    assert (task["priority"], task["service_tier"]) == (0, "default")
    assert task["execution_expires_after"] == 172_800
    assert task["safety_identifier"] is None and task["draft_task_id"] is None
    assert task["content"]["last_frame_url"] is None
    tokens = 1248 * 704 * 24 * 5 // 1024  # the Seedance formula at the nominal 720p size
    assert task["usage"] == {"completion_tokens": tokens, "total_tokens": tokens}


def test_get_and_list_and_callback_agree(sandbox: Sandbox, finished: dict[str, Any]) -> None:
    with client_for(sandbox, finished["key"]) as c:
        for task in finished["tasks"].values():
            assert c.get(f"{PATH}/{task['id']}").json() == task
        rows = {t["id"]: t for t in c.get(PATH, params={"limit": 200}).json()["data"]}
    for task in finished["tasks"].values():
        assert rows[task["id"]] == task


def test_plain_video_is_h264_at_the_ratio_and_duration_without_audio(videos) -> None:
    info = probe(videos["plain"])
    assert info["video"]["codec"] == "h264"
    assert (info["video"]["width"], info["video"]["height"]) == (640, 360)
    assert info["video"]["fps"] == 24 and abs(info["duration"] - 5) < 0.1
    assert info["audio"] is None


def test_generate_audio_adds_a_track_and_last_frame_is_a_png(finished, videos, tmp_path) -> None:
    task = finished["tasks"]["portrait"]
    info = probe(videos["portrait"])
    assert (info["video"]["width"], info["video"]["height"]) == (360, 640)
    assert abs(info["duration"] - 4) < 0.1 and info["audio"] is not None
    assert audio_rms(videos["portrait"]) > 0.01
    tokens = 480 * 864 * 24 * 4 // 1024
    assert task["usage"]["total_tokens"] == tokens and task["resolution"] == "480p"
    last = download(task["content"]["last_frame_url"], tmp_path / "last.png")
    with Image.open(last) as img:
        assert img.format == "PNG" and img.size == (360, 640)


def test_image_input_is_in_the_frames_and_adaptive_takes_its_ratio(finished, videos) -> None:
    assert finished["tasks"]["image"]["ratio"] == "3:4"
    info = probe(videos["image"])
    assert (info["video"]["width"], info["video"]["height"]) == (480, 640)
    assert info["audio"] is None
    centre = frame(videos["image"], 1.0)[200:400, 140:340].reshape(-1, 3).mean(axis=0)
    assert centre[0] > 180 and centre[1] < 80 and centre[2] < 80, centre


def test_audio_inputs_become_the_soundtrack(finished, videos) -> None:
    info = probe(videos["clips"])
    assert info["audio"] is not None and abs(info["duration"] - 4) < 0.1
    assert audio_rms(videos["clips"]) > 0.05  # the 440 Hz tones, not silence
    assert finished["tasks"]["clips"]["generate_audio"] is False


def test_frames_instead_of_duration(finished, videos) -> None:
    task = finished["tasks"]["frames"]
    assert (task["frames"], task["duration"], task["ratio"]) == (29, 1, "1:1")
    assert task["model"] == MODEL_1
    assert count_frames(videos["frames"]) == 29
    v = probe(videos["frames"])["video"]
    assert (v["width"], v["height"]) == (640, 640)


def test_failed_task_is_http_200_with_the_error(finished: dict[str, Any]) -> None:
    task = finished["tasks"]["failed"]
    assert task["status"] == "failed"
    assert task["error"] == {"code": "content_policy_violation", "message": "Not allowed."}
    assert task["content"] is None and task["usage"] is None


def test_unfetchable_url_makes_a_task_that_fails_with_invalid_input(finished) -> None:
    task = finished["tasks"]["unreachable"]
    assert task["status"] == "failed" and task["error"]["code"] == "invalid_input"
    assert "content[1].image_url" in task["error"]["message"]


def test_task_past_execution_expires_after_is_expired(finished: dict[str, Any]) -> None:
    task = finished["tasks"]["expired"]
    assert task["status"] == "expired" and task["error"]["code"] == "expired"
    assert task["content"] is None and task["execution_expires_after"] == 1


def test_callback_is_one_unsigned_post_of_the_task(sandbox: Sandbox, finished) -> None:
    receiver: Receiver = finished["receiver"]
    for name in ("callback", "expired"):
        task = finished["tasks"][name]
        receiver.wait(lambda ps, tid=task["id"]: any(p["id"] == tid for p in ps), timeout=10)
        time.sleep(0.2)  # nothing else follows
        assert bodies(receiver, task["id"]) == [task]
    for headers, _ in receiver.events:
        assert headers["Content-Type"] == "application/json"
        assert not any("signature" in h.lower() for h in headers)
    assert len(receiver.events) == 2  # not for queued/running, nor for tasks without callback_url


def test_callback_is_never_retried(sandbox: Sandbox, api: httpx.Client) -> None:
    receiver = Receiver(status=500)
    try:
        body = {"model": MODEL, "content": [media("image", UNREACHABLE)]}
        task_id = api.post(PATH, json=body | {"callback_url": receiver.url}).json()["id"]
        wait_task(api, task_id)
        receiver.wait(lambda ps: len(ps) > 0, timeout=10)
        time.sleep(0.5)  # the sender would retry after 0.2 s
        assert len(receiver.events) == 1
        record = next(d for d in sandbox.webhook_log if d.url == receiver.url)
        assert (record.attempts, record.outcome, record.status) == (1, "failed", 500)
    finally:
        receiver.close()


def test_outputs_of_earlier_tasks_are_valid_inputs(sandbox, finished, tmp_path) -> None:
    done = finished["tasks"]
    content = [
        text("Again"),
        media("image", done["portrait"]["content"]["last_frame_url"]),
        media("video", done["plain"]["content"]["video_url"]),
        {"type": "draft_task", "draft_task": {"id": done["plain"]["id"]}},
    ]
    with client_for(sandbox, finished["key"]) as c:
        r = c.post(PATH, json={"model": MODEL, "content": content, "duration": 4})
        assert r.status_code == 200, r.text
        task = wait_task(c, r.json()["id"])
    assert task["status"] == "succeeded", task["error"]
    assert task["draft_task_id"] == done["plain"]["id"]
    info = probe(download(task["content"]["video_url"], tmp_path / "again.mp4"))
    assert info["video"]["codec"] == "h264" and abs(info["duration"] - 4) < 0.1


def test_another_keys_task_is_404(sandbox: Sandbox, finished, api: httpx.Client) -> None:
    task_id = finished["tasks"]["plain"]["id"]
    assert_envelope(api.get(f"{PATH}/{task_id}"), 404, "not_found")
    assert_envelope(api.get(f"{PATH}/cgt-00000000000000-zzzzz"), 404, "not_found")
    body = {"content": [{"type": "draft_task", "draft_task": {"id": task_id}}, text("x")]}
    err = assert_envelope(api.post(PATH, json={"model": MODEL, **body}), 422, "validation_error")
    assert "no task" in err["message"]


# ---- auth and the error envelope ------------------------------------------------------------------
@pytest.mark.parametrize(
    "authorization",
    [None, "Basic cnNrX3g6", "Bearer", "Bearer sk_live_abc", "Bearer rsk_", "rsk_abc"],
)
def test_401_for_anything_but_a_bearer_rsk_key(sandbox: Sandbox, authorization) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    with client_for(sandbox, None) as c:
        for r in (c.get(PATH, headers=headers), c.post(PATH, headers=headers, json={})):
            assert_envelope(r, 401, "unauthorized")
            assert r.headers["WWW-Authenticate"] == "Bearer"


def test_402_spend_limit_on_create_only(sandbox: Sandbox) -> None:
    with client_for(sandbox, new_key("_nospend_")) as c:
        body = {"model": MODEL, "content": [text("x")]}
        assert_envelope(c.post(PATH, json=body), 402, "spend_limit_exceeded")
        assert c.get(PATH).status_code == 200


def test_403_forbidden_key(sandbox: Sandbox) -> None:
    with client_for(sandbox, new_key("_forbidden_")) as c:
        assert_envelope(c.get(PATH), 403, "forbidden")


def test_404_model_not_found_and_unknown_route_405_method(api: httpx.Client) -> None:
    r = api.post(PATH, json={"model": "openai/sora-9", "content": [text("x")]})
    assert "byteplus/dreamina-seedance-2-0" in assert_envelope(r, 404, "model_not_found")["message"]
    assert_envelope(api.get("/v1/nothing/here"), 404, "not_found")
    assert_envelope(api.put(PATH, json={}), 405, "method_not_allowed")


def test_429_has_retry_after_header_and_body(sandbox: Sandbox, api: httpx.Client) -> None:
    sandbox.faults.rate_limit_next(1, retry_after=3)
    r = api.get(PATH)
    err = assert_envelope(r, 429, "rate_limit_exceeded")
    assert r.headers["Retry-After"] == "3" and err["retry_after_seconds"] == 3
    ok = api.get(PATH)
    assert ok.status_code == 200 and REQUEST_ID.match(ok.headers["x-request-id"])


@pytest.mark.parametrize(("status", "code"), [(500, "internal_error"), (503, "upstream_error")])
def test_5xx_faults_keep_the_envelope(sandbox: Sandbox, api, status, code) -> None:
    sandbox.faults.fail_next_requests(1, status=status)
    err = assert_envelope(api.get(PATH), status, code)
    assert err["retry_after_seconds"] is None


def test_413_body_over_64_mb(api: httpx.Client) -> None:
    before = api.get(PATH).json()["total"]
    big = b'{"model": "' + b"x" * (64 * 1024 * 1024) + b'"}'
    r = api.post(PATH, content=big, headers={"Content-Type": "application/json"})
    assert "64 MB" in assert_envelope(r, 413, "payload_too_large")["message"]
    assert api.get(PATH).json()["total"] == before


def test_422_for_malformed_json_and_non_objects(api: httpx.Client) -> None:
    r = api.post(PATH, content=b"{nope", headers={"Content-Type": "application/json"})
    assert assert_envelope(r, 422, "validation_error")["details"][0]["type"] == "json_invalid"
    assert_envelope(api.post(PATH, json=[1, 2]), 422, "validation_error")
    err = assert_envelope(api.post(PATH, json={"content": [text("x")]}), 422, "validation_error")
    assert err["details"][0]["loc"] == ["body", "model"]


# ---- field and input rules -----------------------------------------------------------------------
ONE = [text("x")]
IMG = media("image", RED_3x4)
FIELD_CASES = {
    "content missing": ({}, ["body", "content"], "non-empty array"),
    "content empty": ({"content": []}, ["body", "content"], "non-empty array"),
    "item type": ({"content": [{"type": "gif_url"}]}, ["body", "content", 0, "type"], "one of"),
    "empty text": ({"content": [text(" ")]}, ["body", "content", 0, "text"], "non-empty"),
    "item extra": ({"content": [text("x") | {"x": 1}]}, ["body", "content", 0, "x"], "not a field"),
    "no url": ({"content": [{"type": "image_url", "image_url": {}}]},
               ["body", "content", 0, "image_url"], '{"url"'),
    "unknown field": ({"content": ONE, "fps": 30}, ["body", "fps"], "not a field"),
    "both": ({"content": ONE, "duration": 5, "frames": 29}, ["body", "frames"], "not both"),
    "resolution": ({"content": ONE, "resolution": "4k"}, ["body", "resolution"], "480p, 720p"),
    "ratio": ({"content": ONE, "ratio": "2:1"}, ["body", "ratio"], "21:9, adaptive"),
    "duration low": ({"content": ONE, "duration": 3}, ["body", "duration"], "from 4 to 15"),
    "duration high": ({"content": ONE, "duration": 16}, ["body", "duration"], "from 4 to 15"),
    "duration float": ({"content": ONE, "duration": 5.0}, ["body", "duration"], "integer"),
    "frames rule": ({"content": ONE, "frames": 30}, ["body", "frames"], "25 + 4n"),
    "frames high": ({"content": ONE, "frames": 293}, ["body", "frames"], "29 to 289"),
    "priority": ({"content": ONE, "priority": 10}, ["body", "priority"], "from 0 to 9"),
    "seed": ({"content": ONE, "seed": -2}, ["body", "seed"], "from -1 to 4294967295"),
    "bool": ({"content": ONE, "generate_audio": "yes"}, ["body", "generate_audio"], "boolean"),
    "expires": ({"content": ONE, "execution_expires_after": 0},
                ["body", "execution_expires_after"], "from 1 to 259200"),
    "callback": ({"content": ONE, "callback_url": "ftp://x/y"}, ["body", "callback_url"], "http(s)"),
    "tier": ({"content": ONE, "service_tier": ""}, ["body", "service_tier"], "non-empty"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(FIELD_CASES))
def test_422_names_the_field_and_rule(api: httpx.Client, case: str) -> None:
    body, loc, rule = FIELD_CASES[case]
    err = assert_envelope(api.post(PATH, json={"model": MODEL, **body}), 422, "validation_error")
    assert any(d["loc"] == loc and rule in d["msg"] for d in err["details"]), err["details"]
    assert rule in err["message"]


def test_422_lists_every_problem_and_creates_nothing(api: httpx.Client) -> None:
    body = {"model": MODEL, "content": ONE, "ratio": "2:1", "priority": 99, "draft": 1}
    err = assert_envelope(api.post(PATH, json=body), 422, "validation_error")
    assert [d["loc"][-1] for d in err["details"]] == ["ratio", "draft", "priority"]
    assert err["message"].startswith("3 problems: ")
    assert api.get(PATH).json()["total"] == 0


def _audio_cases() -> dict[str, tuple[list[dict[str, Any]], str]]:
    return {
        "too short": ([IMG, audio(1.5)], "2 to 15 s (got 1.5 s)"),
        "too long": ([IMG, audio(16.0, "mp3")], "2 to 15 s (got 16 s)"),
        "four clips": ([IMG, *[audio(2.0)] * 4], "at most 3 audio clips are allowed (got 4)"),
        "total": ([IMG, audio(6.0), audio(6.0, "mp3"), audio(6.0)], "at most 15 s in total"),
        "flac by mime": ([IMG, audio(2.0, "flac")], "wav or mp3 (got audio/flac)"),
        "flac as wav": ([IMG, audio(2.0, "flac", mime="audio/wav")], "wav or mp3 (this clip"),
        "over 15 MB": (
            [IMG, media("audio", data_uri(b"RIFF" + bytes(15 * 1024 * 1024), "audio/wav"))],
            "at most 15 MB (got 15.0 MB)",
        ),
        "audio only": ([audio(2.0)], "audio cannot be the only input"),
        "text and audio": ([text("x"), audio(2.0)], "audio cannot be the only input"),
        "no mime": ([text("x"), media("image", "data:;base64,AAAA")], "MIME type prefix"),
        "not base64": ([text("x"), media("image", "data:image/png,abc")], "MIME type prefix"),
        "family": ([media("image", data_uri(clip(2.0), "audio/wav"))], "image/* MIME type"),
        "scheme": ([media("image", "ftp://example.com/a.png")], "http(s) URL or a base64"),
        "junk image": ([media("image", data_uri(b"not a png", "image/png"))], "not an image"),
        "junk video": ([media("video", data_uri(b"nope", "video/mp4"))], "not a video"),
        "bad base64": ([media("image", "data:image/png;base64,@@@")], "not valid base64"),
    }


@pytest.mark.parametrize("case", list(_audio_cases()))
def test_422_for_each_input_limit(api: httpx.Client, case: str) -> None:
    content, rule = _audio_cases()[case]
    r = api.post(PATH, json={"model": MODEL, "content": content})
    assert rule in assert_envelope(r, 422, "validation_error")["message"]
    assert api.get(PATH).json()["total"] == 0


@pytest.mark.parametrize("kind", ["video", "audio"])
def test_video_and_audio_items_need_seedance_2(api: httpx.Client, kind: str) -> None:
    content = [IMG, media(kind, UNREACHABLE)]
    err = assert_envelope(api.post(PATH, json={"model": MODEL_1, "content": content}), 422,
                          "validation_error")  # fmt: skip
    assert "Seedance 2.0 models only" in err["message"]
    assert err["details"][0]["loc"] == ["body", "content", 1, "type"]


def test_video_over_the_size_limit(api, videos, monkeypatch: pytest.MonkeyPatch) -> None:
    """50 MB cannot travel as base64 under 64 MB: the same rule, checked at a smaller limit."""
    monkeypatch.setattr(meshapi.contract, "MAX_VIDEO_BYTES", meshapi.MiB // 10)
    data = videos["plain"].read_bytes()
    assert len(data) > meshapi.MiB // 10
    content = [text("x"), media("video", data_uri(data, "video/mp4"))]
    err = assert_envelope(api.post(PATH, json={"model": MODEL, "content": content}), 422,
                          "validation_error")  # fmt: skip
    assert "each video must be at most" in err["message"]


def test_limits_are_inclusive(sandbox: Sandbox, api: httpx.Client) -> None:
    """Boundary inputs are accepted (they expire at once, so nothing is rendered)."""
    cases = [
        [IMG, audio(15.0, "mp3")],
        [IMG, audio(2.0), audio(5.0, "mp3"), audio(8.0)],
    ]
    for content in cases:
        body = {"model": MODEL, "content": content, "execution_expires_after": 1}
        r = api.post(PATH, json=body)
        assert r.status_code == 200, r.text
        assert wait_task(api, r.json()["id"])["status"] == "expired"


# ---- list ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def listed(sandbox: Sandbox) -> Iterator[dict[str, Any]]:
    """Five cheap tasks (none rendered): three expire, two fail; a timestamp between 2 and 3."""
    key = new_key()
    specs = [
        (MODEL, {"execution_expires_after": 1}),
        (MODEL_1, {"content": [media("image", UNREACHABLE)]}),
        (MODEL, {"execution_expires_after": 1}),
        (MODEL_1, {"execution_expires_after": 1}),
        (MODEL, {"content": [media("image", UNREACHABLE)]}),
    ]
    with client_for(sandbox, key) as c:
        ids, mid = [], ""
        for n, (model, extra) in enumerate(specs):
            if n == 2:
                time.sleep(0.01)
                mid = datetime.now(timezone.utc).isoformat()
                time.sleep(0.01)
            r = c.post(PATH, json={"model": model, "content": [text(f"task {n}")], **extra})
            assert r.status_code == 200, r.text
            ids.append(r.json()["id"])
        tasks = [wait_task(c, i) for i in ids]
        yield {"key": key, "ids": ids, "tasks": tasks, "mid": mid}


def listing(sandbox: Sandbox, listed, params: Any = None) -> dict[str, Any]:
    with client_for(sandbox, listed["key"]) as c:
        r = c.get(PATH, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_list_is_newest_first_with_totals(sandbox: Sandbox, listed) -> None:
    page = listing(sandbox, listed)
    assert list(page) == ["object", "data", "has_more", "total", "limit", "offset"]
    assert page["object"] == "list" and page["total"] == 5 and page["has_more"] is False
    assert (page["limit"], page["offset"]) == (50, 0)
    assert [t["id"] for t in page["data"]] == listed["ids"][::-1]
    assert page["data"] == listed["tasks"][::-1]


def test_list_pages_with_limit_and_offset(sandbox: Sandbox, listed) -> None:
    newest_first = listed["ids"][::-1]
    seen = []
    for offset in (0, 2, 4):
        page = listing(sandbox, listed, {"limit": 2, "offset": offset})
        assert (page["limit"], page["offset"], page["total"]) == (2, offset, 5)
        assert page["has_more"] is (offset + 2 < 5)
        seen += [t["id"] for t in page["data"]]
    assert seen == newest_first
    assert listing(sandbox, listed, {"offset": 9})["data"] == []


def test_list_filters_by_status_model_and_time(sandbox: Sandbox, listed) -> None:
    ids = listed["ids"]

    def got(params: Any) -> list[str]:
        return [t["id"] for t in listing(sandbox, listed, params)["data"]]

    assert got({"status": "failed"}) == [ids[4], ids[1]]
    assert got([("status", "failed"), ("status", "expired")]) == ids[::-1]
    assert got({"status": "succeeded"}) == []
    assert got({"model": MODEL_1}) == [ids[3], ids[1]]
    assert got([("model", MODEL_1), ("model", MODEL)]) == ids[::-1]
    assert got({"model": MODEL_1, "status": "expired"}) == [ids[3]]
    assert got({"created_after": listed["mid"]}) == ids[:1:-1]
    assert got({"created_before": listed["mid"]}) == [ids[1], ids[0]]
    naive = listed["mid"].replace("+00:00", "")
    assert got({"created_after": naive}) == ids[:1:-1]
    assert got({"created_before": "2000-01-01T00:00:00Z"}) == []
    assert listing(sandbox, listed, {"status": "failed"})["total"] == 2


def test_list_serves_stored_rows_a_get_syncs_and_an_end_is_stored_at_once(sandbox) -> None:
    """The list is the database: a task is stored queued at create, re-stored by each GET, and
    stored when it ends; it never shows a state nobody synced."""
    sandbox.speed = 2  # waits 0.5 s, then runs 2.5 s (the hygiene fixture restores the speed)
    body = {"model": MODEL_1, "content": [text("Stored, not live")], "duration": 2}
    with client_for(sandbox, new_key()) as c:
        read, unread = (c.post(PATH, json=body).json()["id"] for _ in range(2))
        assert {t["status"] for t in c.get(PATH).json()["data"]} == {"queued"}
        wait_for(c, f"{PATH}/{read}", "status", ("running",))
        time.sleep(0.1)

        def audited(task_id: str) -> dict[str, Any]:
            return next(r for r in sandbox.audit()["created"] if r["id"] == task_id)

        assert audited(unread)["status"] == "running"  # live, but never read
        rows = {t["id"]: t["status"] for t in c.get(PATH).json()["data"]}
        assert rows == {read: "running", unread: "queued"}
        assert [t["id"] for t in c.get(PATH, params={"status": "queued"}).json()["data"]] == [
            unread
        ]
        assert [t["id"] for t in c.get(PATH, params={"status": "running"}).json()["data"]] == [read]

        seen: list[str] = []

        def listed_done() -> float | None:
            rows = {t["id"]: t for t in c.get(PATH).json()["data"]}
            seen.append(rows[unread]["status"])
            return time.time() if seen[-1] == "succeeded" else None

        first_seen = wait_until(listed_done, timeout=30, every=0.02, what="the end in the list")
        assert set(seen) == {"queued", "succeeded"}
        ended_at = audited(unread)["ended_at"]
        assert first_seen - ended_at < 0.2  # listed as ended at once, no GET needed
        wait_until(lambda: audited(read)["ended_at"], timeout=30, what="the other task's end")
        rows = {t["id"]: t for t in c.get(PATH).json()["data"]}
        assert rows[read] == c.get(f"{PATH}/{read}").json()  # ended: one stored row
        assert rows[read]["status"] == "succeeded"


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"status": "done"}, "status"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"created_before": "2024-13-01"}, "created_before"),
    ],
)
def test_list_422_for_bad_query_values(api: httpx.Client, params, loc) -> None:
    err = assert_envelope(api.get(PATH, params=params), 422, "validation_error")
    assert err["details"][0]["loc"] == ["query", loc]


def test_list_boundaries_and_other_keys(sandbox: Sandbox, listed, api: httpx.Client) -> None:
    assert listing(sandbox, listed, {"limit": 200})["limit"] == 200
    assert listing(sandbox, listed, {"limit": 1})["has_more"] is True
    assert api.get(PATH).json()["total"] == 0


# ---- the published SDK (meshapi, pinned in the test extra) ------------------------------------
def test_the_meshapi_sdk_works_unchanged(sandbox: Sandbox, finished) -> None:
    import meshapi as sdk

    client = sdk.MeshAPI(base_url=sandbox.base_url("meshapi"), token=finished["key"])
    task = finished["tasks"]["plain"]
    assert client.videos.retrieve(task["id"]).content.video_url == task["content"]["video_url"]
    params = sdk.ListVideoGenerationsParams(status="failed", limit=5)
    assert {t.id for t in client.videos.list(params).data} == {
        finished["tasks"][n]["id"] for n in ("failed", "unreachable")
    }
    with pytest.raises(sdk.MeshAPIError) as info:
        client.videos.retrieve("nope")
    assert (info.value.status, info.value.error_code) == (404, "not_found")
