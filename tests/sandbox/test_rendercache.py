"""The render cache: identical requests are rendered once and get byte-identical files under
their own names; a request that differs in one field that changes the bytes is rendered on
its own. First the cache alone, then each provider over real HTTP, counting real renders."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from nbmedia.sandbox import Sandbox
from nbmedia.sandbox.services.media import speech, video
from nbmedia.sandbox.services.rendercache import RenderCache
from nbmedia.sandbox.syncso import rendering as syncso_rendering
from nbmedia.sandbox.viddyscribe import rendering as viddyscribe_rendering
from nbmedia.sandbox.vimmerse import rendering as vimmerse_rendering
from tests.conftest import data_uri, sandbox_client, wait_for

pytestmark = pytest.mark.timeout(120)


# ---- the cache alone ---------------------------------------------------------------------------
@pytest.fixture
def cache(tmp_path: Path) -> RenderCache:
    return RenderCache(tmp_path / ".cache")


def writer(calls: list[str], text: str, meta: dict[str, Any] | None = None):
    def make(paths: dict[str, Path]) -> Callable[[], dict[str, Any] | None]:
        def run() -> dict[str, Any] | None:
            calls.append(text)
            time.sleep(0.05)
            for role, path in paths.items():
                path.write_text(f"{text}/{role}")
            return meta

        return run

    return make


def test_same_key_renders_once_and_links_the_files(cache: RenderCache, tmp_path: Path) -> None:
    calls: list[str] = []
    make = writer(calls, "a", {"bpm": 90})
    first = {"video": tmp_path / "job1.mp4", "thumb": tmp_path / "job1.jpg"}
    second = {"video": tmp_path / "job2.mp4", "thumb": tmp_path / "job2.jpg"}
    meta1 = cache.render({"prompt": "a"}, first, make(first))
    meta2 = cache.render({"prompt": "a"}, second, make(second))
    assert calls == ["a"] and meta1 == meta2 == {"bpm": 90}
    meta2["bpm"] = 1  # each job has its own copy
    assert cache.render({"prompt": "a"}, first, make(first)) == {"bpm": 90}
    for role in first:
        assert second[role].read_text() == first[role].read_text() == f"a/{role}"
    assert cache.stats() == {"renders": 1, "hits": 2, "entries": 1}
    first["video"].unlink()  # a job's own file may go: the cache keeps its link
    third = {"video": tmp_path / "job3.mp4", "thumb": tmp_path / "job3.jpg"}
    cache.render({"prompt": "a"}, third, make(third))
    assert third["video"].read_text() == "a/video" and calls == ["a"]


def test_a_different_key_or_set_of_outputs_renders_again(cache: RenderCache, tmp_path) -> None:
    calls: list[str] = []
    one, two = {"v": tmp_path / "1"}, {"v": tmp_path / "2"}
    cache.render({"prompt": "a", "seed": 1}, one, writer(calls, "a1")(one))
    cache.render({"prompt": "a", "seed": 2}, two, writer(calls, "a2")(two))
    both = {"v": tmp_path / "3", "last": tmp_path / "4"}
    cache.render({"prompt": "a", "seed": 1}, both, writer(calls, "a1+")(both))
    assert calls == ["a1", "a2", "a1+"]
    assert (tmp_path / "1").read_text() != (tmp_path / "2").read_text()


def test_identical_renders_at_the_same_time_render_once(cache: RenderCache, tmp_path) -> None:
    calls: list[str] = []
    paths = [{"v": tmp_path / f"{n}.mp4"} for n in range(8)]
    threads = [
        threading.Thread(target=cache.render, args=({"k": 1}, p, writer(calls, "k")(p)))
        for p in paths
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == ["k"]
    assert {p["v"].read_text() for p in paths} == {"k/v"}


def test_a_failed_render_is_not_kept(cache: RenderCache, tmp_path: Path) -> None:
    def broken() -> None:
        raise RuntimeError("ffmpeg died")

    out = {"v": tmp_path / "1.mp4"}
    with pytest.raises(RuntimeError):
        cache.render({"k": 1}, out, broken)
    with pytest.raises(RuntimeError, match="no v file"):
        cache.render({"k": 1}, out, lambda: None)  # wrote nothing
    calls: list[str] = []
    cache.render({"k": 1}, out, writer(calls, "k")(out))
    assert calls == ["k"] and cache.stats()["entries"] == 1


# ---- through the providers -------------------------------------------------------------------
def count_calls(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, mine: Callable) -> list:
    """Replace ``owner.name`` by a wrapper that records the calls ``mine(*args, **kw)`` picks."""
    calls: list = []
    real = getattr(owner, name)

    def counted(*args: Any, **kw: Any) -> Any:
        if mine(*args, **kw):
            calls.append((args, kw))
        return real(*args, **kw)

    monkeypatch.setattr(owner, name, counted)
    return calls


def fetch(url: str) -> bytes:
    r = httpx.get(url, trust_env=False, timeout=30)
    assert r.status_code == 200, url
    return r.content


def unique(text: str) -> str:
    return f"{text} {uuid.uuid4().hex[:8]}"


@pytest.fixture
def merca(sandbox: Sandbox) -> Iterator[httpx.Client]:
    key = f"mk_test_{uuid.uuid4().hex[:12]}"
    with sandbox_client(sandbox, "mercadream", {"Authorization": f"Bearer {key}"}) as c:
        yield c


def merca_jobs(c: httpx.Client, path: str, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ids = []
    for body in bodies:
        r = c.post(path, json=body)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    return [wait_for(c, f"/v2/jobs/{i}", "status", ("completed", "failed")) for i in ids]


def test_mercadream_speech(monkeypatch, merca: httpx.Client) -> None:
    text = unique("Say it once.")
    calls = count_calls(monkeypatch, speech, "synthesize", lambda t, **kw: t == text)
    same = {"text": text, "format": "wav"}
    jobs = merca_jobs(
        merca,
        "/v2/speech",
        [same] * 4 + [{**same, "speed": 1.5}, {**same, "voice_id": "neural-narrator-f"}],
    )
    assert {j["status"] for j in jobs} == {"completed"}
    assert len(calls) == 3  # four identical jobs (some at the same time), then two others
    files = [fetch(j["download_url"]) for j in jobs]
    assert len({j["download_url"] for j in jobs}) == 6
    assert files[0] == files[1] == files[2] == files[3]
    assert len({files[0], files[4], files[5]}) == 3


def test_mercadream_music_keeps_its_bpm(monkeypatch, merca: httpx.Client) -> None:
    from nbmedia.sandbox.services.media import music

    prompt = unique("Lo-fi")
    calls = count_calls(monkeypatch, music, "compose", lambda **kw: kw.get("seed") == prompt)
    same = {"prompt": prompt, "duration": 15, "format": "wav"}
    jobs = merca_jobs(merca, "/v2/music", [same, same, {**same, "format": "flac"}])
    assert len(calls) == 2
    assert jobs[0]["bpm"] == jobs[1]["bpm"] == jobs[2]["bpm"]
    assert fetch(jobs[0]["download_url"]) == fetch(jobs[1]["download_url"])
    assert jobs[2]["download_url"].endswith(".flac")


def test_mercadream_video_and_thumbnail(monkeypatch, merca: httpx.Client) -> None:
    prompt = unique("Neon rain")
    calls = count_calls(monkeypatch, video, "render_video", lambda *a, **kw: kw["text"] == prompt)
    same = {"prompt": prompt, "duration": 15, "resolution": "720p"}
    jobs = merca_jobs(merca, "/v2/generate", [same, same, {**same, "fps": 30}])
    assert len(calls) == 2
    assert fetch(jobs[0]["download_url"]) == fetch(jobs[1]["download_url"])
    assert fetch(jobs[0]["thumbnail_url"]) == fetch(jobs[1]["thumbnail_url"])
    assert jobs[0]["file_size_bytes"] == jobs[1]["file_size_bytes"]
    assert fetch(jobs[0]["download_url"]) != fetch(jobs[2]["download_url"])


def test_meshapi_video_and_last_frame(monkeypatch, sandbox: Sandbox) -> None:
    prompt = unique("A kite")
    calls = count_calls(monkeypatch, video, "render_video", lambda *a, **kw: kw["text"] == prompt)
    same = {
        "model": "byteplus/seedance-1-0-pro",
        "content": [{"type": "text", "text": prompt}],
        "duration": 2,
        "seed": 11,
        "return_last_frame": True,
    }
    bodies = [
        same,
        {**same, "callback_url": "http://127.0.0.1:9/elsewhere"},  # not part of the output
        {**same, "seed": 12},
        {k: v for k, v in same.items() if k != "seed"},  # a random seed: never shared
        {k: v for k, v in same.items() if k != "seed"},
    ]
    key = f"rsk_test_{uuid.uuid4().hex[:12]}"
    with sandbox_client(sandbox, "meshapi", {"Authorization": f"Bearer {key}"}) as c:
        ids = [c.post("/v1/video/generations", json=b).json()["id"] for b in bodies]
        ends = ("succeeded", "failed", "expired")
        tasks = [wait_for(c, f"/v1/video/generations/{i}", "status", ends) for i in ids]
    assert {t["status"] for t in tasks} == {"succeeded"}
    assert len(calls) == 4
    a, b, other = (t["content"] for t in tasks[:3])
    assert a["video_url"] != b["video_url"]
    assert fetch(a["video_url"]) == fetch(b["video_url"])
    assert fetch(a["last_frame_url"]) == fetch(b["last_frame_url"])
    assert fetch(a["video_url"]) != fetch(other["video_url"])


def test_vimmerse_identical_creates(monkeypatch, sandbox: Sandbox) -> None:
    prompt = unique("A lighthouse")
    calls = count_calls(monkeypatch, vimmerse_rendering, "_render_all", lambda p, params, *a: True)
    same = {"prompt": prompt, "duration": 1}
    with sandbox_client(sandbox, "vimmerse", {"X-Api-Key": f"vk_{uuid.uuid4().hex}"}) as c:
        made = [c.post("/v2/media", json=b).json() for b in (same, same, {**same, "loop": 2})]
        done = [
            wait_for(c, f"/v2/media/{m['id']}", "processing_status", ("success", "failed"))
            for m in made
        ]
    assert [d["processing_status"] for d in done] == ["success"] * 3
    assert len(calls) == 2
    first, second, looped = (d["result"][0] for d in done)
    assert first != second and fetch(first) == fetch(second)
    assert fetch(first) != fetch(looped)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cache") / "clip.mp4"
    return video.render_video(out, text="", duration=1.0, fps=8, width=160, height=90, seed=3)


def test_syncso_identical_generations(monkeypatch, sandbox: Sandbox, clip: Path) -> None:
    calls = count_calls(monkeypatch, syncso_rendering, "make_output", lambda *a: True)

    def body(script: str) -> dict[str, Any]:
        tts = {"name": "elevenlabs", "voiceId": "rachel", "script": script}
        return {
            "model": "lipsync-2",
            "input": [{"type": "video", "url": data_uri(clip, "video/mp4")}, {"type": "text", "provider": tts}],
        }  # fmt: skip

    hello = unique("Hello")
    with sandbox_client(sandbox, "syncso", {"x-api-key": f"sk_{uuid.uuid4().hex}"}) as c:
        ids = [c.post("/v2/generate", json=body(s)).json()["id"] for s in (hello, hello, "Bye")]
        ends = ("COMPLETED", "FAILED", "REJECTED")
        gens = [wait_for(c, f"/v2/generate/{i}", "status", ends) for i in ids]
    assert [g["status"] for g in gens] == ["COMPLETED"] * 3
    assert len(calls) == 2
    assert gens[0]["outputDuration"] == gens[1]["outputDuration"]
    assert fetch(gens[0]["outputUrl"]) == fetch(gens[1]["outputUrl"])
    assert fetch(gens[0]["outputUrl"]) != fetch(gens[2]["outputUrl"])


def test_viddyscribe_identical_jobs_and_uploads(monkeypatch, sandbox: Sandbox, clip) -> None:
    calls = count_calls(monkeypatch, viddyscribe_rendering, "make", lambda *a: True)
    with sandbox_client(sandbox, "viddyscribe", {"X-API-Key": f"vsk_{uuid.uuid4().hex}"}) as c:

        def upload() -> str:
            files = {"file": ("clip.mp4", clip.read_bytes(), "video/mp4")}
            return c.post("/enterprise/api/upload_media", files=files).json()["media_id"]

        def audio(media_id: str, voice: str = "Achernar") -> str:
            body = {
                "input": {"type": "media_id", "media_id": media_id},
                "generation_config": {"voice": voice},
            }
            r = c.post("/enterprise/api/generate_ad_audio", json=body)
            assert r.status_code == 200, r.text
            return r.json()["job_id"]

        first = upload()
        ids = [audio(first), audio(first), audio(upload()), audio(first, "Puck")]
        results = [
            wait_for(
                c,
                "/enterprise/api/get_results",
                "status",
                ("done", "failed"),
                params={"job_id": i},
            )
            for i in ids
        ]
    assert [r["status"] for r in results] == ["done"] * 4
    assert len(calls) == 2  # the same bytes under another media id are the same input
    wavs = [fetch(r["audio_signed_url"]) for r in results]
    assert wavs[0] == wavs[1] == wavs[2] != wavs[3]
    assert results[0]["output"] == results[2]["output"]
