"""The sandbox's Vimmerse media API over real HTTP: the documented example, validation, errors,
PATCH semantics, lifecycle, real outputs (sizes, quantity, narration voices, image frames,
loops, music), input URLs, webhooks and faults. Written against the contract (providers.md and
api-docs/vimmerse.txt), not against the client."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from nbmedia.sandbox import Sandbox
from tests.conftest import Receiver, download, png_data_uri, sandbox_client, wait_for
from tests.mediacheck import audio_rms, decode_audio, fingerprint, frame, probe

pytestmark = pytest.mark.timeout(120)

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
DOC_KEYS = [
    "id", "title", "description", "customer_id", "primary_user_id", "media_items",
    "duration_time", "processing_status", "pose_preset", "submit_params", "result",
    "webhook_url", "created_at", "updated_at", "version",
]  # fmt: skip
"""The keys of the page's example object."""
EXTRA_KEYS = {"progress_percentage", "visibility_status", "rating"}
"""Our reading: the v1 progress field, and the metadata a PATCH can set."""
SIZES = {"16:9": (640, 360), "4:3": (640, 480), "1:1": (640, 640), "3:4": (480, 640),
         "9:16": (360, 640)}  # fmt: skip
NARRATION = "Introducing the next generation of smart performance."


# ---- helpers -----------------------------------------------------------------------------------
def new_key(marker: str = "") -> str:
    return f"vk{marker or '_'}{secrets.token_hex(6)}"


def client_for(sandbox: Sandbox, key: str | None) -> httpx.Client:
    return sandbox_client(sandbox, "vimmerse", {"X-Api-Key": key} if key is not None else None)


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with client_for(sandbox, new_key()) as c:
        yield c


def create(api: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    r = api.post("/v2/media", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def wait_media(api: httpx.Client, media_id: str) -> dict[str, Any]:
    return wait_for(api, f"/v2/media/{media_id}", "processing_status", ("success", "failed"))


def download_mp4(url: str, path: Path) -> Path:
    return download(url, path, content_type="video/mp4")


def pitch_hz(path: Path) -> float:
    """Median fundamental frequency of the voiced 40 ms windows (autocorrelation)."""
    samples, rate = decode_audio(path, 16000)
    n, f0 = 640, []
    for start in range(0, len(samples) - n, n // 2):
        w = samples[start : start + n].astype(np.float64)
        if np.sqrt(np.mean(w**2)) < 0.02:
            continue
        ac = np.correlate(w, w, "full")[n - 1 :]
        lo, hi = rate // 400, rate // 70
        f0.append(rate / (lo + int(np.argmax(ac[lo:hi]))))
    assert f0, f"no voiced audio in {path}"
    return float(np.median(f0))


# ---- outputs made once, in parallel --------------------------------------------------------------
RED = (230, 20, 30)
MADE: dict[str, dict[str, Any]] = {
    "q3": {"prompt": "Neon rain on Tokyo streets", "duration": 1, "quantity": 3},
    **{
        f"aspect {a}": {"prompt": "Aspect", "duration": 1, "aspect_ratio": a}
        for a in ("4:3", "1:1", "3:4", "9:16")
    },
    "sarah": {"prompt": "Narrated", "duration": 1, "loop": 4,
              "audio_option": {"narrator": "Sarah", "narration": NARRATION}},
    "roger": {"prompt": "Narrated", "duration": 1,
              "audio_option": {"narrator": "Roger", "narration": NARRATION}},
    "image": {"media_items": [{"type": "image", "url": png_data_uri(RED)}], "duration": 1},
    "loop": {"prompt": "Looping", "duration": 1, "loop": 3,
             "audio_option": {"bg_music_prompt": "upbeat dance"}},
    "native": {"prompt": "Native", "duration": 1, "audio_option": {"native_audio": True}},
}  # fmt: skip


@pytest.fixture(scope="module")
def made(sandbox: Sandbox) -> Iterator[dict[str, Any]]:
    key = new_key()
    with client_for(sandbox, key) as c:
        created = {name: create(c, body) for name, body in MADE.items()}
        done = {name: wait_media(c, m["id"]) for name, m in created.items()}
        assert all(m["processing_status"] == "success" for m in done.values()), done
        yield {"key": key, "created": created, "done": done}


@pytest.fixture(scope="module")
def files(made: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The first output of every made media, downloaded."""
    folder = tmp_path_factory.mktemp("vimmerse")
    return {
        name: download_mp4(m["result"][0], folder / f"{i}.mp4")
        for i, (name, m) in enumerate(made["done"].items())
    }


# ---- the media object -----------------------------------------------------------------------------
def test_created_object_has_the_documented_shape_and_defaults(sandbox, api) -> None:
    sandbox.faults.fail_next_jobs(1)  # the shape is all we look at: skip the rendering
    media = create(api, {"prompt": "A cinematic shot over mountains at sunrise"})
    assert [k for k in media if k in DOC_KEYS] == DOC_KEYS
    assert set(media) == set(DOC_KEYS) | EXTRA_KEYS
    assert re.fullmatch(r"[0-9a-f-]{36}", media["id"])
    assert media["processing_status"] == "new" and media["progress_percentage"] == 0
    assert media["pose_preset"] == {
        "motion_type": "Auto",
        "prompt": "A cinematic shot over mountains at sunrise",
        "quantity": 1,
        "motion_length": 5,
        "loop": 1,
    }
    assert media["submit_params"] == {"native_audio": False, "file_size": "", "scale_factor": "1"}
    assert (media["title"], media["description"], media["webhook_url"]) == ("", "", "")
    assert media["media_items"] is None and media["result"] == []
    assert media["duration_time"] == "5" and media["version"] == "3"
    assert ISO.match(media["created_at"]) and ISO.match(media["updated_at"])
    assert media["visibility_status"] == "1" and media["rating"] is None
    assert isinstance(media["customer_id"], str) and isinstance(media["primary_user_id"], str)
    again = create(api, {"prompt": "x", "video_tool": "Sora", "unknown_field": [1]})
    assert again["customer_id"] == media["customer_id"] and again["id"] != media["id"]
    assert again["pose_preset"]["motion_type"] == "Sora"


def test_lax_values_are_coerced_like_fastapi(sandbox, api) -> None:
    sandbox.faults.fail_next_jobs(1)
    media = create(api, {"prompt": "x", "quantity": "2", "duration": 3.0, "loop": None})
    preset = media["pose_preset"]
    assert (preset["quantity"], preset["motion_length"], preset["loop"]) == (2, 3, 1)


# ---- 422: every rule -------------------------------------------------------------------------------
URL = "https://example.com/a.png"
BAD = [
    ({}, ["body", "prompt"], "value_error"),
    ({"prompt": None, "media_items": None}, ["body", "prompt"], "value_error"),
    ({"prompt": "   "}, ["body", "prompt"], "value_error"),
    ({"media_items": []}, ["body", "prompt"], "value_error"),
    ({"prompt": 5}, ["body", "prompt"], "string_type"),
    ({"prompt": "x", "title": 1}, ["body", "title"], "string_type"),
    ({"prompt": "x", "description": ["d"]}, ["body", "description"], "string_type"),
    ({"prompt": "x", "webhook_url": 7}, ["body", "webhook_url"], "string_type"),
    ({"prompt": "x", "quantity": 0}, ["body", "quantity"], "greater_than_equal"),
    ({"prompt": "x", "quantity": 5}, ["body", "quantity"], "less_than_equal"),
    ({"prompt": "x", "quantity": 2.5}, ["body", "quantity"], "int_from_float"),
    ({"prompt": "x", "quantity": "many"}, ["body", "quantity"], "int_parsing"),
    ({"prompt": "x", "duration": 0}, ["body", "duration"], "greater_than_equal"),
    ({"prompt": "x", "duration": 11}, ["body", "duration"], "less_than_equal"),
    ({"prompt": "x", "loop": 0}, ["body", "loop"], "greater_than_equal"),
    ({"prompt": "x", "loop": 7}, ["body", "loop"], "less_than_equal"),
    ({"prompt": "x", "aspect_ratio": "2:1"}, ["body", "aspect_ratio"], "literal_error"),
    ({"prompt": "x", "video_tool": "auto"}, ["body", "video_tool"], "literal_error"),
    ({"prompt": "x", "pipeline_mode": "Fast"}, ["body", "pipeline_mode"], "literal_error"),
    ({"prompt": "x", "audio_option": "Sarah"}, ["body", "audio_option"], "model_type"),
    ({"prompt": "x", "audio_option": {"narrator": "Bob"}},
     ["body", "audio_option", "narrator"], "literal_error"),
    ({"prompt": "x", "audio_option": {"narrator": "sarah"}},
     ["body", "audio_option", "narrator"], "literal_error"),
    ({"prompt": "x", "audio_option": {"native_audio": "maybe"}},
     ["body", "audio_option", "native_audio"], "bool_parsing"),
    ({"prompt": "x", "audio_option": {"narration": 3}},
     ["body", "audio_option", "narration"], "string_type"),
    ({"media_items": URL}, ["body", "media_items"], "list_type"),
    ({"media_items": [{"type": "gif", "url": URL}]}, ["body", "media_items", 0, "type"],
     "literal_error"),
    ({"media_items": [{"type": "image"}]}, ["body", "media_items", 0, "url"], "missing"),
    ({"media_items": [{"url": URL}]}, ["body", "media_items", 0, "type"], "missing"),
    ({"media_items": [{"type": "image", "url": URL, "position": 1}]},
     ["body", "media_items", 0, "position"], "string_type"),
]  # fmt: skip


def assert_invalid(r: httpx.Response, *fields: str) -> str:
    """A 422 in v2's one error shape, its message naming `fields` in order; the message."""
    assert r.status_code == 422, r.text
    body = r.json()
    assert sorted(body) == ["code", "message"] and body["code"] == "VALIDATION_ERROR", body
    message = body["message"]
    at = [message.find(f"{f}: ") for f in fields]
    assert message.startswith(f"{fields[0]}: ") and at == sorted(at) and -1 not in at, message
    return message


@pytest.mark.parametrize(("body", "loc", "kind"), BAD)
def test_422_names_the_field(api: httpx.Client, body, loc, kind) -> None:
    """v2 answers every error, validation included, with exactly {message, code}."""
    field = ".".join(str(p) for p in loc[1:])
    message = assert_invalid(api.post("/v2/media", json=body), field)
    assert len(message) > len(field) + 2  # says what is wrong, not only where


def test_422_for_bodies_that_are_not_a_json_object(api: httpx.Client) -> None:
    for content in (b"{not json", b"", b"[1, 2]", b'"prompt"'):
        r = api.post("/v2/media", content=content, headers={"Content-Type": "application/json"})
        assert_invalid(r, "body")


def test_422_lists_every_broken_field(api: httpx.Client) -> None:
    r = api.post("/v2/media", json={"prompt": "x", "quantity": 9, "loop": 0, "duration": "z"})
    assert_invalid(r, "quantity", "duration", "loop")


# ---- 401, 402, 404 --------------------------------------------------------------------------------
def test_401_without_a_key(sandbox: Sandbox) -> None:
    for key in (None, ""):
        with client_for(sandbox, key) as c:
            for r in (
                c.post("/v2/media", json={"prompt": "x"}),
                c.get("/v2/media/abc"),
                c.patch("/v2/media/abc", json={}),
            ):
                assert r.status_code == 401
                assert r.json() == {"message": r.json()["message"], "code": "UNAUTHORIZED"}


def test_402_insufficient_credit_after_validation(sandbox: Sandbox) -> None:
    with client_for(sandbox, new_key("_nocredit_")) as c:
        r = c.post("/v2/media", json={"prompt": "x"})
        assert r.status_code == 402
        assert list(r.json()) == ["message", "code"] and r.json()["code"] == "INSUFFICIENT_CREDIT"
        assert c.post("/v2/media", json={"prompt": "x", "loop": 9}).status_code == 422
        assert c.patch("/v2/media/nope", json={"prompt": "y"}).status_code == 404


def test_404_unknown_media_another_keys_media_and_unknown_route(api, made) -> None:
    theirs = made["done"]["q3"]["id"]
    for r in (
        api.get("/v2/media/abc123-def456-ghi789"),
        api.get(f"/v2/media/{theirs}"),
        api.patch(f"/v2/media/{theirs}", json={"title": "mine now"}),
    ):
        assert r.status_code == 404
        assert r.json() == {
            "message": "The requested media was not found or you do not have access.",
            "code": "MEDIA_NOT_FOUND",
        }
    r = api.get("/v2/nothing")
    assert r.status_code == 404 and list(r.json()) == ["message", "code"]
    r = api.delete(f"/v2/media/{theirs}")
    assert r.status_code == 405 and r.json()["code"] == "METHOD_NOT_ALLOWED"


# ---- GET ?fields= ----------------------------------------------------------------------------------
def test_fields_query_limits_the_keys(sandbox: Sandbox, made) -> None:
    media_id = made["done"]["q3"]["id"]
    with client_for(sandbox, made["key"]) as c:
        r = c.get(f"/v2/media/{media_id}", params={"fields": "processing_status,result,id"})
        assert r.status_code == 200
        assert r.json() == {
            "id": media_id,
            "processing_status": "success",
            "result": made["done"]["q3"]["result"],
        }
        assert c.get(f"/v2/media/{media_id}", params={"fields": "version"}).json() == {
            "version": "3"
        }
        r = c.get(f"/v2/media/{media_id}", params={"fields": "id,password"})
        assert "password" in assert_invalid(r, "fields")


# ---- lifecycle and PATCH ---------------------------------------------------------------------------
def test_lifecycle_new_then_success_with_rising_progress(sandbox, api) -> None:
    sandbox.speed = 5  # 0.2 s new, then ~1.05 s processing
    media = create(api, {"prompt": "rise", "duration": 1})
    seen = []
    while not seen or seen[-1][0] not in ("success", "failed"):
        m = api.get(f"/v2/media/{media['id']}").json()
        seen.append((m["processing_status"], m["progress_percentage"], m["updated_at"]))
        time.sleep(0.03)
    statuses = [s for s, _, _ in seen]
    assert set(statuses[:-1]) == {"new"} and statuses[-1] == "success"  # v2's documented values
    progress = [p for _, p, _ in seen]
    assert progress == sorted(progress) and progress[-1] == 100
    assert len({p for s, p, _ in seen if s == "new" and 0 < p < 100}) >= 3  # rendering
    assert seen[-1][2] > media["updated_at"] == media["created_at"]
    assert m["result"] and m["duration_time"] == "1"


def test_patch_empty_body_changes_nothing(sandbox: Sandbox, made) -> None:
    before = made["done"]["image"]
    with client_for(sandbox, made["key"]) as c:
        r = c.patch(f"/v2/media/{before['id']}", json={})
        assert r.status_code == 200 and r.json() == c.get(f"/v2/media/{before['id']}").json()
        assert r.json()["updated_at"] == before["updated_at"]
        assert r.json()["result"] == before["result"]


def test_patch_metadata_updates_in_place(sandbox: Sandbox, api: httpx.Client) -> None:
    sandbox.faults.fail_next_jobs(1)  # metadata only: the generation's outcome is irrelevant
    media = wait_media(api, create(api, {"prompt": "meta"})["id"])
    change = {"title": "New title", "description": "New words", "visibility_status": "2",
              "rating": 4.5, "webhook_url": "http://127.0.0.1:9/hook"}  # fmt: skip
    r = api.patch(f"/v2/media/{media['id']}", json=change)
    assert r.status_code == 200
    after = r.json()
    assert {k: after[k] for k in change} == change
    assert after["processing_status"] == "failed"  # no new generation
    assert after["updated_at"] > media["updated_at"] and after["created_at"] == media["created_at"]
    assert api.get(f"/v2/media/{media['id']}").json() == after
    for bad, loc in [
        ({"visibility_status": "3"}, "visibility_status"),
        ({"rating": "top"}, "rating"),
    ]:
        assert_invalid(api.patch(f"/v2/media/{media['id']}", json=bad), loc)


def test_patch_generation_keys_regenerate_the_same_media(sandbox: Sandbox, made) -> None:
    before = made["done"]["roger"]
    with client_for(sandbox, made["key"]) as c:
        r = c.patch(f"/v2/media/{before['id']}", json={"prompt": "Second take", "quantity": 2})
        assert r.status_code == 200
        media = r.json()
        assert media["id"] == before["id"] and media["processing_status"] == "new"
        assert media["pose_preset"]["prompt"] == "Second take"
        assert media["pose_preset"]["quantity"] == 2
        assert media["pose_preset"]["motion_length"] == 1  # kept from the first request
        assert media["result"] == before["result"]  # until the new generation succeeds
        done = wait_media(c, media["id"])
        assert done["processing_status"] == "success" and len(done["result"]) == 2
        assert not set(done["result"]) & set(before["result"])
        bad = c.patch(f"/v2/media/{before['id']}", json={"quantity": 9})
        assert bad.status_code == 422
        gone = c.patch(f"/v2/media/{before['id']}", json={"prompt": "", "media_items": []})
        assert_invalid(gone, "prompt")
        assert c.get(f"/v2/media/{before['id']}").json()["result"] == done["result"]


# ---- outputs ---------------------------------------------------------------------------------------
def test_quantity_3_gives_3_distinct_playable_videos(made, tmp_path: Path) -> None:
    urls = made["done"]["q3"]["result"]
    assert len(urls) == 3 and len(set(urls)) == 3
    paths = [download_mp4(u, tmp_path / f"{i}.mp4") for i, u in enumerate(urls)]
    for p in paths:
        info = probe(p)
        assert info["video"]["codec"] == "h264" and info["video"]["fps"] == pytest.approx(24)
        assert info["duration"] == pytest.approx(1, abs=0.1)
        assert info["audio"] is None  # nothing audible was asked for
    prints = [fingerprint(p.read_bytes()) for p in paths]
    assert len(set(prints)) == 3, prints
    first = [frame(p, 0.5) for p in paths]
    assert (first[0] != first[1]).any() and (first[1] != first[2]).any()
    assert made["done"]["q3"]["submit_params"]["file_size"] == str(
        sum(p.stat().st_size for p in paths)
    )


def test_aspect_ratios_give_their_preview_sizes(made, files) -> None:
    for aspect, size in SIZES.items():
        name = "q3" if aspect == "16:9" else f"aspect {aspect}"
        v = probe(files[name])["video"]
        assert (v["width"], v["height"]) == size, aspect


def test_narration_is_audible_sets_the_length_and_voices_differ(made, files) -> None:
    sarah, roger = probe(files["sarah"]), probe(files["roger"])
    for info in (sarah, roger):
        assert info["audio"] is not None
        assert 2.0 < info["duration"] < 5  # the narration's length: loop 4 x 1 s is ignored
    assert audio_rms(files["sarah"]) > 0.02 and audio_rms(files["roger"]) > 0.02
    assert made["done"]["sarah"]["duration_time"] == f"{round(sarah['duration'], 2):g}"
    assert pitch_hz(files["sarah"]) > 1.4 * pitch_hz(files["roger"])


def test_image_items_are_the_frames(made, files) -> None:
    picture = frame(files["image"], 0.5).astype(int)
    h, w, _ = picture.shape
    centre = picture[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4].reshape(-1, 3).mean(axis=0)
    assert np.abs(centre - RED).max() < 25, centre
    assert made["done"]["image"]["media_items"][0]["type"] == "image"


def test_loop_repeats_the_scene_under_background_music(files) -> None:
    info = probe(files["loop"])
    assert info["duration"] == pytest.approx(3, abs=0.1)
    assert info["audio"] is not None and audio_rms(files["loop"]) > 0.05
    a, b = frame(files["loop"], 0.4).astype(int), frame(files["loop"], 1.4).astype(int)
    later = frame(files["loop"], 0.9).astype(int)
    assert np.abs(a - b).mean() < 1  # the same scene one loop later
    assert np.abs(a - later).mean() > 3 * np.abs(a - b).mean()  # while the scene itself moves


def test_native_audio_alone_adds_a_quiet_track(files) -> None:
    info = probe(files["native"])
    assert info["audio"] is not None
    assert 0.005 < audio_rms(files["native"]) < 0.08


# ---- input URLs ------------------------------------------------------------------------------------
def test_unreachable_or_wrong_inputs_are_job_create_failed(sandbox, api) -> None:
    cases = [
        ({"media_items": [{"type": "image", "url": "https://example.com/cat.png"}]},
         "https://example.com/cat.png"),
        ({"prompt": "x", "audio_option": {"narration_url": "https://example.com/vo.mp3"}},
         "https://example.com/vo.mp3"),
        ({"prompt": "x", "audio_option": {"bg_music_url": "ftp://example.com/bg.mp3"}},
         "ftp://example.com/bg.mp3"),
        ({"media_items": [{"type": "image", "url": f"{sandbox.url}/vimmerse/files/none.png"}]},
         "none.png"),
        ({"media_items": [{"type": "image", "url": "data:image/png;base64,bm90IGEgcG5n"}]},
         "not an image"),
        ({"media_items": [{"type": "video", "url": png_data_uri(RED)[:40] + "AAAA"}]},
         "media_items[0]"),
        ({"media_items": [{"type": "audio", "url": png_data_uri(RED)}], "prompt": "x"},
         "no audio"),
    ]  # fmt: skip
    for body, named in cases:
        r = api.post("/v2/media", json=body)
        assert r.status_code == 400, (body, r.text)
        assert list(r.json()) == ["message", "code"] and r.json()["code"] == "JOB_CREATE_FAILED"
        assert named in r.json()["message"], r.json()


def test_sandbox_served_urls_are_accepted_as_inputs(sandbox, made, tmp_path) -> None:
    video_url, voice_url = made["done"]["q3"]["result"][0], made["done"]["sarah"]["result"][0]
    with client_for(sandbox, new_key()) as c:
        media = create(c, {
            "media_items": [{"type": "video", "url": video_url}],
            "duration": 1,
            "audio_option": {"narration_url": voice_url, "narration": "ignored: url wins"},
        })  # fmt: skip
        done = wait_media(c, media["id"])
    assert done["processing_status"] == "success"
    out = download_mp4(done["result"][0], tmp_path / "reuse.mp4")
    sarah = probe(download_mp4(voice_url, tmp_path / "sarah.mp4"))["duration"]
    assert probe(out)["audio"] is not None
    assert probe(out)["duration"] == pytest.approx(sarah, abs=0.15)
    still = frame(download_mp4(video_url, tmp_path / "src.mp4"), 0.0).astype(int)
    assert np.abs(frame(out, 0.0).astype(int) - still).mean() < 60


def test_audio_items_take_precedence_over_audio_option(sandbox, made, tmp_path) -> None:
    voice_url = made["done"]["roger"]["result"][0]
    with client_for(sandbox, new_key()) as c:
        media = create(c, {
            "prompt": "Audio item",
            "duration": 1,
            "media_items": [{"type": "audio", "url": voice_url}, {"type": "audio", "url": voice_url}],
            "audio_option": {"narration_url": "https://example.com/never-fetched.mp3"},
        })  # fmt: skip
        done = wait_media(c, media["id"])
    roger = probe(download_mp4(voice_url, tmp_path / "roger.mp4"))["duration"]
    out = probe(download_mp4(done["result"][0], tmp_path / "items.mp4"))
    assert out["audio"] is not None and out["duration"] == pytest.approx(2 * roger, abs=0.2)


# ---- webhooks --------------------------------------------------------------------------------------
def test_webhook_when_a_generation_ends(sandbox: Sandbox, api, receiver: Receiver) -> None:
    ok = create(api, {"prompt": "hook", "duration": 1, "webhook_url": receiver.url})
    assert ok["webhook_url"] == receiver.url
    sandbox.faults.fail_next_jobs(1)
    bad = create(api, {"prompt": "hook fails", "webhook_url": receiver.url})
    receiver.wait(lambda bodies: len(bodies) >= 2)
    time.sleep(0.2)  # nothing else arrives: one call per generation, none while processing
    by_id = {b["media_id"]: b for b in receiver.payloads()}
    assert len(receiver.events) == 2
    assert by_id[ok["id"]] == {"customer_id": ok["customer_id"], "media_id": ok["id"],
                               "status": "success"}  # fmt: skip
    assert by_id[bad["id"]]["status"] == "failed"
    assert all(h["Content-Type"] == "application/json" for h, _ in receiver.events)
    assert api.get(f"/v2/media/{ok['id']}").json()["processing_status"] == "success"


# ---- faults ----------------------------------------------------------------------------------------
def test_failed_generation_reports_failed_with_a_reason(sandbox: Sandbox, api) -> None:
    sandbox.faults.fail_next_jobs(1, code="content_policy_violation", message="Not allowed.")
    media = wait_media(api, create(api, {"prompt": "fails", "quantity": 2})["id"])
    assert media["processing_status"] == "failed" and media["result"] == []
    assert media["error"] == {"message": "Not allowed.", "code": "content_policy_violation"}
    assert media["submit_params"]["file_size"] == ""


def test_request_faults_keep_the_message_code_shape(sandbox: Sandbox, api) -> None:
    sandbox.faults.rate_limit_next(1, retry_after=3)
    r = api.post("/v2/media", json={"prompt": "x"})
    assert r.status_code == 429 and r.json() == {"message": r.json()["message"],
                                                  "code": "RATE_LIMITED"}  # fmt: skip
    assert r.headers["Retry-After"] == "3"
    sandbox.faults.error_rate = 1.0
    r = api.get("/v2/media/abc")
    assert r.status_code == 500 and r.json()["code"] == "INTERNAL_ERROR"
    assert list(r.json()) == ["message", "code"]
    sandbox.faults.error_rate = 0.0
    sandbox.faults.fail_next_requests(1)
    r = api.get("/v2/media/abc")
    assert r.status_code == 503 and list(r.json()) == ["message", "code"]
    assert api.get("/v2/media/abc").json()["code"] == "MEDIA_NOT_FOUND"
