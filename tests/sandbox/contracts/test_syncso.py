"""sync.so's contract, walked on both sides: the tables and readings of providers.md section 5
(plus the SDK 0.3.0 types and the sync.so docs for assets and batches) checked on the sandbox
over HTTP, and the same values through the client's request model. The tables below are written
here from those documents; nothing is imported from the sandbox or the client to say what is
right. The documented examples in ``examples/syncso_*`` run with only the base URL and key
changed (each file names its source)."""

from __future__ import annotations

import json
import secrets
import shlex
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import nbmedia as nm
from nbmedia.sandbox import Sandbox
from tests.conftest import data_uri, provider_client, sandbox_client, wait_for

pytestmark = pytest.mark.timeout(180)

EXAMPLES = Path(__file__).parent / "examples"

# ---- the contract, from providers.md section 5 and its readings (and the docs they cite) --------
MODELS = ["lipsync-2", "lipsync-1.9.0-beta", "lipsync-2-pro", "react-1", "sync-3"]
SYNC_MODES = ["bounce", "loop", "cut_off", "silence", "remap"]
MODEL_MODES = ["lips", "face", "head"]  # react-1 only
EMOTIONS = ["happy", "sad", "angry", "disgusted", "surprised", "neutral"]  # react-1 only
TEMPERATURE = (0.0, 1.0)
OUTPUT_FILE_NAME_MAX = 255
SCRIPT_MAX = 5000
GENERATION_STATUSES = ["PENDING", "PROCESSING", "COMPLETED", "FAILED", "REJECTED", "CANCELED"]
TERMINAL = ("COMPLETED", "FAILED", "REJECTED")
GENERATION_FIELDS = [
    "id", "createdAt", "status", "model", "input", "options", "segments", "outputUrl",
    "outputDuration", "segmentOutputUrl", "webhookUrl", "error", "error_code",
]  # fmt: skip
NEST_FIELDS = {"statusCode", "message", "error"}
BATCH_STATUSES = ["PENDING", "JOBS_CREATED", "PROCESSING", "COMPLETED", "FAILED"]
BATCH_LINES = (20, 500)
BATCH_PLANS = {"hobbyist": False, "creator": False, "growth": False, "scale": True, "enterprise": True}  # fmt: skip
ASSET_TYPES = ["AUDIO", "VIDEO", "IMAGE"]
ASSET_SORTS = [
    "nameAsc", "nameDesc", "dateAsc", "dateDesc", "durationAsc", "durationDesc", "sizeAsc",
    "sizeDesc", "kindAsc", "kindDesc",
]  # fmt: skip
ASSET_LIMIT = (1, 100)
ASSET_FIELDS = {
    "id", "createdAt", "updatedAt", "name", "url", "size", "format", "type", "inputType",
    "durationSeconds", "thumbnailUrl", "visibility", "width", "height",
}  # fmt: skip
BATCH_FIELDS = {"id", "created_at", "status", "metrics", "webhookUrl", "outputUrl"}
BATCH_METRICS = {"total_generations", "success_count", "failed_count", "pending_count"}
MODEL_INFO_FIELDS = {"id", "name", "type", "version"}
IDEMPOTENCY_KEY_MAX = 128
DIRECT_UPLOAD_MAX = 20 * 1024 * 1024
PLAN_MARKERS = {"hobbyist": "_hobbyist_", "creator": "_creator_", "growth": "_growth_", "scale": "_", "enterprise": "_enterprise_"}  # fmt: skip
"""How the sandbox picks a key's plan (its documented reading)."""


# ---- helpers -----------------------------------------------------------------------------------
def key(plan: str = "scale") -> str:
    return f"sk_contract{PLAN_MARKERS[plan]}{secrets.token_hex(5)}"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A 1 s video with sound and a 1 s tone, as data: URIs (the sandbox decodes them offline)."""
    from nbmedia.sandbox.services.media.audio import write_audio
    from nbmedia.sandbox.services.media.video import render_video

    folder = tmp_path_factory.mktemp("syncso-contract")
    video = render_video(folder / "v.mp4", text="Hi", duration=1, fps=25, width=160, height=120)
    import numpy as np

    rate = 16000
    t = np.arange(rate) / rate
    audio = write_audio(folder / "a.wav", 0.4 * np.sin(2 * np.pi * 300 * t), rate, "wav")
    return {"video": data_uri(video, "video/mp4"), "audio": data_uri(audio, "audio/wav")}


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with sandbox_client(sandbox, "syncso", {"x-api-key": key()}) as c:
        yield c
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # no render outlives its test
            if all(g["status"] in TERMINAL for g in c.get("/v2/generations").json()):
                break
            time.sleep(0.05)


@pytest.fixture
def client(sandbox: Sandbox):
    """The client's provider (its request model is checked; it sends nothing here)."""
    return provider_client(sandbox, "syncso")


def body(clip: dict[str, str], **extra: Any) -> dict[str, Any]:
    items = [{"type": "video", "url": clip["video"]}, {"type": "audio", "url": clip["audio"]}]
    return {"model": "lipsync-2", "input": items} | extra


def nest(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    got = r.json()
    assert set(got) >= NEST_FIELDS and got["statusCode"] == status, got
    assert isinstance(got["message"], (str, list)) and isinstance(got["error"], str)
    assert "retry-after" not in r.headers  # none documented
    return got


def client_takes(client, **fields: Any) -> bool:
    base = {"video": "https://example.com/v.mp4", "audio": "https://example.com/a.wav"}
    try:
        client.make_request("lipsync", base | fields)
    except nm.ValidationError:
        return False
    return True


def client_refusal(client, field: str, **fields: Any) -> nm.ValidationError:
    base = {"video": "https://example.com/v.mp4", "audio": "https://example.com/a.wav"}
    with pytest.raises(nm.ValidationError) as info:
        client.make_request("lipsync", base | fields)
    assert info.value.field.startswith(field), str(info.value)
    return info.value


def jsonl(line: dict[str, Any], n: int) -> bytes:
    return b"".join(
        json.dumps({"request_id": f"r{i}", "endpoint": "/v2/generate", "payload": line}).encode()
        + b"\n"
        for i in range(n)
    )


def run_curl(name: str, base_url: str, api_key: str) -> httpx.Response:
    """Sends what a documented curl command sends (-X, -H, -d), after replacing only the base
    URL and the key placeholder."""
    text = (EXAMPLES / name).read_text()
    text = "\n".join(ln for ln in text.splitlines() if not ln.startswith("#"))
    assert "https://api.sync.so" in text
    text = text.replace("https://api.sync.so", base_url)
    text = text.replace("$SYNC_API_KEY", api_key).replace("<apiKey>", api_key)
    args = shlex.split(text.replace("\\\n", " "))
    assert args[0] == "curl"
    method, headers, data, url = "GET", {}, None, None
    it = iter(args[1:])
    for arg in it:
        if arg == "-X":
            method = next(it)
        elif arg == "-H":
            name_, _, value = next(it).partition(":")
            headers[name_.strip()] = value.strip()
        elif arg == "-d":
            data, method = next(it), "POST" if method == "GET" else method
        else:
            url = arg
    assert url is not None
    return httpx.request(method, url, headers=headers, content=data, trust_env=False, timeout=30)


# ---- routes and auth ---------------------------------------------------------------------------
def test_every_documented_route_answers_with_its_status(api, clip) -> None:
    made = api.post("/v2/generate", json=body(clip))
    assert made.status_code == 201
    gen = made.json()
    assert set(GENERATION_FIELDS) <= set(gen) and gen["status"] in GENERATION_STATUSES
    assert api.get(f"/v2/generate/{gen['id']}").status_code == 200
    for path in ("/v2/generations", "/v2/generate"):  # newer and older list routes
        assert [g["id"] for g in api.get(path).json()] == [gen["id"]]
    for path in ("/v2/analyze/cost", "/v2/generate/estimate-cost"):
        cost = api.post(path, json=body(clip))
        assert cost.status_code == 201
        assert set(cost.json()[0]) == {"estimatedFrameCount", "estimatedGenerationCost"}
    models = api.get("/v2/models")
    assert models.status_code == 200 and [m["name"] for m in models.json()] == MODELS
    assert all(set(m) >= MODEL_INFO_FIELDS for m in models.json())
    assets = api.get("/v2/assets")
    assert assets.status_code == 200 and set(assets.json()) == {"items", "nextCursor", "totalCount"}
    assert api.get("/v2/batch").status_code == 200
    nest(api.get("/v2/generate/no-such-id"), 404)
    nest(api.get("/v2/assets/no-such-id"), 404)
    nest(api.get("/v2/batch/no-such-id"), 404)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v2/generate"), ("GET", "/v2/generate/x"), ("GET", "/v2/generations"),
        ("POST", "/v2/analyze/cost"), ("GET", "/v2/models"), ("GET", "/v2/assets"),
        ("GET", "/v2/assets/x"), ("POST", "/v2/assets"), ("POST", "/v2/assets/upload"),
        ("DELETE", "/v2/assets/x"), ("POST", "/v2/batch"), ("GET", "/v2/batch"),
        ("GET", "/v2/batch/x"),
    ],
)  # fmt: skip
def test_every_route_wants_the_x_api_key_header(sandbox: Sandbox, method, path) -> None:
    with sandbox_client(sandbox, "syncso", {"Authorization": f"Bearer {key()}"}) as c:
        nest(c.request(method, path), 401)


# ---- request fields: every enum value in, one value out, both sides ----------------------------
@pytest.mark.parametrize("model", MODELS)
def test_each_model_is_taken(api, client, clip, model) -> None:
    assert api.post("/v2/generate", json=body(clip, model=model)).status_code == 201
    assert client_takes(client, model=model)


def test_an_unknown_model_is_refused_by_both(api, client, clip) -> None:
    assert "model" in " ".join(nest(api.post("/v2/generate", json=body(clip, model="lipsync-3")), 400)["message"])  # fmt: skip
    client_refusal(client, "model", model="lipsync-3")


@pytest.mark.parametrize("mode", SYNC_MODES)
def test_each_sync_mode_is_taken(api, client, clip, mode) -> None:
    estimate = api.post("/v2/analyze/cost", json=body(clip, options={"sync_mode": mode}))
    assert estimate.status_code == 201, estimate.text
    assert client_takes(client, sync_mode=mode)


@pytest.mark.parametrize(
    ("options", "field", "takes"),
    [
        ({"sync_mode": "stretch"}, "sync_mode", False),
        ({"temperature": TEMPERATURE[0]}, "temperature", True),
        ({"temperature": TEMPERATURE[1]}, "temperature", True),
        ({"temperature": TEMPERATURE[0] - 0.01}, "temperature", False),
        ({"temperature": TEMPERATURE[1] + 0.01}, "temperature", False),
        ({"active_speaker_detection": {"frame_number": 0, "coordinates": [10, 20]}}, "active_speaker_detection", True),
        ({"active_speaker_detection": {"frame_number": 0, "coordinates": [10.5, 20]}}, "active_speaker_detection", False),
        ({"occlusion_detection_enabled": True}, "occlusion_detection_enabled", True),
        ({"model_mode": "head"}, "model_mode", False),  # react-1 only
        ({"prompt": "happy"}, "prompt", False),  # react-1 only
    ],
)  # fmt: skip
def test_options_limits_just_inside_and_outside(api, client, clip, options, field, takes) -> None:
    r = api.post("/v2/analyze/cost", json=body(clip, options=options))
    assert r.status_code == (201 if takes else 400), r.text
    if takes:
        assert client_takes(client, **options)
    else:
        assert field in " ".join(r.json()["message"])
        client_refusal(client, field, **options)


@pytest.mark.parametrize(("name", "value"), [("model_mode", v) for v in MODEL_MODES] + [("prompt", v) for v in EMOTIONS])  # fmt: skip
def test_react_1_takes_each_mode_and_emotion(api, client, clip, name, value) -> None:
    r = api.post("/v2/analyze/cost", json=body(clip, model="react-1", options={name: value}))
    assert r.status_code == 201, r.text
    assert client_takes(client, model="react-1", **{name: value})


@pytest.mark.parametrize(
    ("name", "takes"),
    [("a" * OUTPUT_FILE_NAME_MAX, True), ("a" * (OUTPUT_FILE_NAME_MAX + 1), False), ("clip_01-b", True), ("clip.mp4", False), ("my clip", False)],
)  # fmt: skip
def test_output_file_name_rule(api, client, clip, name, takes) -> None:
    r = api.post("/v2/generate", json=body(clip, outputFileName=name))
    assert r.status_code == (201 if takes else 400), r.text
    if takes:
        assert client_takes(client, output_file_name=name)
    else:
        client_refusal(client, "output_file_name", output_file_name=name)


def test_script_length_limit_both_sides(api, client, clip) -> None:
    def tts(script: str) -> dict[str, Any]:
        provider = {"name": "elevenlabs", "voiceId": "v", "script": script}
        return {"model": "lipsync-2", "input": [{"type": "video", "url": clip["video"]}, {"type": "text", "provider": provider}]}  # fmt: skip

    inside = api.post("/v2/generate", json=tts("a" * SCRIPT_MAX)).json()
    outside = api.post("/v2/generate", json=tts("a" * (SCRIPT_MAX + 1))).json()
    outside = wait_for(api, f"/v2/generate/{outside['id']}", "status", TERMINAL)
    assert (outside["status"], outside["error_code"]) == ("FAILED", "generation_text_length_exceeded")  # fmt: skip
    assert wait_for(api, f"/v2/generate/{inside['id']}", "status", TERMINAL)["error_code"] != "generation_text_length_exceeded"  # fmt: skip
    base = {"video": "https://example.com/v.mp4", "voice_id": "v"}
    client.make_request("lipsync", base | {"text": "a" * SCRIPT_MAX})
    with pytest.raises(nm.ValidationError) as info:
        client.make_request("lipsync", base | {"text": "a" * (SCRIPT_MAX + 1)})
    assert info.value.field == "text"


def test_input_names_a_url_or_an_asset_id(api, client, clip) -> None:
    asset = api.post("/v2/assets", json={"url": clip["video"], "type": "VIDEO"}).json()
    by_id = {"model": "lipsync-2", "input": [{"type": "video", "assetId": asset["id"]}, {"type": "audio", "url": clip["audio"]}]}  # fmt: skip
    assert api.post("/v2/generate", json=by_id).status_code == 201
    both = {"model": "lipsync-2", "input": [{"type": "video", "url": clip["video"], "assetId": asset["id"]}, {"type": "audio", "url": clip["audio"]}]}  # fmt: skip
    nest(api.post("/v2/generate", json=both), 400)
    unknown = {"model": "lipsync-2", "input": [{"type": "video", "assetId": "nope"}, {"type": "audio", "url": clip["audio"]}]}  # fmt: skip
    assert nest(api.post("/v2/generate", json=unknown), 404)["errorCode"] == "asset_not_found"
    request = client.make_request("lipsync", {"video_asset_id": asset["id"], "audio": "https://example.com/a.wav"})  # fmt: skip
    assert client.wire(request)["input"][0] == {"type": "video", "assetId": asset["id"]}
    client_refusal(client, "video", video="https://example.com/v.mp4", video_asset_id=asset["id"])


def test_idempotency_key_length(api, clip) -> None:
    ok = api.post("/v2/generate", json=body(clip), headers={"Idempotency-Key": "k" * IDEMPOTENCY_KEY_MAX})  # fmt: skip
    assert ok.status_code == 201
    nest(api.post("/v2/generate", json=body(clip), headers={"Idempotency-Key": "k" * (IDEMPOTENCY_KEY_MAX + 1)}), 400)  # fmt: skip


# ---- statuses and errors -----------------------------------------------------------------------
def test_statuses_and_the_list_filter(api, client, clip) -> None:
    gen = api.post("/v2/generate", json=body(clip)).json()
    assert gen["status"] == "PENDING"
    done = wait_for(api, f"/v2/generate/{gen['id']}", "status", TERMINAL)
    assert done["status"] == "COMPLETED" and done["outputUrl"]
    for status in GENERATION_STATUSES:
        r = api.get("/v2/generations", params={"status": status})
        assert r.status_code == 200, (status, r.text)
        assert [g["id"] for g in r.json()] == ([gen["id"]] if status == "COMPLETED" else [])
    nest(api.get("/v2/generations", params={"status": "DONE"}), 400)
    for status in GENERATION_STATUSES:
        client.status_of(status)  # every documented status is known to the client
    with pytest.raises(nm.NbmediaError):
        client.status_of("DONE")


def test_error_statuses_and_bodies(sandbox: Sandbox, api, clip) -> None:
    assert isinstance(nest(api.post("/v2/generate", json={"model": "x"}), 400)["message"], list)
    with sandbox_client(sandbox, "syncso", {"x-api-key": key("scale") + "_nocredit_"}) as poor:
        nest(poor.post("/v2/generate", json=body(clip)), 402)
    with sandbox_client(sandbox, "syncso", {"x-api-key": key("hobbyist")}) as small:
        assert small.post("/v2/generate", json=body(clip)).status_code == 201
        nest(small.post("/v2/generate", json=body(clip)), 429)  # Hobbyist: 1 at a time
    big = b"0" * (DIRECT_UPLOAD_MAX + 1)
    r = api.post("/v2/generate", data={"model": "lipsync-2"}, files={"video": ("v.mp4", big, "video/mp4")})  # fmt: skip
    nest(r, 413)


# ---- assets ------------------------------------------------------------------------------------
def test_asset_list_query_values(api, clip) -> None:
    asset = api.post("/v2/assets", json={"url": clip["audio"], "type": "AUDIO"})
    assert asset.status_code == 201 and set(asset.json()) >= ASSET_FIELDS
    for sort in ASSET_SORTS:
        assert api.get("/v2/assets", params={"sortBy": sort}).status_code == 200, sort
    for kind in ASSET_TYPES:
        r = api.get("/v2/assets", params={"types": kind})
        assert r.status_code == 200 and r.json()["totalCount"] == (kind == "AUDIO")
    for limit, ok in [(ASSET_LIMIT[0], True), (ASSET_LIMIT[1], True), (ASSET_LIMIT[0] - 1, False), (ASSET_LIMIT[1] + 1, False)]:  # fmt: skip
        assert api.get("/v2/assets", params={"limit": limit}).status_code == (200 if ok else 400)
    nest(api.get("/v2/assets", params={"types": "GIF"}), 400)
    nest(api.get("/v2/assets", params={"sortBy": "newest"}), 400)
    assert api.delete(f"/v2/assets/{asset.json()['id']}").json() == {"id": asset.json()["id"]}


# ---- batches -----------------------------------------------------------------------------------
@pytest.mark.parametrize("plan", list(BATCH_PLANS))
def test_batch_is_for_scale_and_enterprise(sandbox: Sandbox, clip, plan) -> None:
    with sandbox_client(sandbox, "syncso", {"x-api-key": key(plan)}) as c:
        line = {"model": "lipsync-2", "input": [{"type": "video", "url": "https://example.com/v.mp4"}, {"type": "audio", "url": "https://example.com/a.wav"}]}  # fmt: skip
        r = c.post("/v2/batch", files={"input": ("in.jsonl", jsonl(line, 20))}, data={"dry_run": "true"})  # fmt: skip
        if BATCH_PLANS[plan]:
            assert (r.status_code, r.json()) == (201, {"status": "VALIDATED"})
        else:
            nest(r, 402)


@pytest.mark.parametrize(("n", "ok"), [(BATCH_LINES[0], True), (BATCH_LINES[1], True), (BATCH_LINES[0] - 1, False), (BATCH_LINES[1] + 1, False)])  # fmt: skip
def test_batch_line_count_limits(api, n, ok) -> None:
    line = {"model": "lipsync-2", "input": [{"type": "video", "url": "https://example.com/v.mp4"}, {"type": "audio", "url": "https://example.com/a.wav"}]}  # fmt: skip
    r = api.post("/v2/batch", files={"input": ("in.jsonl", jsonl(line, n))}, data={"dry_run": "true"})  # fmt: skip
    if ok:
        assert r.json() == {"status": "VALIDATED"}
    else:
        nest(r, 400)


def test_a_batch_reports_documented_statuses_and_fields(api, clip) -> None:
    r = api.post("/v2/batch", files={"input": ("in.jsonl", jsonl(body(clip), 20))})
    assert r.status_code == 201
    made = r.json()
    assert set(made) == BATCH_FIELDS and set(made["metrics"]) == BATCH_METRICS
    seen = {made["status"]}
    deadline = time.monotonic() + 90
    while made["status"] not in ("COMPLETED", "FAILED") and time.monotonic() < deadline:
        made = api.get(f"/v2/batch/{made['id']}").json()
        seen.add(made["status"])
        time.sleep(0.02)
    assert seen <= set(BATCH_STATUSES) and made["status"] == "COMPLETED"
    for status in BATCH_STATUSES:
        assert api.get("/v2/batch", params={"status": status}).status_code == 200
    nest(api.get("/v2/batch", params={"status": "DONE"}), 400)


# ---- the documented examples, unchanged but for the base URL and the key -----------------------
def test_the_documented_asset_upload_curl(sandbox: Sandbox) -> None:
    r = run_curl("syncso_create_upload.curl", sandbox.base_url("syncso"), key())
    assert r.status_code == 201, r.text
    assert set(r.json()) == {"uploadUrl", "url", "expiresIn"}


def test_the_documented_list_batches_curl(sandbox: Sandbox) -> None:
    r = run_curl("syncso_list_batches.curl", sandbox.base_url("syncso"), key())
    assert (r.status_code, r.json()) == (200, [])


def test_the_create_generation_page_fields(sandbox: Sandbox, clip) -> None:
    """api-docs/syncso.txt prints field lists, not code: every request field it lists is taken
    at once, without the key it is 401, and the answer carries every response field listed."""
    page = json.loads((EXAMPLES / "syncso_create_generation.json").read_text())
    sent = body(
        clip,
        options={"sync_mode": "cut_off"},
        segments=[{"startTime": 0, "endTime": 0.5, "audioInput": {"refId": "a"}}],
        webhookUrl="https://example.com/hook",
        outputFileName="page_example",
    )
    sent["input"][1]["refId"] = "a"
    assert sorted(sent) == sorted(page["request_fields"])
    with sandbox_client(sandbox, "syncso", {page["auth_header"]: key()}) as c:
        r = c.post("/v2/generate", json=sent)
        assert r.status_code == 201, r.text
        assert sorted(r.json()) == sorted(page["response_fields"])
        for field in page["required_request_fields"]:
            missing = {k: v for k, v in sent.items() if k != field}
            assert c.post("/v2/generate", json=missing).status_code in page["errors"]
        wait_for(c, f"/v2/generate/{r.json()['id']}", "status", TERMINAL)
    with sandbox_client(sandbox, "syncso", None) as anonymous:
        assert anonymous.post("/v2/generate", json=sent).status_code in page["errors"]
