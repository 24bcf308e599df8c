"""The sandbox's sync.so API v2 over real HTTP: auth, NestJS errors, every option's validation,
segments, idempotent create, the cost estimate, get/list, every status with its error_code,
signed webhooks, and outputs checked for what they claim (the new audio, the video's own frames
on the timeline each sync_mode promises, a mouth that opens with the loudness). Written against
the contract (providers.md section 5 and the readings in ``nbmedia/sandbox/syncso/__init__``),
not the client; media are inspected with ``tests/mediacheck``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from nbmedia.sandbox import Sandbox, syncso
from nbmedia.sandbox.services.media import ffmpeg_exe
from nbmedia.sandbox.services.media.audio import write_audio
from tests.conftest import Receiver, data_uri, download, sandbox_client, wait_for
from tests.mediacheck import FFMPEG, assert_same_bytes, count_frames, decode_audio, probe

pytestmark = pytest.mark.timeout(120)

GENERATION_KEYS = [
    "id", "createdAt", "status", "model", "input", "options", "segments", "outputUrl",
    "outputDuration", "segmentOutputUrl", "webhookUrl", "error", "error_code",
]  # fmt: skip
TERMINAL = ("COMPLETED", "FAILED", "REJECTED")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
UNREACHABLE = "https://example.com/talk.mp4"

FPS, V_SECONDS, WIDTH, HEIGHT = 25, 2.0, 320, 240
V_FRAMES = int(FPS * V_SECONDS)
RATE = 44_100
STRIP = slice(4, 36)
"""Rows of the input's top strip, whose grey level says which input frame is shown."""


# ---- input media -------------------------------------------------------------------------------
def strip_grey(index: float) -> float:
    return 30 + 190 * index / (V_FRAMES - 1)


def encode_video(path: Path, *, tone_hz: float | None) -> Path:
    """2 s at 25 fps, 320x240: light grey, with a top strip whose grey encodes the frame index."""
    frames = np.full((V_FRAMES, HEIGHT, WIDTH, 3), 200, np.uint8)
    for i in range(V_FRAMES):
        frames[i, :40] = round(strip_grey(i))
    args = [ffmpeg_exe(), "-hide_banner", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24"]
    args += ["-s", f"{WIDTH}x{HEIGHT}", "-r", str(FPS), "-i", "pipe:0"]
    if tone_hz:
        args += ["-f", "lavfi", "-i", f"sine=f={tone_hz}:d={V_SECONDS}", "-c:a", "aac", "-shortest"]
    args += [
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-qp",
        "10",
        "-pix_fmt",
        "yuv420p",
        str(path),
    ]
    subprocess.run(args, input=frames.tobytes(), check=True, capture_output=True)
    return path


def envelope(t: np.ndarray) -> np.ndarray:
    """Loudness that swells and fades smoothly (1.3 Hz): the mouth must follow it."""
    return 0.04 + 0.6 * (0.5 + 0.5 * np.sin(2 * np.pi * 1.3 * t))


def tone(path: Path, seconds: float, hz: float, *, rate: int = RATE, swell: bool = True) -> Path:
    t = np.arange(round(seconds * rate)) / rate
    level = envelope(t) if swell else 0.3
    write_audio(path, (level * np.sin(2 * np.pi * hz * t)).astype(np.float32), rate, "wav")
    return path


class Media:
    """The inputs every test uses, as data: URIs (the sandbox decodes them offline)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.video_file = encode_video(folder / "talk.mp4", tone_hz=1000)
        self.video = data_uri(self.video_file, "video/mp4")
        self.mute_video = data_uri(encode_video(folder / "mute.mp4", tone_hz=None), "video/mp4")
        self.audio_file = tone(folder / "long.wav", 3.0, 300)
        self.audio_long = data_uri(self.audio_file, "audio/wav")
        self.audio_short = data_uri(tone(folder / "short.wav", 1.2, 300), "audio/wav")
        self.audio_b = data_uri(tone(folder / "b.wav", 2.0, 600, swell=False), "audio/wav")
        self.too_long = data_uri(
            tone(folder / "301s.wav", 301, 200, rate=8000, swell=False), "audio/wav"
        )
        self.garbage = "data:video/mp4;base64," + base64.b64encode(b"not a video" * 50).decode()


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    return Media(tmp_path_factory.mktemp("syncso-media"))


# ---- helpers -----------------------------------------------------------------------------------
def new_key(marker: str = "_") -> str:
    """A fresh key (generations, idempotency keys and rate windows are per key)."""
    return f"sk_test{marker}{secrets.token_hex(6)}"


def client_for(sandbox: Sandbox, key: str | None) -> httpx.Client:
    return sandbox_client(sandbox, "syncso", {"x-api-key": key} if key is not None else None)


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with client_for(sandbox, new_key()) as c:
        yield c
        settle(c)


def settle(c: httpx.Client, timeout: float = 60) -> None:
    """Wait until the key's generations have ended, so no render outlives its test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = c.get("/v2/generations")
        if r.status_code != 200 or all(g["status"] in TERMINAL for g in r.json()):
            return
        time.sleep(0.05)


def video_item(url: str) -> dict[str, Any]:
    return {"type": "video", "url": url}


def audio_item(url: str, ref: str | None = None) -> dict[str, Any]:
    return {"type": "audio", "url": url} | ({"refId": ref} if ref else {})


def tts_item(script: str, voice: str = "rachel", ref: str | None = None) -> dict[str, Any]:
    provider = {"name": "elevenlabs", "voiceId": voice, "script": script}
    return {"type": "text", "provider": provider} | ({"refId": ref} if ref else {})


def lipsync(media: Media, **extra: Any) -> dict[str, Any]:
    """A valid create body: the test video with the 3 s swelling tone."""
    body = {"model": "lipsync-2", "input": [video_item(media.video), audio_item(media.audio_long)]}
    return body | extra


def create(api: httpx.Client, body: dict[str, Any], **kw: Any) -> dict[str, Any]:
    r = api.post("/v2/generate", json=body, **kw)
    assert r.status_code == 201, r.text
    return r.json()


def name_of(url: str) -> str:
    """The file name at the end of an output URL."""
    return url.rsplit("/", 1)[1]


def wait_gen(api: httpx.Client, gen_id: str) -> dict[str, Any]:
    return wait_for(api, f"/v2/generate/{gen_id}", "status", TERMINAL, every=0.03)


def statuses_until_done(api: httpx.Client, gen_id: str) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = api.get(f"/v2/generate/{gen_id}").json()["status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        if status in TERMINAL:
            return seen
        time.sleep(0.01)
    raise AssertionError(f"{gen_id} did not finish: {seen}")


def assert_nest(r: httpx.Response, status: int, *needles: str) -> dict[str, Any]:
    """The NestJS error body, its message mentioning every needle."""
    assert r.status_code == status, r.text
    body = r.json()
    assert body["statusCode"] == status and body["error"] == syncso.REASONS[status], body
    text = " | ".join(body["message"]) if isinstance(body["message"], list) else body["message"]
    for needle in needles:
        assert needle in text, f"{needle!r} not in {text!r}"
    assert "retry-after" not in r.headers
    return body


def all_frames(path: Path) -> np.ndarray:
    """Every decoded frame, (n, h, w, 3) uint8."""
    info = probe(path)["video"]
    assert info is not None
    w, h = info["width"], info["height"]
    out = subprocess.run(
        [FFMPEG, "-hide_banner", "-nostdin", "-i", str(path), "-f", "rawvideo"]
        + ["-pix_fmt", "rgb24", "-"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(out, np.uint8).reshape(-1, h, w, 3)


def source_index(frame: np.ndarray) -> float:
    """Which input frame this output frame shows, read from the top strip's grey."""
    grey = float(frame[STRIP].mean())
    return (grey - 30) / 190 * (V_FRAMES - 1)


def peak_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


def rms_per_frame(samples: np.ndarray, rate: int, frames: int) -> np.ndarray:
    edges = np.round(np.arange(frames + 1) * rate / FPS).astype(int)
    return np.array(
        [
            np.sqrt(np.mean(samples[a:b] ** 2)) if b > a else 0.0
            for a, b in zip(edges, edges[1:], strict=False)
        ]
    )


def dark_pixels(frames: np.ndarray) -> np.ndarray:
    """Dark pixels per frame in the lower middle of the picture (where the mouth is drawn)."""
    region = frames[:, HEIGHT // 2 :, WIDTH // 4 : 3 * WIDTH // 4]
    return (region.max(axis=3) < 90).sum(axis=(1, 2))


# ---- the generations most output tests look at, made concurrently once -------------------------
MODES = ("cut_off", "loop", "bounce", "silence", "remap")
EXPECTED_SECONDS = {  # sync.so's behaviour matrix for a 2 s video
    ("cut_off", 3.0): 2.0, ("loop", 3.0): 3.0, ("bounce", 3.0): 3.0, ("silence", 3.0): 3.0,
    ("remap", 3.0): 3.0, ("cut_off", 1.2): 1.2, ("loop", 1.2): 1.2, ("bounce", 1.2): 1.2,
    ("silence", 1.2): 2.0, ("remap", 1.2): 1.2,
}  # fmt: skip
VOICES = ("rachel", "adam")


@pytest.fixture(scope="module")
def finished(sandbox: Sandbox, media: Media, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every sync_mode with longer and shorter audio, segments, and two TTS voices: created at
    once, waited for, outputs downloaded."""
    folder = tmp_path_factory.mktemp("syncso-out")
    bodies: dict[Any, dict[str, Any]] = {}
    for (mode, seconds), _ in EXPECTED_SECONDS.items():
        audio = media.audio_long if seconds == 3.0 else media.audio_short
        bodies[(mode, seconds)] = {
            "model": "lipsync-2",
            "input": [video_item(media.video), audio_item(audio)],
            "options": {"sync_mode": mode},
        }
    bodies["segments"] = {
        "model": "lipsync-2-pro",
        "input": [video_item(media.video), audio_item(media.audio_long, "a")]
        + [audio_item(media.audio_b, "b")],
        "segments": [
            {"startTime": 0.0, "endTime": 0.8, "audioInput": {"refId": "a"}},
            {"startTime": 1.0, "endTime": 1.9, "audioInput": {"refId": "b", "startTime": 0.5, "endTime": 1.5}},
        ],
        "outputFileName": "two_voices",
    }  # fmt: skip
    for voice in VOICES:
        bodies[("tts", voice)] = {
            "model": "sync-3",
            "input": [video_item(media.video), tts_item("Hello there, how are you today?", voice)],
            "options": {"sync_mode": "loop"},
        }
    out: dict[Any, dict[str, Any]] = {}
    with client_for(sandbox, new_key()) as c:
        created = {name: create(c, body) for name, body in bodies.items()}
        for name, gen in created.items():
            done = wait_gen(c, gen["id"])
            assert done["status"] == "COMPLETED", (name, done)
            out[name] = {
                "gen": done,
                "mp4": download(done["outputUrl"], folder / name_of(done["outputUrl"])),
                "body": bodies[name],
            }
    return out


# ---- routes, auth, errors ----------------------------------------------------------------------
def test_drop_in_base_url_serves_the_v2_routes_and_models(sandbox: Sandbox, api) -> None:
    assert sandbox.base_url("syncso").endswith("/syncso")
    assert sandbox.webhook_secret("syncso") == "whsec_sandbox_syncso"
    models = api.get("/v2/models").json()
    assert [m["id"] for m in models] == list(syncso.MODELS)
    assert {m["type"] for m in models} == {"lipsync", "react"}
    assert api.get("/v2/generations").json() == []
    assert_nest(api.get("/v2/nowhere"), 404, "/v2/nowhere")


@pytest.mark.parametrize("headers", [{}, {"x-api-key": ""}, {"Authorization": "Bearer sk_x"}])
def test_401_without_an_x_api_key(sandbox: Sandbox, media, headers) -> None:
    with httpx.Client(base_url=sandbox.base_url("syncso"), trust_env=False) as c:
        assert_nest(c.post("/v2/generate", json=lipsync(media), headers=headers), 401, "x-api-key")
        assert_nest(c.get("/v2/generations", headers=headers), 401)


def test_402_without_credit_only_on_create(sandbox: Sandbox, media) -> None:
    with client_for(sandbox, new_key("_nocredit_")) as c:
        assert_nest(c.post("/v2/generate", json=lipsync(media)), 402, "credit")
        assert c.get("/v2/generations").status_code == 200
        assert c.post("/v2/analyze/cost", json=lipsync(media)).status_code == 201


def test_404_unknown_and_other_keys_generation(sandbox: Sandbox, api, media) -> None:
    assert_nest(api.get("/v2/generate/6533643b-aceb-4c40-967e-d9ba9baac39e"), 404, "not found")
    gen = create(api, lipsync(media))
    with client_for(sandbox, new_key()) as other:
        assert_nest(other.get(f"/v2/generate/{gen['id']}"), 404)
        assert other.get("/v2/generations").json() == []


def test_429_over_the_plans_concurrency_without_retry_after(sandbox: Sandbox, media) -> None:
    with client_for(sandbox, new_key("_hobbyist_")) as c:
        first = create(c, lipsync(media))
        assert_nest(c.post("/v2/generate", json=lipsync(media)), 429, "Hobbyist", "1 generation")
        assert wait_gen(c, first["id"])["status"] == "COMPLETED"
        create(c, lipsync(media))  # free again
        settle(c)


def test_429_past_60_creates_a_minute_but_reads_go_on(sandbox: Sandbox) -> None:
    with client_for(sandbox, new_key()) as c:
        for _ in range(syncso.RATE_LIMITS["create"]):
            assert c.post("/v2/generate", json={}).status_code == 400  # counted, then refused
        assert_nest(c.post("/v2/generate", json={}), 429, "Too Many Requests")
        assert c.get("/v2/generations").status_code == 200


def test_faults_answer_in_the_nest_shape_without_retry_after(sandbox: Sandbox, api) -> None:
    sandbox.faults.rate_limit_next(1, retry_after=5)
    assert_nest(api.get("/v2/generations"), 429)
    sandbox.faults.fail_next_requests(1, 503)
    assert_nest(api.get("/v2/generations"), 503)
    assert api.get("/v2/generations").status_code == 200


# ---- validation --------------------------------------------------------------------------------
def _bad_bodies(m: Media) -> list[tuple[str, dict[str, Any], str]]:
    v, a = video_item(m.video), audio_item(m.audio_long)
    ok = {"model": "lipsync-2", "input": [v, a]}
    return [
        ("no model", {"input": [v, a]}, "model should not be empty"),
        ("unknown model", ok | {"model": "lipsync-3"}, "model must be one of"),
        ("no input", {"model": "lipsync-2"}, "input must be a non-empty array"),
        ("empty input", ok | {"input": []}, "input must be a non-empty array"),
        ("unknown item type", ok | {"input": [v, {"type": "image", "url": m.video}]}, "input.1.type"),
        ("item without url", ok | {"input": [{"type": "video"}, a]}, "input.0.url should not be empty"),
        ("url not a url", ok | {"input": [video_item("talk.mp4"), a]}, "must be a URL address"),
        ("url and assetId", ok | {"input": [{"type": "video", "url": m.video, "assetId": "x"}, a]}, "input.0.give either url or assetId, not both"),
        ("empty assetId", ok | {"input": [{"type": "video", "assetId": ""}, a]}, "input.0.assetId must be a non-empty string"),
        ("two videos", ok | {"input": [v, v, a]}, "exactly one video"),
        ("unknown field", ok | {"webhook_url": "https://x.io/h"}, "property webhook_url should not exist"),
        ("unknown item field", ok | {"input": [v, a | {"volume": 1}]}, "property input.1.volume"),
        ("tts provider", ok | {"input": [v, {"type": "text", "provider": {"name": "polly", "voiceId": "x", "script": "hi"}}]}, "provider.name must be one of"),
        ("tts without voice", ok | {"input": [v, {"type": "text", "provider": {"name": "elevenlabs", "script": "hi"}}]}, "voiceId must be a non-empty string"),
        ("tts stability", ok | {"input": [v, {"type": "text", "provider": {"name": "elevenlabs", "voiceId": "x", "script": "hi", "stability": 1.5}}]}, "stability must not be greater than 1"),
        ("tts similarity", ok | {"input": [v, {"type": "text", "provider": {"name": "elevenlabs", "voiceId": "x", "script": "hi", "similarityBoost": -0.1}}]}, "similarityBoost must not be less than 0"),
        ("duplicate refId", ok | {"input": [v, audio_item(m.audio_long, "r"), audio_item(m.audio_b, "r")]}, 'refId "r" is used by more than one'),
        ("options not object", ok | {"options": "loop"}, "options must be an object"),
        ("sync_mode", ok | {"options": {"sync_mode": "stretch"}}, "options.sync_mode must be one of the following values: bounce, loop, cut_off, silence, remap"),
        ("temperature high", ok | {"options": {"temperature": 1.01}}, "options.temperature must not be greater than 1"),
        ("temperature low", ok | {"options": {"temperature": -0.5}}, "options.temperature must not be less than 0"),
        ("temperature type", ok | {"options": {"temperature": "hot"}}, "options.temperature must be a number"),
        ("model_mode enum", ok | {"model": "react-1", "options": {"model_mode": "body"}}, "options.model_mode must be one of the following values: lips, face, head"),
        ("model_mode not react", ok | {"options": {"model_mode": "head"}}, "options.model_mode is only supported by the react-1 model"),
        ("emotion enum", ok | {"model": "react-1", "options": {"prompt": "bored"}}, "options.prompt must be one of the following values: happy, sad"),
        ("emotion not react", ok | {"model": "sync-3", "options": {"prompt": "happy"}}, "options.prompt is only supported by the react-1 model"),
        ("occlusion", ok | {"options": {"occlusion_detection_enabled": "yes"}}, "occlusion_detection_enabled must be a boolean"),
        ("unknown option", ok | {"options": {"speed": 2}}, "property options.speed should not exist"),
        ("speaker not object", ok | {"options": {"active_speaker_detection": True}}, "active_speaker_detection must be an object"),
        ("speaker auto", ok | {"options": {"active_speaker_detection": {"auto_detect": 1}}}, "auto_detect must be a boolean"),
        ("speaker frame", ok | {"options": {"active_speaker_detection": {"frame_number": -1, "coordinates": [1, 2]}}}, "frame_number must be an integer"),
        ("speaker point", ok | {"options": {"active_speaker_detection": {"frame_number": 0, "coordinates": [1]}}}, "coordinates must be [x, y]"),
        ("speaker half", ok | {"options": {"active_speaker_detection": {"frame_number": 3}}}, "frame_number and coordinates must be given together"),
        ("speaker boxes", ok | {"options": {"active_speaker_detection": {"bounding_boxes": [[10, 10, 5, 20]]}}}, "bounding_boxes must be a list"),
        ("webhookUrl", ok | {"webhookUrl": "ftp://example.com/hook"}, "webhookUrl must be a URL address"),
        ("outputFileName chars", ok | {"outputFileName": "my clip.mp4"}, "outputFileName must be 1-255 characters"),
        ("outputFileName long", ok | {"outputFileName": "x" * 256}, "outputFileName must be 1-255 characters"),
    ]  # fmt: skip


def test_400_for_every_rule_of_the_body(api, media) -> None:
    for name, body, needle in _bad_bodies(media):
        r = api.post("/v2/generate", json=body)
        assert r.status_code == 400, (name, r.text)
        assert isinstance(r.json()["message"], list), name
        assert_nest(r, 400, needle)
    assert_nest(
        api.post("/v2/generate", content=b"{nope", headers={"content-type": "application/json"}),
        400,
        "JSON",
    )
    assert_nest(api.post("/v2/generate", json=["a"]), 400, "JSON object")  # fmt: skip


def test_400_lists_every_problem_at_once(api, media) -> None:
    body = {"model": "x", "input": [{"type": "video"}], "options": {"temperature": 2}, "foo": 1}
    message = assert_nest(api.post("/v2/generate", json=body), 400)["message"]
    assert len(message) == 4, message


def test_boundaries_and_react_options_are_accepted(api, media) -> None:
    v, a = video_item(media.video), audio_item(media.audio_long)
    for options in (
        {"temperature": 0},
        {"temperature": 1.0},
        {"occlusion_detection_enabled": True},
    ):
        assert create(api, {"model": "lipsync-2", "input": [v, a], "options": options})["options"] == OPTIONS_DEFAULTS | options  # fmt: skip
    react = create(api, {"model": "react-1", "input": [v, a], "options": {"prompt": "happy"}})
    assert react["options"] == OPTIONS_DEFAULTS | {"model_mode": "face", "prompt": "happy"}
    speaker = {"frame_number": 0, "coordinates": [160, 140], "auto_detect": False}
    gen = create(api, lipsync(media, options={"active_speaker_detection": speaker}, outputFileName="A_b-9" * 51))  # fmt: skip
    assert gen["options"]["active_speaker_detection"] == speaker
    assert wait_gen(api, gen["id"])["status"] == "COMPLETED"


OPTIONS_DEFAULTS = {"sync_mode": "cut_off", "temperature": 0.5}


def _bad_segments(m: Media) -> list[tuple[list[Any], str]]:
    return [
        ([{"startTime": 0, "endTime": 1, "audioInput": {"refId": "zzz"}}], 'refId "zzz" does not match'),
        ([{"startTime": 1, "endTime": 1, "audioInput": {"refId": "a"}}], "startTime must be less than endTime"),
        ([{"startTime": -1, "endTime": 1, "audioInput": {"refId": "a"}}], "startTime must not be less than 0"),
        ([{"endTime": 1, "audioInput": {"refId": "a"}}], "segments.0.startTime should not be empty"),
        ([{"startTime": 0, "endTime": 1}], "audioInput must be an object"),
        ([{"startTime": 0, "endTime": 1.2, "audioInput": {"refId": "a"}}, {"startTime": 1.0, "endTime": 1.5, "audioInput": {"refId": "a"}}], "segments.0 and segments.1 overlap"),
        ([{"startTime": 0, "endTime": 1, "audioInput": {"refId": "a", "startTime": 0.5}}], "startTime and endTime must be given together"),
        ([{"startTime": 0, "endTime": 1, "audioInput": {"refId": "a", "startTime": 0.5, "endTime": 0.2}}], "audioInput.startTime must be less than endTime"),
        ([], "segments must be a non-empty array"),
    ]  # fmt: skip


def test_400_for_segments_with_bad_ranges_or_refids(api, media) -> None:
    inputs = [video_item(media.video), audio_item(media.audio_long, "a")]
    for segments, needle in _bad_segments(media):
        body = {"model": "lipsync-2", "input": inputs, "segments": segments}
        assert_nest(api.post("/v2/generate", json=body), 400, needle)
    unnamed = [video_item(media.video), audio_item(media.audio_long)]
    segments = [{"startTime": 0, "endTime": 1, "audioInput": {"refId": "a"}}]
    body = {"model": "lipsync-2", "input": unnamed, "segments": segments}
    assert_nest(api.post("/v2/generate", json=body), 400, "input.1.refId is required")


# ---- lifecycle, statuses, error codes ----------------------------------------------------------
def test_create_answers_201_pending_then_processing_then_completed(api, media) -> None:
    gen = create(api, lipsync(media, webhookUrl="https://example.com/hook"))
    assert list(gen) == GENERATION_KEYS
    assert UUID.match(gen["id"]) and ISO_MS.match(gen["createdAt"])
    assert gen["status"] == "PENDING" and gen["model"] == "lipsync-2"
    assert gen["input"] == lipsync(media)["input"] and gen["options"] == OPTIONS_DEFAULTS
    assert gen["webhookUrl"] == "https://example.com/hook"
    assert gen["outputUrl"] is gen["outputDuration"] is gen["error"] is gen["error_code"] is None
    assert statuses_until_done(api, gen["id"]) == ["PENDING", "PROCESSING", "COMPLETED"]
    done = api.get(f"/v2/generate/{gen['id']}").json()
    assert done["outputUrl"].endswith(f"/syncso/files/{gen['id']}.mp4")
    assert done["outputDuration"] == pytest.approx(2.0, abs=0.05)
    assert done["segmentOutputUrl"] is None and done["error_code"] is None


def test_failed_generations_carry_error_and_error_code(api, media) -> None:
    v, a = video_item(media.video), audio_item(media.audio_long)
    seg = {"startTime": 0, "endTime": 1, "audioInput": {"refId": "a"}}
    cases = {
        "generation_audio_missing": {"input": [v]},
        "generation_video_missing": {"input": [a]},
        "generation_text_length_exceeded": {"input": [v, tts_item("x" * 5001)]},
        "generation_unsupported_model": {"model": "react-1", "input": [v, audio_item(media.audio_long, "a")], "segments": [seg]},
        "generation_input_validation_failed": {"input": [v, audio_item(media.audio_long, "a")], "segments": [seg | {"endTime": 2.5}]},
        "crop outside the audio": {"input": [v, audio_item(media.audio_short, "a")], "segments": [seg | {"audioInput": {"refId": "a", "startTime": 0.5, "endTime": 2.0}}]},
        "speaker frame outside": {"input": [v, a], "options": {"active_speaker_detection": {"frame_number": 60, "coordinates": [5, 5]}}},
        "generation_media_metadata_missing": {"input": [video_item(media.garbage), a]},
        "audio without sound": {"input": [v, audio_item(media.mute_video)]},
        "video without picture": {"input": [video_item(media.audio_long), a]},
        "generation_audio_length_exceeded": {"input": [v, audio_item(media.too_long)]},
    }  # fmt: skip
    expected = {
        "crop outside the audio": "generation_input_validation_failed",
        "speaker frame outside": "generation_input_validation_failed",
        "audio without sound": "generation_audio_missing",
        "video without picture": "generation_video_missing",
    }
    created = {name: create(api, {"model": "lipsync-2"} | body) for name, body in cases.items()}
    for name, gen in created.items():
        done = wait_gen(api, gen["id"])
        code = expected.get(name, name)
        assert (done["status"], done["error_code"]) == ("FAILED", code), (name, done)
        assert done["error"] and done["outputUrl"] is None, name


def test_unreachable_input_is_rejected_without_processing(api, media) -> None:
    gen = create(api, {"model": "lipsync-2", "input": [video_item(UNREACHABLE), audio_item(media.audio_long)]})  # fmt: skip
    assert statuses_until_done(api, gen["id"]) == ["PENDING", "REJECTED"]
    done = api.get(f"/v2/generate/{gen['id']}").json()
    assert done["error_code"] == "generation_media_download_failed"
    assert "input.0.url" in done["error"] and done["outputUrl"] is None


def test_fail_next_jobs_fault_fails_or_rejects_by_code(sandbox: Sandbox, api, media) -> None:
    sandbox.faults.fail_next_jobs(1, code="generation_internal_error", message="GPU on fire")
    failed = create(api, lipsync(media))
    sandbox.faults.fail_next_jobs(1, code="generation_media_download_failed", message="nope")
    rejected = create(api, lipsync(media))
    assert statuses_until_done(api, failed["id"]) == ["PENDING", "PROCESSING", "FAILED"]
    done = api.get(f"/v2/generate/{failed['id']}").json()
    assert (done["error_code"], done["error"]) == ("generation_internal_error", "GPU on fire")
    assert wait_gen(api, rejected["id"])["status"] == "REJECTED"


def test_list_newest_first_filtered_by_status_and_ids(api, media) -> None:
    ok = create(api, lipsync(media))
    bad = create(api, {"model": "lipsync-2", "input": [video_item(media.video)]})
    rejected = create(api, {"model": "lipsync-2", "input": [video_item(UNREACHABLE), audio_item(media.audio_long)]})  # fmt: skip
    for gen in (ok, bad, rejected):
        wait_gen(api, gen["id"])
    rows = api.get("/v2/generations").json()
    assert [r["id"] for r in rows] == [rejected["id"], bad["id"], ok["id"]]
    assert rows[0] == api.get(f"/v2/generate/{rejected['id']}").json()
    assert api.get("/v2/generate").json() == rows  # the older docs' list path
    ids = lambda **q: [r["id"] for r in api.get("/v2/generations", params=q).json()]  # noqa: E731
    assert ids(status="COMPLETED") == [ok["id"]]
    assert ids(status="FAILED,REJECTED") == [rejected["id"], bad["id"]]
    assert ids(status=["COMPLETED", "REJECTED"]) == [rejected["id"], ok["id"]]
    assert ids(status="PENDING") == []
    assert ids(ids=f"{ok['id']},{bad['id']}") == [bad["id"], ok["id"]]
    assert ids(ids=[ok["id"]], status="FAILED") == []
    assert_nest(api.get("/v2/generations", params={"status": "DONE"}), 400, "status must be one of")


# ---- idempotency -------------------------------------------------------------------------------
def test_same_idempotency_key_and_body_replays_one_generation(api, media) -> None:
    key = {"Idempotency-Key": "d9bc7a6e-73cd-4d9a-8a2b-2e6019846044"}
    first = api.post("/v2/generate", json=lipsync(media), headers=key)
    reordered = dict(reversed(list(lipsync(media).items())))  # same JSON, other key order
    again = api.post("/v2/generate", json=reordered, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert len(api.get("/v2/generations").json()) == 1  # no second job
    other = api.post(
        "/v2/generate", json=lipsync(media, options={"sync_mode": "loop"}), headers=key
    )
    assert assert_nest(other, 422, "different request body")["code"] == "IDEMPOTENCY_KEY_MISMATCH"
    assert create(api, lipsync(media))["id"] != first.json()["id"]  # no key: a new job


def test_idempotency_key_rules(api, media) -> None:
    for bad in ("", "has space", "x" * 129, "a/b"):
        r = api.post("/v2/generate", json=lipsync(media), headers={"Idempotency-Key": bad})
        assert assert_nest(r, 400, "Idempotency-Key")["code"] == "INVALID_IDEMPOTENCY_KEY", bad
    twice = [("Idempotency-Key", "a"), ("Idempotency-Key", "b")]
    assert_nest(api.post("/v2/generate", json=lipsync(media), headers=twice), 400)
    key = {"Idempotency-Key": "retry-1"}
    assert api.post("/v2/generate", json={"model": "lipsync-2"}, headers=key).status_code == 400
    assert create(api, lipsync(media), headers=key)["status"] == "PENDING"  # key not used up


# ---- cost estimate -----------------------------------------------------------------------------
def test_estimate_cost_is_frames_times_the_per_frame_price(api, media) -> None:
    def cost(model: str, mode: str, audio: str, path: str = "/v2/analyze/cost") -> list:
        body = {"model": model, "input": [video_item(media.video), audio_item(audio)], "options": {"sync_mode": mode}}  # fmt: skip
        r = api.post(path, json=body)
        assert r.status_code == 201, r.text
        return r.json()

    def priced(model: str, seconds: float) -> list:
        frames = round(seconds * FPS)  # the video's own frame rate (25 here)
        usd = frames * syncso.MODELS[model].price_per_second / syncso.PRICING_FPS
        return [{"estimatedFrameCount": frames, "estimatedGenerationCost": round(usd, 4)}]

    for model in syncso.MODELS:
        assert cost(model, "loop", media.audio_long) == priced(model, 3.0), model
    for mode, audio, seconds in (("cut_off", media.audio_long, 2.0), ("silence", media.audio_short, 2.0), ("remap", media.audio_short, 1.2), ("bounce", media.audio_short, 1.2)):  # fmt: skip
        assert cost("lipsync-2-pro", mode, audio) == priced("lipsync-2-pro", seconds), mode
    assert syncso.MODELS["lipsync-2"].price_per_second == 0.05  # sync.so's list price, per second
    for alias in ("/v2/generate/estimate-cost", "/v2/generations/estimate-cost"):
        assert cost("sync-3", "cut_off", media.audio_long, alias) == priced("sync-3", 2.0)
    assert api.get("/v2/generations").json() == []  # estimating starts nothing


def test_estimate_cost_refuses_what_it_cannot_measure(api, media) -> None:
    assert_nest(api.post("/v2/analyze/cost", json={"model": "lipsync-2"}), 400, "input must be")
    unreachable = {"model": "lipsync-2", "input": [video_item(UNREACHABLE), audio_item(media.audio_long)]}  # fmt: skip
    assert_nest(api.post("/v2/analyze/cost", json=unreachable), 400, "input.0.url could not be downloaded")  # fmt: skip
    no_audio = {"model": "lipsync-2", "input": [video_item(media.video)]}
    assert_nest(api.post("/v2/analyze/cost", json=no_audio), 400, "no audio")
    script = {"model": "lipsync-2", "input": [video_item(media.video), tts_item("a" * 45)], "options": {"sync_mode": "loop"}}  # fmt: skip
    assert (
        api.post("/v2/analyze/cost", json=script).json()[0]["estimatedFrameCount"] == 75
    )  # 45 chars = 3 s


# ---- multipart ---------------------------------------------------------------------------------
def test_create_with_files_stores_uploads_as_inputs(sandbox: Sandbox, api, media, tmp_path) -> None:
    files = {
        "video": ("talk.mp4", media.video_file.read_bytes(), "video/mp4"),
        "audio": ("voice.wav", media.audio_file.read_bytes(), "audio/wav"),
    }
    data = {"model": "lipsync-2", "options": json.dumps({"sync_mode": "loop"}), "webhookUrl": "https://example.com/h"}  # fmt: skip
    r = api.post("/v2/generate", data=data, files=files)
    assert r.status_code == 201, r.text
    gen = r.json()
    assert [i["type"] for i in gen["input"]] == ["video", "audio"]
    assert gen["options"]["sync_mode"] == "loop" and gen["webhookUrl"] == "https://example.com/h"
    for item, (_, content, _) in zip(gen["input"], files.values(), strict=True):
        assert item["url"].startswith(sandbox.base_url("syncso") + "/files/upload-")
        served = httpx.get(item["url"], trust_env=False).content
        assert_same_bytes(served, content, f"the served {item['type']} upload")
    done = wait_gen(api, gen["id"])
    assert done["status"] == "COMPLETED" and done["outputDuration"] == pytest.approx(3.0, abs=0.05)
    # an upload fills the item that has no url; JSON fields travel as JSON strings
    tts = json.dumps([{"type": "video"}, tts_item("Hi there.")])
    r = api.post("/v2/generate", data={"model": "sync-3", "input": tts}, files={"video": files["video"]})  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json()["input"][0]["url"].startswith(sandbox.base_url("syncso") + "/files/upload-")
    assert wait_gen(api, r.json()["id"])["status"] == "COMPLETED"
    # an earlier output is a valid input
    again = create(api, {"model": "lipsync-2", "input": [video_item(done["outputUrl"]), audio_item(media.audio_short)]})  # fmt: skip
    assert wait_gen(api, again["id"])["status"] == "COMPLETED"


def test_a_file_beside_a_url_takes_precedence(api, media, sandbox) -> None:
    """The docs: "combining both file and url inputs is also supported, with the file taking
    precedence"."""
    video = ("talk.mp4", media.video_file.read_bytes(), "video/mp4")
    both = json.dumps([video_item(media.video), audio_item(media.audio_short)])
    r = api.post("/v2/generate", data={"model": "lipsync-2", "input": both}, files={"video": video})
    assert r.status_code == 201, r.text
    url = r.json()["input"][0]["url"]
    assert url.startswith(sandbox.base_url("syncso") + "/files/upload-") and url != media.video
    assert wait_gen(api, r.json()["id"])["status"] == "COMPLETED"


def test_multipart_errors(api, media) -> None:
    video = ("talk.mp4", media.video_file.read_bytes(), "video/mp4")
    r = api.post("/v2/generate", data={"model": "lipsync-2", "options": "{loop"}, files={"video": video})  # fmt: skip
    assert_nest(r, 400, "options must be a JSON string")
    big = ("big.wav", b"\0" * (syncso.MAX_UPLOAD_BYTES + 1), "audio/wav")
    r = api.post("/v2/generate", data={"model": "lipsync-2"}, files={"video": video, "audio": big})
    assert_nest(r, 413, "20 MB")
    assert api.get("/v2/generations").json() == []


# ---- webhooks ----------------------------------------------------------------------------------
def verify(secret: str, header: str, body: bytes, tolerance: float = 300) -> bool:
    """The receiving side of providers.md's reading: HMAC-SHA256 over f"{t}.{raw body}"."""
    parts = dict(p.split("=", 1) for p in header.split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256)
    fresh = abs(time.time() - int(parts["t"])) <= tolerance
    return fresh and hmac.compare_digest(expected.hexdigest(), parts["v1"])


def test_webhooks_post_the_generation_signed_over_t_dot_body(sandbox: Sandbox, api, media) -> None:
    receiver = Receiver()
    try:
        ok = create(api, lipsync(media, webhookUrl=receiver.url))
        bad = create(api, {"model": "lipsync-2", "input": [video_item(media.video)], "webhookUrl": receiver.url})  # fmt: skip
        receiver.wait(lambda ps: {p["id"] for p in ps} == {ok["id"], bad["id"]})
        time.sleep(0.2)  # nothing else follows
        assert len(receiver.events) == 2
        secret = sandbox.webhook_secret("syncso")
        for headers, body in receiver.events:
            payload = json.loads(body)
            assert payload == api.get(f"/v2/generate/{payload['id']}").json()
            assert headers["Content-Type"] == "application/json"
            signature = headers["Sync-Signature"]
            assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", signature)
            assert verify(secret, signature, body)
            assert not verify(secret, signature, body.replace(b'"status"', b'"Status"'))
            assert not verify("whsec_other", signature, body)
            assert not verify(secret, signature, body, tolerance=-1)  # stale
        by_id = {json.loads(b)["id"]: json.loads(b) for _, b in receiver.events}
        assert by_id[ok["id"]]["status"] == "COMPLETED" and by_id[ok["id"]]["outputUrl"]
        assert (by_id[bad["id"]]["status"], by_id[bad["id"]]["error_code"]) == ("FAILED", "generation_audio_missing")  # fmt: skip
    finally:
        receiver.close()


# ---- outputs -----------------------------------------------------------------------------------
@pytest.mark.parametrize("case", list(EXPECTED_SECONDS))
def test_output_length_follows_sync_mode(finished, case) -> None:
    out = finished[case]
    expected = EXPECTED_SECONDS[case]
    info = probe(out["mp4"])
    assert info["video"]["codec"] == "h264" and info["audio"]["codec"] == "aac"
    assert (info["video"]["width"], info["video"]["height"]) == (WIDTH, HEIGHT)
    assert info["video"]["fps"] == FPS
    assert out["gen"]["outputDuration"] == pytest.approx(info["duration"], abs=0.001)
    assert info["duration"] == pytest.approx(expected, abs=0.06)
    assert count_frames(out["mp4"]) == round(expected * FPS)


@pytest.mark.parametrize(
    ("case", "source"),
    [
        (("cut_off", 3.0), lambda k: k),
        (("cut_off", 1.2), lambda k: k),
        (("loop", 3.0), lambda k: k % V_FRAMES),
        (("bounce", 3.0), lambda k: k if k < V_FRAMES else 2 * V_FRAMES - 1 - k),
        (("silence", 3.0), lambda k: min(k, V_FRAMES - 1)),
        (("silence", 1.2), lambda k: k),
        (("remap", 3.0), lambda k: k / 1.5),
        (("remap", 1.2), lambda k: k * V_SECONDS / 1.2),
    ],
    ids=lambda v: "-".join(map(str, v)) if isinstance(v, tuple) else "",
)
def test_output_shows_the_input_frames_on_the_sync_modes_timeline(finished, case, source) -> None:
    frames = all_frames(finished[case]["mp4"])
    shown = [source_index(f) for f in frames]
    for k, index in enumerate(shown):
        assert index == pytest.approx(min(source(k), V_FRAMES - 1), abs=1.5), (k, shown)
    # outside the face, the picture is the input's own
    assert np.abs(frames[:, 40:100].astype(int) - 200).mean() < 3


def test_output_carries_the_new_audio_not_the_videos_own(finished, media) -> None:
    out = finished[("cut_off", 3.0)]["mp4"]
    samples, rate = decode_audio(out, RATE)
    given, _ = decode_audio(media.audio_file, RATE)
    assert peak_hz(samples, rate) == pytest.approx(300, abs=5)  # the input video's tone is 1 kHz
    n = min(len(samples), round(2.0 * RATE))
    got_env = rms_per_frame(samples[:n], rate, V_FRAMES)
    want_env = rms_per_frame(given[:n], rate, V_FRAMES)
    assert np.corrcoef(got_env, want_env)[0, 1] > 0.98
    assert got_env.mean() == pytest.approx(want_env.mean(), rel=0.15)


def test_silence_mode_pads_short_audio_with_silence(finished) -> None:
    samples, rate = decode_audio(finished[("silence", 1.2)]["mp4"], RATE)
    assert np.sqrt(np.mean(samples[: round(1.1 * rate)] ** 2)) > 0.1
    assert np.sqrt(np.mean(samples[round(1.3 * rate) :] ** 2)) < 0.005


def test_mouth_opening_follows_the_audio_loudness(finished) -> None:
    for case in (("cut_off", 3.0), ("loop", 3.0), ("tts", "adam")):
        out = finished[case]["mp4"]
        frames = all_frames(out)
        samples, rate = decode_audio(out, RATE)
        loudness = rms_per_frame(samples, rate, len(frames))
        dark = dark_pixels(frames)
        assert dark.max() - dark.min() > 0.5 * dark.max(), (case, dark)  # it opens and closes
        r = np.corrcoef(dark, loudness)[0, 1]
        assert r > 0.85, (case, r)


def test_segments_put_each_audio_in_its_range(finished, tmp_path) -> None:
    out = finished["segments"]
    gen = out["gen"]
    assert gen["outputUrl"].endswith("-two_voices.mp4")
    assert gen["segments"] == out["body"]["segments"]
    assert gen["outputDuration"] == pytest.approx(V_SECONDS, abs=0.06)
    wav = download(gen["segmentOutputUrl"], tmp_path / name_of(gen["segmentOutputUrl"]))
    track, rate = decode_audio(wav, RATE)
    assert len(track) / rate == pytest.approx(V_SECONDS, abs=0.05)
    window = lambda a, b: track[round(a * rate) : round(b * rate)]  # noqa: E731
    assert peak_hz(window(0.1, 0.7), rate) == pytest.approx(300, abs=5)
    assert np.abs(window(0.85, 0.95)).max() < 0.01  # the gap between the segments
    assert peak_hz(window(1.1, 1.8), rate) == pytest.approx(600, abs=5)
    assert np.abs(window(1.92, 2.0)).max() < 0.01
    mixed, _ = decode_audio(out["mp4"], RATE)
    assert peak_hz(mixed[round(1.2 * rate) : round(1.7 * rate)], rate) == pytest.approx(600, abs=5)


def test_tts_speaks_the_script_in_a_voice_per_voice_id(finished) -> None:
    assert syncso.voice_spec(VOICES[0]) != syncso.voice_spec(VOICES[1])
    tracks = []
    for voice in VOICES:
        out = finished[("tts", voice)]
        samples, rate = decode_audio(out["mp4"], RATE)
        assert np.sqrt(np.mean(samples**2)) > 0.02  # speech, not silence
        assert out["gen"]["outputDuration"] == pytest.approx(len(samples) / rate, abs=0.1)
        assert 1.0 < out["gen"]["outputDuration"] < 5.0  # a short sentence, looped video
        tracks.append(samples)
    n = min(map(len, tracks))
    assert not np.allclose(tracks[0][:n], tracks[1][:n], atol=0.05)


# ---- asset library -----------------------------------------------------------------------------
def upload_asset(c: httpx.Client, path: Path, mime: str, kind: str, **extra: Any) -> dict[str, Any]:
    """The documented three steps: presign, PUT the bytes (no key), register the url."""
    data = path.read_bytes()
    r = c.post("/v2/assets/upload", json={"fileName": path.name, "contentType": mime, "size": len(data)})  # fmt: skip
    assert r.status_code == 201, r.text
    presigned = r.json()
    assert set(presigned) == {"uploadUrl", "url", "expiresIn"} and presigned["expiresIn"] == 3600
    put = httpx.put(presigned["uploadUrl"], content=data, headers={"Content-Type": mime}, trust_env=False)  # fmt: skip
    assert put.status_code == 200, put.text
    r = c.post("/v2/assets", json={"url": presigned["url"], "type": kind, **extra})
    assert r.status_code == 201, r.text
    return r.json()


def register(c: httpx.Client, url: str, kind: str, **extra: Any) -> dict[str, Any]:
    r = c.post("/v2/assets", json={"url": url, "type": kind, **extra})
    assert r.status_code == 201, r.text
    return r.json()


ASSET_KEYS = {
    "id", "createdAt", "updatedAt", "name", "url", "size", "format", "type", "inputType",
    "durationSeconds", "thumbnailUrl", "visibility", "width", "height", "projectId",
}  # fmt: skip


def test_assets_upload_register_get_and_delete(sandbox: Sandbox, api, media, tmp_path) -> None:
    video = upload_asset(api, media.video_file, "video/mp4", "VIDEO")
    assert set(video) == ASSET_KEYS and UUID.match(video["id"]) and ISO_MS.match(video["createdAt"])
    assert (video["type"], video["inputType"], video["visibility"]) == ("VIDEO", "UPLOAD", "USER")
    assert (video["name"], video["format"], video["width"], video["height"]) == ("talk.mp4", "mp4", WIDTH, HEIGHT)  # fmt: skip
    assert video["size"] == media.video_file.stat().st_size
    assert video["durationSeconds"] == pytest.approx(V_SECONDS, abs=0.05)
    assert_same_bytes(
        download(video["url"], tmp_path / "v.mp4").read_bytes(), media.video_file.read_bytes()
    )
    assert api.get(f"/v2/assets/{video['id']}").json() == video
    audio = register(api, media.audio_long, "AUDIO", name="voice take 1")
    assert (audio["inputType"], audio["name"], audio["width"]) == ("URL", "voice take 1", None)
    assert audio["durationSeconds"] == pytest.approx(3.0, abs=0.05)
    assert_same_bytes(
        download(audio["url"], tmp_path / "a.wav").read_bytes(), media.audio_file.read_bytes()
    )
    with client_for(sandbox, new_key()) as other:
        assert_nest(other.get(f"/v2/assets/{video['id']}"), 404, "not found")
        assert other.get("/v2/assets").json()["items"] == []
    r = api.delete(f"/v2/assets/{video['id']}")
    assert (r.status_code, r.json()) == (200, {"id": video["id"]})
    gone = assert_nest(api.get(f"/v2/assets/{video['id']}"), 404, video["id"])
    assert gone["errorCode"] == "asset_not_found"
    assert assert_nest(api.delete(f"/v2/assets/{video['id']}"), 404)["errorCode"] == "asset_not_found"  # fmt: skip


def test_asset_upload_and_register_rules(api, media) -> None:
    big = 5 * 1024**3
    ok = {"fileName": "a.mp4", "contentType": "video/mp4", "size": big}
    assert api.post("/v2/assets/upload", json=ok).status_code == 201
    assert_nest(api.post("/v2/assets/upload", json=ok | {"size": big + 1}), 400, "size must be an integer from 1 to")  # fmt: skip
    assert_nest(api.post("/v2/assets/upload", json=ok | {"size": 0}), 400, "size")
    assert_nest(api.post("/v2/assets/upload", json={"size": 1, "mime": "x"}), 400, "fileName", "contentType must be a MIME type", "property mime should not exist")  # fmt: skip
    data = media.video_file.read_bytes()
    pre = api.post("/v2/assets/upload", json={"fileName": "t.mp4", "contentType": "video/mp4", "size": len(data)}).json()  # fmt: skip
    assert httpx.put(pre["uploadUrl"], content=data, headers={"Content-Type": "video/webm"}, trust_env=False).status_code == 403  # fmt: skip
    assert httpx.put(pre["uploadUrl"], content=data + b"x", headers={"Content-Type": "video/mp4"}, trust_env=False).status_code == 400  # fmt: skip
    assert httpx.put(pre["uploadUrl"] + "x", content=data, headers={"Content-Type": "video/mp4"}, trust_env=False).status_code == 403  # fmt: skip
    assert_nest(api.post("/v2/assets", json={"url": pre["url"], "type": "VIDEO"}), 400, "url could not be verified")  # fmt: skip
    assert_nest(api.post("/v2/assets", json={"url": media.video, "type": "VIDEO", "projectId": "p1"}), 422, "p1")  # fmt: skip
    assert_nest(api.post("/v2/assets", json={"url": media.mute_video, "type": "AUDIO"}), 400, "not a readable audio file")  # fmt: skip
    assert_nest(api.post("/v2/assets", json={"url": media.garbage, "type": "VIDEO"}), 400, "not a readable video file")  # fmt: skip
    assert_nest(api.post("/v2/assets", json={"type": "MOVIE", "name": ""}), 400, "url should not be empty", "type must be one of the following values: AUDIO, VIDEO, IMAGE", "name must be a string")  # fmt: skip
    assert_nest(api.post("/v2/assets", json={"url": UNREACHABLE, "type": "VIDEO"}), 400, "could not be verified")  # fmt: skip
    assert api.get("/v2/assets").json() == {"items": [], "nextCursor": None, "totalCount": 0}


def test_asset_list_filters_sorts_and_pages(sandbox: Sandbox, api, media) -> None:
    made = [
        register(api, media.audio_short, "AUDIO", name="b-short"),
        register(api, media.audio_long, "AUDIO", name="c-long"),
        register(api, media.video, "VIDEO", name="a-clip"),
    ]
    ids = {a["name"]: a["id"] for a in made}

    def names(**params: Any) -> list[str]:
        r = api.get("/v2/assets", params=params)
        assert r.status_code == 200, r.text
        return [a["name"] for a in r.json()["items"]]

    assert names() == ["a-clip", "c-long", "b-short"]  # dateDesc by default
    assert names(sortBy="dateAsc") == ["b-short", "c-long", "a-clip"]
    assert names(sortBy="nameAsc") == ["a-clip", "b-short", "c-long"]
    assert names(sortBy="nameDesc") == ["c-long", "b-short", "a-clip"]
    assert names(sortBy="durationAsc") == ["b-short", "a-clip", "c-long"]
    assert names(sortBy="kindAsc")[-1] == "a-clip"
    assert names(types="AUDIO") == ["c-long", "b-short"]
    assert names(types=["AUDIO", "VIDEO"]) == names(types="AUDIO,VIDEO") == names()
    assert names(types="IMAGE") == []
    assert names(searchQuery="LONG") == ["c-long"]
    assert names(projectId="p1") == []
    seen, cursor = [], None
    while True:
        page = api.get("/v2/assets", params={"limit": 1, "sortBy": "nameAsc"} | ({"cursor": cursor} if cursor else {})).json()  # fmt: skip
        assert page["totalCount"] == 3 and len(page["items"]) == 1
        seen += [a["id"] for a in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == [ids["a-clip"], ids["b-short"], ids["c-long"]]
    assert len(names(limit=100)) == 3
    for bad, needle in [({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"sortBy": "sizeUp"}, "sortBy"), ({"types": "GIF"}, "types"), ({"cursor": "zzz"}, "cursor")]:  # fmt: skip
        assert_nest(api.get("/v2/assets", params=bad), 400, needle)


def test_inputs_by_asset_id_render_like_urls(sandbox: Sandbox, api, media) -> None:
    video = upload_asset(api, media.video_file, "video/mp4", "VIDEO")
    audio = register(api, media.audio_long, "AUDIO")
    body = {"model": "lipsync-2", "input": [{"type": "video", "assetId": video["id"]}, {"type": "audio", "assetId": audio["id"]}]}  # fmt: skip
    gen = create(api, body)
    assert gen["input"] == body["input"]
    done = wait_gen(api, gen["id"])
    assert done["status"] == "COMPLETED"  # cut_off: the 2 s video's length
    assert done["outputDuration"] == pytest.approx(V_SECONDS, abs=0.05)
    by_url = api.post("/v2/analyze/cost", json=lipsync(media)).json()
    assert api.post("/v2/analyze/cost", json=body).json() == by_url
    unknown = {"model": "lipsync-2", "input": [{"type": "video", "assetId": "6533643b-aceb-4c40-967e-d9ba9baac39e"}, audio_item(media.audio_long)]}  # fmt: skip
    for path in ("/v2/generate", "/v2/analyze/cost"):
        assert assert_nest(api.post(path, json=unknown), 404, "6533643b")["errorCode"] == "asset_not_found"  # fmt: skip
    swapped = {"model": "lipsync-2", "input": [{"type": "video", "assetId": audio["id"]}, audio_item(media.audio_long)]}  # fmt: skip
    assert_nest(api.post("/v2/generate", json=swapped), 400, "input.0.assetId names an AUDIO asset")
    with client_for(sandbox, new_key()) as other:
        assert_nest(other.post("/v2/generate", json=body), 404, "not found")


# ---- batches -----------------------------------------------------------------------------------
def batch_lines(body: dict[str, Any], n: int, **line: Any) -> list[dict[str, Any]]:
    return [{"request_id": f"req-{i}", "endpoint": "/v2/generate", "payload": body} | line for i in range(n)]  # fmt: skip


def jsonl(lines: list[Any]) -> bytes:
    return "".join(json.dumps(x) + "\n" for x in lines).encode()


def post_batch(c: httpx.Client, lines: list[Any] | bytes, **form: str) -> httpx.Response:
    data = lines if isinstance(lines, bytes) else jsonl(lines)
    return c.post("/v2/batch", files={"input": ("input.jsonl", data, "application/jsonl")}, data=form)  # fmt: skip


@pytest.fixture
def by_asset(api, media) -> dict[str, Any]:
    """A small create body naming a video and an audio asset (batch files stay small)."""
    video = upload_asset(api, media.video_file, "video/mp4", "VIDEO")
    audio = register(api, media.audio_long, "AUDIO")
    return {"model": "lipsync-2", "input": [{"type": "video", "assetId": video["id"]}, {"type": "audio", "assetId": audio["id"]}]}  # fmt: skip


BATCH_METRICS = {"total_generations", "success_count", "failed_count", "pending_count"}


def test_batch_renders_every_line_and_reports_results(sandbox: Sandbox, api, media, by_asset, tmp_path) -> None:  # fmt: skip
    lines = batch_lines(by_asset, 20)
    lines[3]["payload"] = {"model": "lipsync-2", "input": [by_asset["input"][0]]}  # no audio: fails
    with Receiver() as receiver:
        r = post_batch(api, lines, webhook_url=receiver.url)
        assert r.status_code == 201, r.text
        made = r.json()
        assert made["id"].startswith("batch_") and made["status"] == "PENDING"
        assert set(made) == {"id", "created_at", "status", "metrics", "webhookUrl", "outputUrl"}
        assert made["metrics"]["total_generations"] == 20 and made["outputUrl"] == ""
        assert set(made["metrics"]) == BATCH_METRICS and made["webhookUrl"] == receiver.url
        middle = api.get(f"/v2/batch/{made['id']}").json()
        assert middle["status"] in ("JOBS_CREATED", "PROCESSING", "COMPLETED")
        assert (
            create(api, lipsync(media))["status"] == "PENDING"
        )  # batch jobs leave concurrency free
        done = wait_for(api, f"/v2/batch/{made['id']}", "status", ("COMPLETED", "FAILED"), timeout=90)  # fmt: skip
        assert done["status"] == "COMPLETED"
        assert done["metrics"] == {"total_generations": 20, "success_count": 19, "failed_count": 1, "pending_count": 0}  # fmt: skip
        results = httpx.get(done["outputUrl"], trust_env=False)
        assert results.status_code == 200
        rows = [json.loads(line) for line in results.text.splitlines()]
        assert [row["request_id"] for row in rows] == [f"req-{i}" for i in range(20)]
        assert rows[3]["response"]["status"] == "FAILED"
        assert rows[3]["response"]["error_code"] == "generation_audio_missing"
        listed = {g["id"] for g in api.get("/v2/generations").json()}
        for row in rows:
            assert row["response"]["id"] in listed
            assert row["response"] == api.get(f"/v2/generate/{row['response']['id']}").json()
        out = download(rows[0]["response"]["outputUrl"], tmp_path / "b0.mp4")
        assert float(probe(out)["duration"]) == pytest.approx(V_SECONDS, abs=0.05)
        receiver.wait(lambda ps: len(ps) == 1)
        time.sleep(0.3)
        assert len(receiver.events) == 1  # once, when the batch ends
        headers, body = receiver.events[0]
        payload = json.loads(body)
        assert (payload["id"], payload["status"], payload["outputUrl"]) == (made["id"], "COMPLETED", done["outputUrl"])  # fmt: skip
        assert payload["metrics"] == {"totalGenerations": 20, "successCount": 19, "failedCount": 1, "pendingCount": 0}  # fmt: skip
        secret = sandbox.webhook_secret("syncso").encode()
        assert headers["X-Signature-Primary"] == hmac.new(secret, body, hashlib.sha256).hexdigest()
    listed = api.get("/v2/batch").json()
    assert [b["id"] for b in listed] == [made["id"]] and listed[0] == done
    assert api.get("/v2/batch", params={"status": "COMPLETED"}).json() == listed
    assert api.get("/v2/batch", params={"status": "PROCESSING"}).json() == []
    assert api.get("/v2/batch", params={"created_after": "2999-01-01T00:00:00Z"}).json() == []
    assert api.get("/v2/batch", params={"created_before": "2999-01-01T00:00:00Z"}).json() == listed
    assert_nest(api.get("/v2/batch", params={"status": "DONE"}), 400, "status must be one of")
    assert_nest(api.get("/v2/batch", params={"created_after": "yesterday"}), 400, "ISO 8601")
    assert_nest(api.get("/v2/batch/batch_nope"), 404, "batch_nope")


@pytest.mark.parametrize("marker", ["_hobbyist_", "_creator_", "_growth_"])
def test_batch_is_402_below_the_scale_plan(sandbox: Sandbox, media, marker) -> None:
    with client_for(sandbox, new_key(marker)) as c:
        lines = batch_lines(lipsync(media), 20)
        assert_nest(post_batch(c, lines), 402, "Scale and Enterprise")


def test_batch_file_rules_and_dry_run(sandbox: Sandbox, api, media, by_asset) -> None:
    assert_nest(post_batch(api, batch_lines(by_asset, 19)), 400, "20 to 500 requests (got 19)")
    assert_nest(post_batch(api, batch_lines(by_asset, 501)), 400, "20 to 500 requests (got 501)")
    lines = batch_lines(by_asset, 20)
    lines[1]["request_id"] = "req-0"
    lines[2]["endpoint"] = "/v2/generations"
    lines[4]["payload"] = {"model": "lipsync-9", "input": by_asset["input"]}
    lines[5] = lines[5] | {"extra": 1}
    lines[6]["payload"] = {"model": "lipsync-2", "input": [{"type": "video", "assetId": "nope"}, audio_item(media.audio_long)]}  # fmt: skip
    assert_nest(post_batch(api, lines), 400, 'line 2: request_id "req-0" is not unique', "line 3: endpoint must be /v2/generate", "line 5: payload: model must be one of", "line 6: property extra should not exist", "line 7: payload: Asset with id nope not found")  # fmt: skip
    assert_nest(post_batch(api, b"{not json\n" * 20), 400, "line 1: not valid JSON")
    assert_nest(post_batch(api, b"x" * (5 * 1024 * 1024 + 1)), 400, "the limit is 5 MB")
    assert_nest(post_batch(api, batch_lines(by_asset, 20), dry_run="maybe"), 400, "dry_run must be a boolean")  # fmt: skip
    assert_nest(post_batch(api, batch_lines(by_asset, 20), webhook_url="ftp://x"), 400, "webhook_url must be a URL")  # fmt: skip
    assert_nest(api.post("/v2/batch", data={"dry_run": "true"}), 400, "multipart")
    r = post_batch(api, batch_lines(by_asset, 500), dry_run="true")
    assert (r.status_code, r.json()) == (201, {"status": "VALIDATED"})
    assert api.get("/v2/batch").json() == [] and api.get("/v2/generations").json() == []


def test_batch_concurrency_is_429_with_its_error_code(sandbox: Sandbox, media) -> None:
    with client_for(sandbox, new_key()) as c:  # Scale
        lines = batch_lines({"model": "lipsync-2", "input": [video_item(media.video), tts_item("hi")]}, 20)  # fmt: skip
        fast, sandbox.speed = sandbox.speed, 0.05  # no batch may end before the last is sent
        ids = [post_batch(c, lines).json()["id"] for _ in range(syncso.BATCH_CONCURRENCY["scale"])]
        assert all(i.startswith("batch_") for i in ids)
        refused = assert_nest(post_batch(c, lines), 429, "Batch concurrency limit reached")
        assert refused["errorCode"] == "concurrency_limit_reached"
        sandbox.speed = fast
        for batch_id in ids:
            wait_for(c, f"/v2/batch/{batch_id}", "status", ("COMPLETED", "FAILED"), timeout=110)
        assert post_batch(c, lines).status_code == 201
        settle(c, timeout=110)


# ---- the real SDK (syncsdk, pinned in the test extra) ----------------------------------------
def test_the_real_syncsdk_works_unchanged(sandbox: Sandbox, media) -> None:
    import sync as sdk
    from sync.common import Audio, GenerationOptions, Video
    from sync.core.api_error import ApiError

    client = sdk.Sync(base_url=sandbox.base_url("syncso"), api_key=new_key())
    gen = client.generations.create(
        input=[Video(url=media.video), Audio(url=media.audio_long)],
        model="lipsync-2",
        options=GenerationOptions(sync_mode="loop"),
        output_file_name="quickstart",
    )
    while gen.status not in TERMINAL:
        time.sleep(0.05)
        gen = client.generations.get(gen.id)
    assert gen.status == "COMPLETED" and gen.output_duration == pytest.approx(3.0, abs=0.05)
    assert [g.id for g in client.generations.list(status=["COMPLETED"])] == [gen.id]
    cost = client.generations.estimate_cost(model="lipsync-2", input=[Video(url=media.video), Audio(url=media.audio_long)])  # fmt: skip
    assert cost[0].estimated_frame_count == 50
    uploaded = client.generations.create_with_files(
        model="lipsync-2",
        video=media.video_file.read_bytes(),
        audio=("voice.wav", media.audio_file.read_bytes(), "audio/wav"),
    )
    assert uploaded.status == "PENDING" and len(uploaded.input) == 2
    while uploaded.status not in TERMINAL:
        time.sleep(0.05)
        uploaded = client.generations.get(uploaded.id)
    assert uploaded.status == "COMPLETED"
    with pytest.raises(ApiError) as err:
        client.generations.get("no-such-id")
    assert err.value.status_code == 404


def test_the_real_syncsdk_covers_assets_batches_models_and_errors(sandbox: Sandbox, media) -> None:
    """Every route syncsdk 0.3.0 offers beyond generations, and each error it types, parsed by
    its own classes (the SDK has no asset upload: the library is filled over plain HTTP)."""
    import sync as sdk
    from sync.common import Audio, Video
    from sync.common.errors import (
        BadRequestError,
        NotFoundError,
        PaymentRequiredError,
        TooManyRequestsError,
        UnauthorizedError,
    )
    from sync.common.types import Asset, BatchResponse, ModelInfo, ValidationResponse

    key = new_key()
    client = sdk.Sync(base_url=sandbox.base_url("syncso"), api_key=key)
    models = client.models.list()
    assert all(isinstance(m, ModelInfo) for m in models)
    assert [m.name for m in models] == list(syncso.MODELS) and models[0].type == "lipsync"
    with client_for(sandbox, key) as c:
        video = upload_asset(c, media.video_file, "video/mp4", "VIDEO")
        audio = register(c, media.audio_long, "AUDIO", name="voice")
    page = client.assets.list(types=["AUDIO"], sort_by="nameAsc", limit=10)
    assert [a.id for a in page.items] == [audio["id"]] and page.total_count == 1
    got = client.assets.get(video["id"])
    assert isinstance(got, Asset) and (got.type, got.width, got.input_type) == ("VIDEO", WIDTH, "UPLOAD")  # fmt: skip
    with pytest.raises(NotFoundError) as missing:
        client.assets.get("no-such-asset")
    assert missing.value.body.status_code == 404 and "no-such-asset" in missing.value.body.message
    gen = client.generations.create(
        input=[Video(asset_id=video["id"]), Audio(asset_id=audio["id"])], model="lipsync-2"
    )
    while gen.status not in TERMINAL:
        time.sleep(0.05)
        gen = client.generations.get(gen.id)
    assert gen.status == "COMPLETED"
    body = {"model": "lipsync-2", "input": [{"type": "video", "assetId": video["id"]}, {"type": "audio", "assetId": audio["id"]}]}  # fmt: skip
    lines = jsonl(batch_lines(body, 20))
    checked = client.batch.create(input=("input.jsonl", lines, "application/jsonl"), dry_run=True)
    assert isinstance(checked, ValidationResponse) and checked.status == "VALIDATED"
    batch = client.batch.create(input=("input.jsonl", lines, "application/jsonl"))
    assert isinstance(batch, BatchResponse) and batch.status == "PENDING"
    assert batch.metrics.total_generations == 20
    while batch.status not in ("COMPLETED", "FAILED"):
        time.sleep(0.05)
        batch = client.batch.get(batch.id)
    assert batch.status == "COMPLETED" and batch.metrics.success_count == 20
    assert batch.output_url.endswith(f"/v2/batches/{batch.id}/result")
    assert [b.id for b in client.batch.list(status="COMPLETED")] == [batch.id]
    with pytest.raises(NotFoundError):
        client.batch.get("batch_missing")
    with pytest.raises(BadRequestError) as bad:
        client.batch.create(input=("input.jsonl", jsonl(batch_lines(body, 3)), "application/jsonl"))
    assert bad.value.body.status_code == 400 and "20 to 500" in bad.value.body.message[0]
    small = sdk.Sync(base_url=sandbox.base_url("syncso"), api_key=new_key("_growth_"))
    with pytest.raises(PaymentRequiredError) as unpaid:
        small.batch.create(input=("input.jsonl", lines, "application/jsonl"))
    assert unpaid.value.status_code == 402 and "Scale" in unpaid.value.body.message
    busy = sdk.Sync(base_url=sandbox.base_url("syncso"), api_key=new_key())
    tts_body = {"model": "lipsync-2", "input": [video_item(media.video), tts_item("hi")]}
    tts_lines = jsonl(batch_lines(tts_body, 20))
    fast, sandbox.speed = sandbox.speed, 0.05  # no batch may end before the last is sent
    started = [busy.batch.create(input=("in.jsonl", tts_lines)) for _ in range(syncso.BATCH_CONCURRENCY["scale"])]  # fmt: skip
    with pytest.raises(TooManyRequestsError) as throttled:
        busy.batch.create(input=("in.jsonl", tts_lines))
    assert throttled.value.body.status_code == 429
    sandbox.speed = fast
    for b in started:
        while busy.batch.get(b.id).status not in ("COMPLETED", "FAILED"):
            time.sleep(0.05)
    anonymous = sdk.Sync(base_url=sandbox.base_url("syncso"), api_key="")
    for call in (anonymous.models.list, anonymous.assets.list, anonymous.batch.list):
        with pytest.raises(UnauthorizedError) as denied:
            call()
        assert denied.value.body.status_code == 401
