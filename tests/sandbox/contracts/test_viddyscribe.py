"""ViddyScribe, both sides against the documents rather than against each other.

The tables below are written here from providers.md section 3, its readings ("Choices where the
documentation is silent", "Readings added after the first build") and the API reference pages on
docs.viddyscribe.com; nothing is imported from the sandbox's or the client's own tables. Each
value is sent to the sandbox over HTTP and given to the client's request model, and both must
accept what the documents accept and refuse, naming the field, what they refuse.

The documented examples (``viddyscribe_examples/``, see its README for the source of each) are
run unchanged except for the base URL, the key and the placeholders only the real service can
resolve. ``/work/shared/api-docs/viddyscribe.txt`` itself carries no runnable snippet: its
"Quick Example" and "Rate Limit Exceeded Response" headings lost their code in the copy.

Where the documents disagree with themselves (none of the runnable snippets is wrong):
- the default ``format``: json on generate-ad-text, vtt on generate-ad-video and the newer
  overview; the client always sends ``format`` (json unless asked), so the default never
  decides what it gets back;
- the quickstart's "When done" answer shows ``output.items`` and ``output.vtt``, the API
  reference ``output.segments`` / ``output.content``: the sandbox answers the reference's shape
  and the client reads both (``segments`` or ``items``).
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from nbmedia.errors import ValidationError
from nbmedia.providers import viddyscribe as client
from nbmedia.sandbox import Sandbox
from nbmedia.sandbox.services.media.audio import write_audio
from nbmedia.sandbox.services.media.video import render_video
from nbmedia.validation import build
from tests.conftest import data_uri, sandbox_client, wait_for

pytestmark = pytest.mark.timeout(180)

A = "/enterprise/api"
EXAMPLES = Path(__file__).parent / "viddyscribe_examples"
MISSING = "00000000-0000-4000-8000-000000000000"
"""A well-formed media id no one uploaded: a valid config gets as far as 404 media_not_found."""

# ---- the documents, as tables -------------------------------------------------------------------
ROUTES = [
    ("POST", "upload_media", {"json": {"input": {"type": "url", "url": "data:,"}}}, 400),
    ("POST", "notify_upload_complete", {"json": {"media_id": MISSING, "gcs_path": "g"}}, 404),
    ("GET", "get_upload_status", {"params": {"media_id": MISSING}}, 404),
    (
        "POST",
        "generate_ad_text",
        {"json": {"input": {"type": "media_id", "media_id": MISSING}}},
        404,
    ),
    (
        "POST",
        "generate_ad_audio",
        {"json": {"input": {"type": "media_id", "media_id": MISSING}}},
        404,
    ),
    (
        "POST",
        "generate_ad_video",
        {"json": {"input": {"type": "media_id", "media_id": MISSING}}},
        404,
    ),
    ("GET", "get_results", {"params": {"job_id": "task_000000000000"}}, 404),
]
"""providers.md's endpoint table: each route is there (its answer is the API's own 400/404 with
an error code, not an unknown path's)."""
LANGUAGES = (
    "en-US", "en-GB", "en-AU", "en-IN", "es-ES", "es-US", "fr-FR", "fr-CA", "de-DE", "it-IT",
    "pt-BR", "ja-JP", "ko-KR", "zh-CN", "ar-XA", "hi-IN", "bn-IN", "bg-BG", "hr-HR", "cs-CZ",
    "da-DK", "nl-NL", "nl-BE", "et-EE", "fi-FI", "el-GR", "gu-IN", "he-IL", "hu-HU", "id-ID",
    "kn-IN", "lv-LV", "lt-LT", "ml-IN", "mr-IN", "nb-NO", "pl-PL", "pa-IN", "ro-RO", "ru-RU",
    "sr-RS", "sk-SK", "sl-SI", "sv-SE", "sw-KE", "ta-IN", "te-IN", "th-TH", "tr-TR", "uk-UA",
    "ur-IN", "vi-VN",
)  # fmt: skip
"""The seed page's 52 languages; the regions it leaves open are providers.md's readings."""
UNLISTED_REGIONS = {"ar-SA": "ar-XA", "no-NO": "nb-NO", "bn-BD": "bn-IN", "ur-PK": "ur-IN"}
"""Codes the docs do not list, and the listed code of the same language."""
VOICES = (
    "Achernar", "Achird", "Algenib", "Algieba", "Alnilam", "Aoede", "Autonoe", "Callirrhoe",
    "Charon", "Despina", "Enceladus", "Erinome", "Fenrir", "Gacrux", "Iapetus", "Kore",
    "Laomedeia", "Leda", "Orus", "Puck", "Pulcherrima", "Rasalgethi", "Sadachbia", "Sadaltager",
    "Schedar", "Sulafat", "Umbriel", "Vindemiatrix", "Zephyr", "Zubenelgenubi",
)  # fmt: skip
CATEGORIES = (
    "Auto",
    "Educational Lecture",
    "Educational Kids",
    "Government Meeting",
    "Documentary",
    "Narrative Story",
    "Social Media",
    "Tutorial/How-To",
    "Vlog",
    "Commercial/Advertisement",
    "News",
    "Entertainment",
    "Home Video",
    "Video Call",
)
ALL = ("text", "audio", "video")
FIELDS: list[tuple[str, tuple[str, ...], list[Any], list[Any]]] = [
    # field, routes that take it, values just inside, values just outside
    ("format", ALL, ["json", "vtt", "edl", "srt"], ["docx", "VTT", ""]),
    ("ad_type", ALL, ["standard_ad"], ["standard", "long"]),
    ("video_category", ALL, list(CATEGORIES), ["Sports", "auto", "Tutorial"]),
    ("read_all_onscreen_text", ALL, [True, False], ["often", 2]),
    ("custom_instructions", ALL, ["", "Keep descriptions concise."], [5, ["a"]]),
    ("auto_fit", ALL, [True, False], ["often", 2]),
    ("allow_descriptions_over_music", ALL, [True, False], ["rarely", -1]),
    (
        "custom_captions",
        ALL,
        [
            {"content": "WEBVTT\n\n00:00.000 --> 00:01.000\nHello.\n"},
            {"content": "1\n00:00:00,000 --> 00:00:01,000\nHello.\n", "format": "srt"},
            {"content": "Hello there.", "filename": "captions.txt"},
        ],
        [{"format": "vtt"}, {"content": ""}, {"content": "x", "language": "en"}],
    ),
    ("volume_option", ("audio", "video"), ["auto", "max"], ["min", "loud", "MAX"]),
    ("volume_level_db", ("audio", "video"), [-10, -9.99, -5, -0.01, 0], [-10.01, 0.01, -11]),
    ("audio_track_type", ("audio",), ["mixed", "ad_only"], ["stereo", "ad", "both"]),
    ("description_content", ("audio", "video"), ["", "<string>"], [3, {"a": 1}]),
]
"""generation_config: the values the API reference pages document, and what is just outside."""
EXTENDED_AD = {"text": True, "video": True, "audio": False}
"""ad_type=extended_ad: "generate_ad_audio is available for Standard AD only"."""
NOT_ON_ROUTE = [(f, r) for f, routes, inside, _ in FIELDS for r in ALL if r not in routes]
STATUSES = {"queued", "processing", "done", "failed"}
ERROR_STATUS = {
    "no_video_stream": 415,
    "video_too_long": 403,
    "file_too_large": 403,
    "upload_not_ready": 409,
    "upload_failed": 409,
    "plan_limit_exceeded": 429,
    "concurrency_limit_exceeded": 429,
    "queue_limit_exceeded": 429,
    "rate_limit_exceeded": 429,
}
"""The seed's "Common Error Payloads" table."""
DIRECT_UPLOAD_MB = 32


# ---- fixtures and helpers -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("vs-contract")
    return render_video(folder / "video.mp4", text="", duration=2, fps=8, width=160, height=90)


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[httpx.Client]:
    key = f"vsk_contract_{secrets.token_hex(6)}"
    with sandbox_client(sandbox, "viddyscribe", {"X-API-Key": key}, timeout=60) as c:
        yield c


def post(api: httpx.Client, route: str, config: dict[str, Any]) -> httpx.Response:
    body = {"input": {"type": "media_id", "media_id": MISSING}, "generation_config": config}
    return api.post(f"{A}/generate_ad_{route}", json=body)


def error_body(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The readings' error body: ``{"code", "message"}`` (+ ``retry_after`` on a 429)."""
    assert r.status_code == status, r.text[:300]
    body = r.json()
    assert body["code"] == code and isinstance(body["message"], str) and body["message"], body
    extra = set(body) - {"code", "message", "retry_after"}
    assert not extra, body
    return body


def model(route: str, **fields: Any) -> Any:
    return build("viddyscribe", client.DescribeRequest, {"video": "m", "output": route, **fields})


# ---- fields, enums and limits: the sandbox and the client's request model -----------------------
INSIDE = [(f, r, v) for f, routes, inside, _ in FIELDS for r in routes for v in inside]
INSIDE += [("ad_type", r, "extended_ad") for r, ok in EXTENDED_AD.items() if ok]
OUTSIDE = [(f, r, v) for f, routes, _, outside in FIELDS for r in routes for v in outside]
OUTSIDE += [("ad_type", r, "extended_ad") for r, ok in EXTENDED_AD.items() if not ok]


@pytest.mark.parametrize(("field", "route", "value"), INSIDE)
def test_documented_values_are_taken(api: httpx.Client, field: str, route: str, value: Any) -> None:
    error_body(post(api, route, {field: value}), 404, "media_not_found")
    model(route, **{field: value})


@pytest.mark.parametrize(("field", "route", "value"), OUTSIDE)
def test_values_just_outside_are_refused_naming_the_field(
    api: httpx.Client, field: str, route: str, value: Any
) -> None:
    body = error_body(post(api, route, {field: value}), 400, "invalid_request")
    assert f"generation_config.{field}" in body["message"], body
    with pytest.raises(ValidationError) as info:
        model(route, **{field: value})
    assert info.value.field.split(".")[0] == field


@pytest.mark.parametrize(("field", "route"), NOT_ON_ROUTE)
def test_a_field_of_another_route_is_refused(api: httpx.Client, field: str, route: str) -> None:
    value = next(inside[0] for f, _, inside, _ in FIELDS if f == field)
    body = error_body(post(api, route, {field: value}), 400, "invalid_request")
    assert field in body["message"]
    with pytest.raises(ValidationError) as info:
        model(route, **{field: value})
    assert info.value.field == field


def test_every_listed_language_and_voice_is_taken(api: httpx.Client) -> None:
    for code in LANGUAGES:
        error_body(post(api, "text", {"language": code}), 404, "media_not_found")
        model("text", language=code)
    for voice in VOICES:
        error_body(post(api, "audio", {"voice": voice}), 404, "media_not_found")
        assert model("audio", voice=voice).voice == voice


@pytest.mark.parametrize(("code", "listed"), UNLISTED_REGIONS.items())
def test_an_unlisted_region_is_refused_naming_the_listed_code(
    api: httpx.Client, code: str, listed: str
) -> None:
    """The docs give BCP-47 codes and no aliases: neither side takes another region's code."""
    body = error_body(post(api, "text", {"language": code}), 400, "invalid_request")
    assert f"use {listed}" in body["message"]
    with pytest.raises(ValidationError) as info:
        model("text", language=code)
    assert info.value.field == "language" and f"use {listed}" in info.value.rule


@pytest.mark.parametrize("voice", ["Rachel", "Achernar2", ""])
def test_an_unknown_voice_is_refused(api: httpx.Client, voice: str) -> None:
    body = error_body(post(api, "video", {"voice": voice}), 400, "invalid_request")
    assert "generation_config.voice" in body["message"]
    with pytest.raises(ValidationError) as info:
        model("video", voice=voice)
    assert info.value.field == "voice"


def test_input_filename_is_taken_by_every_input_type(api: httpx.Client, clip: Path) -> None:
    by_id = {"type": "media_id", "media_id": MISSING, "filename": "talk.mp4"}
    r = api.post(f"{A}/generate_ad_text", json={"input": by_id})
    error_body(r, 404, "media_not_found")
    by_url = {"type": "url", "url": data_uri(clip, "video/mp4"), "filename": "talk.mp4"}
    assert api.post(f"{A}/upload_media", json={"input": by_url}).json()["filename"] == "talk.mp4"
    multipart = api.post(
        f"{A}/upload_media",
        data={"input": json.dumps({"type": "file", "filename": "lecture.mp4"})},
        files={"file": ("video.mp4", clip.read_bytes(), "video/mp4")},
    )
    assert multipart.status_code == 200 and multipart.json()["filename"] == "lecture.mp4"
    r = api.post(f"{A}/generate_ad_text", json={"input": {**by_id, "filename": ""}})
    assert "input.filename" in error_body(r, 400, "invalid_request")["message"]
    assert model("text", filename="talk.mp4").filename == "talk.mp4"
    with pytest.raises(ValidationError):
        model("text", filename="x" * 256)


@pytest.mark.parametrize(("method", "route", "kwargs", "status"), ROUTES)
def test_every_documented_route_answers(
    api: httpx.Client, method: str, route: str, kwargs: dict[str, Any], status: int
) -> None:
    r = api.request(method, f"{A}/{route}", **kwargs)
    body = error_body(r, status, r.json().get("code", ""))
    assert body["code"] in ("invalid_request", "media_not_found", "job_not_found"), body


# ---- statuses, error codes and body shapes ------------------------------------------------------
def test_statuses_are_the_documented_four(api: httpx.Client, clip: Path) -> None:
    assert set(client.ViddyScribe.statuses) == STATUSES
    r = api.post(
        f"{A}/generate_ad_text",
        data={"input": '{"type": "file"}'},
        files={"file": ("video.mp4", clip.read_bytes(), "video/mp4")},
    )
    assert r.status_code == 200 and r.json()["status"] == "queued", r.text
    seen = set()

    def status() -> str:
        got = api.get(f"{A}/get_results", params={"job_id": r.json()["job_id"]}).json()
        seen.add(got["status"])
        return got["status"]

    deadline = time.monotonic() + 60
    while status() not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert seen <= STATUSES and "done" in seen


def test_error_codes_statuses_and_bodies(sandbox: Sandbox, api: httpx.Client, tmp_path) -> None:
    """Each code the documents list that a request can reach, with its status and body; the
    client's parser reads the same code and whether waiting helps."""
    rate = 8000
    tone = write_audio(tmp_path / "tone.wav", np.zeros(rate, np.float32), rate, "wav")
    r = api.post(f"{A}/upload_media", files={"file": ("tone.wav", tone.read_bytes(), "audio/wav")})
    error_body(r, ERROR_STATUS["no_video_stream"], "no_video_stream")
    big = api.post(
        f"{A}/upload_media",
        files={"file": ("big.mp4", b"\0" * (DIRECT_UPLOAD_MB * 2**20 + 1), "video/mp4")},
    )
    error_body(big, ERROR_STATUS["file_too_large"], "file_too_large")
    grant = api.post(
        f"{A}/upload_media",
        json={"input": {"type": "signed_url", "filename": "v.mp4", "content_type": "video/mp4"}},
    ).json()
    assert grant["status"] == "pending_upload" and grant["upload_url"] and grant["gcs_path"]
    body = {"input": {"type": "media_id", "media_id": grant["media_id"]}}
    r = api.post(f"{A}/generate_ad_text", json=body)
    error_body(r, ERROR_STATUS["upload_not_ready"], "upload_not_ready")
    sandbox.faults.rate_limit_next(1, retry_after=2, path="generate_ad_text")
    limited = error_body(post(api, "text", {}), 429, "rate_limit_exceeded")
    assert limited["retry_after"] == 2
    with sandbox_client(sandbox, "viddyscribe", {"X-API-Key": "vsk_exhausted_x"}) as spent:
        error_body(post(spent, "text", {}), 429, "plan_limit_exceeded")
    with sandbox_client(sandbox, "viddyscribe", {"X-API-Key": "nope"}) as bad:
        assert bad.get(f"{A}/get_results", params={"job_id": "task_x"}).status_code == 401
    r = api.get(f"{A}/get_results", params={"job_id": "task_000000000000"})
    assert r.status_code == 404
    for code, status in ERROR_STATUS.items():  # the client reads the code and its advice
        response = httpx.Response(status, json={"code": code, "message": "m", "retry_after": 1})
        parsed = client.ViddyScribe.parse_error(response, response.json())
        assert parsed.code == code
        if code == "plan_limit_exceeded":
            assert parsed.retryable is False  # "the current team allocation has been exhausted"
    assert client.DIRECT_UPLOAD_MAX == DIRECT_UPLOAD_MB * 2**20


# ---- the documented examples, run ---------------------------------------------------------------
CURL_EXAMPLES = sorted(p.name for p in EXAMPLES.glob("*.sh"))
KEY_PLACEHOLDERS = ("vsk_your_api_key_here", "YOUR_API_KEY", "<api-key>")
MEDIA_PLACEHOLDERS = (
    "550e8400-e29b-41d4-a716-446655440000",
    "3c90c3cc-0d44-4b50-8888-8dd25736052a",
)
VIDEO_URL = "https://example.com/video.mp4"


def localize(text: str, sandbox: Sandbox, key: str, media: dict[str, str]) -> str:
    """The snippet with the sandbox for the real service; nothing else of it changes."""
    text = text.replace("https://api.viddyscribe.com", sandbox.base_url("viddyscribe"))
    for placeholder in KEY_PLACEHOLDERS:
        text = text.replace(placeholder, key)
    for placeholder in MEDIA_PLACEHOLDERS:
        text = text.replace(placeholder, media["media_id"])
    text = text.replace(VIDEO_URL, media["url"])  # example.com cannot be fetched offline
    text = text.replace("@/path/to/video.mp4", "@video.mp4")
    return text.replace("task_abc123xyz", media.get("job_id", "task_abc123xyz"))


@pytest.fixture
def example_env(sandbox: Sandbox, api: httpx.Client, clip: Path, tmp_path: Path) -> dict[str, Any]:
    shutil.copy(clip, tmp_path / "video.mp4")
    media_id = api.post(
        f"{A}/upload_media", files={"file": ("video.mp4", clip.read_bytes(), "video/mp4")}
    ).json()["media_id"]
    job = api.post(
        f"{A}/generate_ad_text", json={"input": {"type": "media_id", "media_id": media_id}}
    )
    media = {
        "media_id": media_id,
        "url": data_uri(clip, "video/mp4"),
        "job_id": job.json()["job_id"],
    }
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    return {"key": api.headers["X-API-Key"], "media": media, "dir": tmp_path, "env": env}


def check_answer(
    api: httpx.Client, answer: dict[str, Any], media_id: str | None, results: bool = False
) -> None:
    """A generate's documented answer, and the job it names reaches ``done``; or a result."""
    if results:
        assert answer["status"] in STATUSES and answer["job_id"], answer
        assert answer["media_id"] and answer["created_at"] and answer["updated_at"], answer
        return
    assert answer["status"] == "queued" and re.match(r"^task_\w+$", answer["job_id"]), answer
    if media_id is not None:
        assert answer["media_id"] == media_id
    done = wait_for(
        api, f"{A}/get_results", "status", ("done", "failed"), params={"job_id": answer["job_id"]}
    )
    assert done["status"] == "done", done


@pytest.mark.parametrize("name", CURL_EXAMPLES)
def test_documented_curl_example_runs(
    api: httpx.Client, sandbox: Sandbox, example_env: dict[str, Any], name: str
) -> None:
    snippet = localize(
        (EXAMPLES / name).read_text(), sandbox, example_env["key"], example_env["media"]
    )
    proc = subprocess.run(
        ["bash", "-c", snippet.replace("curl ", "curl -sS ", 1)],
        cwd=example_env["dir"],
        env=example_env["env"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    original = (EXAMPLES / name).read_text()
    by_id = any(p in original for p in MEDIA_PLACEHOLDERS)
    media_id = example_env["media"]["media_id"] if by_id else None
    check_answer(api, answer, media_id, results="get_results" in original)


def test_documented_python_example_runs(
    api: httpx.Client, sandbox: Sandbox, example_env: dict[str, Any], monkeypatch
) -> None:
    for var in [k for k in os.environ if "proxy" in k.lower()]:
        monkeypatch.delenv(var)
    code = localize(
        (EXAMPLES / "video_url.py").read_text(), sandbox, example_env["key"], example_env["media"]
    )
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "video_url.py", "exec"), {})  # the page's snippet prints the answer
    answer = ast.literal_eval(out.getvalue())  # print() of a dict: a Python literal
    check_answer(api, answer, None)
