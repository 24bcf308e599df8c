"""The MercaDream client and the Studio core, over real HTTP against the sandbox.

Tests that name only the provider client build it with `provider_client` (no Studio)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from pathlib import Path

import pandas as pd
import pytest

import nbmedia as nm
from nbmedia.http import Secret
from nbmedia.providers.base import Capability
from tests import mediacheck
from tests.conftest import provider_client

pytestmark = pytest.mark.timeout(180)


def live_studio(tmp_path: Path, sandbox, key: str, monkeypatch) -> nm.Studio:
    """A Studio configured as for the real service (a key, no sandbox), aimed at the sandbox URL."""
    monkeypatch.setenv("NBMEDIA_MERCADREAM_BASE_URL", sandbox.base_url("mercadream"))
    return nm.Studio(root=tmp_path, keys={"mercadream": key}, sandbox=False)


def api_posts(sandbox, path: str) -> int:
    return sum(1 for r in list(sandbox.request_log) if r.method == "POST" and r.path.endswith(path))


# ---- making things ---------------------------------------------------------------------------
def test_video_end_to_end(studio: nm.Studio) -> None:
    job = studio.generate("Neon rain on Tokyo streets", duration=15, resolution="720p", fps=30)
    assert job.id and job.id.startswith("job_")
    assert job.status in (nm.JobStatus.QUEUED, nm.JobStatus.RUNNING)
    done = job.wait(timeout=120)
    assert done is job and job.status is nm.JobStatus.SUCCEEDED
    assert job.progress == 1.0 and job.completed_at is not None and job.cost
    video = job.output("video")
    assert video.path == studio.root / "media" / "mercadream" / f"{job.id}.mp4"
    info = mediacheck.probe(video.path)
    assert info["video"]["codec"] == "h264"
    assert info["video"]["fps"] == pytest.approx(30, abs=0.01)
    assert info["duration"] == pytest.approx(15, abs=0.2)
    assert info["video"]["width"] <= 640
    assert info["video"]["sar"] == (1, 1)  # square pixels: 640x360 shows as 16:9
    thumb = job.output("image", role="thumbnail")
    assert thumb.path.read_bytes()[:3] == b"\xff\xd8\xff"  # a JPEG


def test_speech_is_audible_and_speed_changes_length(studio: nm.Studio) -> None:
    text = "The quick brown fox jumps over the lazy dog, twice, for good measure."
    slow = studio.speech(text, format="wav", speed=0.75)
    fast = studio.speech(text, format="mp3", speed=1.5)
    for job in (slow, fast):
        job.wait(timeout=60)
    assert slow.path.suffix == ".wav" and fast.path.suffix == ".mp3"
    assert mediacheck.probe(fast.path)["audio"]["codec"] == "mp3"
    assert mediacheck.audio_rms(slow.path) > 0.02
    assert mediacheck.probe(slow.path)["duration"] > 1.5 * mediacheck.probe(fast.path)["duration"]


def test_music_length(studio: nm.Studio) -> None:
    job = studio.music("Lo-fi beat, rain ambience", duration=15, bpm=90, format="flac")
    job.wait(timeout=60)
    info = mediacheck.probe(job.path)
    assert info["audio"]["codec"] == "flac"
    assert info["duration"] == pytest.approx(15, abs=0.1)
    assert mediacheck.audio_rms(job.path) > 0.01


def test_await_job_in_asyncio_run(tmp_path: Path, sandbox) -> None:
    async def main() -> nm.Job:
        with nm.Studio(root=tmp_path, sandbox=sandbox) as s:
            job = s.speech("Awaited in a plain script.", format="wav")
            return await job

    job = asyncio.run(main())
    assert job.status is nm.JobStatus.SUCCEEDED and job.path.exists()


# ---- validation: clear errors, nothing sent ----------------------------------------------------
@pytest.mark.parametrize(
    ("call", "field", "value", "rule"),
    [
        (lambda s: s.generate("x" * 1001), "prompt", "x" * 1001, "at most 1000"),
        (lambda s: s.generate(""), "prompt", "", "at least 1"),
        (lambda s: s.generate("a", duration=45), "duration", 45, "15, 30, 60 or 120"),
        (
            lambda s: s.generate("a", resolution="2k"),
            "resolution",
            "2k",
            "'720p', '1080p', '4k' or '8k'",
        ),
        (lambda s: s.generate("a", fps=25), "fps", 25, "24, 30 or 60"),
        (lambda s: s.generate("a", webhook_url="ftp://x"), "webhook_url", "ftp://x", "http"),
        (lambda s: s.generate("a", durration=15), "durration", 15, "not a field"),
        (lambda s: s.speech("t" * 5001), "text", "t" * 5001, "at most 5000"),
        (lambda s: s.speech("hi", speed=2.5), "speed", 2.5, "less than or equal to 2"),
        (lambda s: s.speech("hi", speed=0.4), "speed", 0.4, "greater than or equal to 0.5"),
        (lambda s: s.speech("hi", format="ogg"), "format", "ogg", "'mp3', 'wav' or 'flac'"),
        (lambda s: s.music("m", duration=14), "duration", 14, "greater than or equal to 15"),
        (lambda s: s.music("m", duration=301), "duration", 301, "less than or equal to 300"),
        (lambda s: s.music("m", bpm=59), "bpm", 59, "greater than or equal to 60"),
        (lambda s: s.music("m", bpm=201), "bpm", 201, "less than or equal to 200"),
        (lambda s: s.music("m", format="aac"), "format", "aac", "'mp3', 'wav' or 'flac'"),
        (lambda s: s.submit("mercadream", "image", "a cat"), "kind", "image", "makes only"),
        (lambda s: s.generate("a", provider="nope"), "provider", "nope", "must be one of"),
        (
            lambda s: s.remote_jobs("mercadream", limit=101),
            "limit",
            101,
            "less than or equal to 100",
        ),
        (lambda s: s.remote_jobs("mercadream", status="done"), "status", "done", "'queued'"),
        (
            lambda s: s.remote_jobs("mercadream", before="yesterday"),
            "before",
            "yesterday",
            "datetime",
        ),
    ],
)
def test_validation_before_any_request(studio, sandbox, call, field, value, rule) -> None:
    sent = len(sandbox.request_log)
    with pytest.raises(nm.ValidationError) as info:
        call(studio)
    err = info.value
    assert err.field == field and err.value == value and rule in err.rule
    assert field in str(err) and rule in str(err)
    assert len(sandbox.request_log) == sent, "a request left the machine"


# ---- provider errors ---------------------------------------------------------------------------
def test_401_bad_key_is_auth_error_without_the_key(tmp_path, sandbox, monkeypatch) -> None:
    key = "mk_live_Sup3rSecretValue000"
    s = live_studio(tmp_path, sandbox, key, monkeypatch)
    with pytest.raises(nm.AuthError) as info:
        s.generate("a", resolution="720p", duration=15)
    assert info.value.http_status == 401 and info.value.code
    assert key not in str(info.value) and key not in repr(info.value.body)
    assert s.jobs().iloc[0]["error_code"] == info.value.code  # the ledger kept the attempt
    s.close()


def test_403_free_plan_and_resolution_above_plan(tmp_path, sandbox, monkeypatch) -> None:
    s = live_studio(tmp_path / "free", sandbox, "mk_test_free_abc", monkeypatch)
    with pytest.raises(nm.PermissionDenied) as info:
        s.generate("a", duration=15)
    assert info.value.http_status == 403
    s.close()
    s = live_studio(tmp_path / "regular", sandbox, "mk_test_regular_abc", monkeypatch)
    with pytest.raises(nm.PermissionDenied) as info:
        s.generate("a", duration=15, resolution="1080p")
    assert info.value.code == "plan_resolution_exceeded"
    s.close()


def test_404_unknown_job(sandbox) -> None:
    provider = provider_client(sandbox, "mercadream")
    ghost = nm.Job(provider="mercadream", kind="video", id="job_doesnotexist00")
    with pytest.raises(nm.NotFound) as info:
        asyncio.run(provider.refresh(ghost))
    assert info.value.http_status == 404 and info.value.code


def test_429_is_retried_after_retry_after(studio, sandbox) -> None:
    sandbox.faults.rate_limit_next(2, retry_after=1, path="/v2/speech")
    job = studio.speech("Rate limited, then fine.", format="wav")
    assert job.id
    posts = sandbox.request_log.where(method="POST")
    assert [r.status for r in posts if r.path.endswith("/v2/speech")][-3:] == [429, 429, 201]


def test_429_gives_up_with_retry_after(studio, sandbox) -> None:
    sandbox.faults.rate_limit_next(20, retry_after=1, path="/v2/speech")
    try:
        with pytest.raises(nm.RateLimited) as info:
            studio.speech("Always limited.")
        assert info.value.retry_after == 1
    finally:
        sandbox.faults.reset()


def test_concurrency_limit_is_a_429(tmp_path, sandbox, monkeypatch) -> None:
    s = live_studio(tmp_path, sandbox, "mk_test_regular_conc", monkeypatch)
    s.provider("mercadream").api.max_retries = 0
    first = [s.music("loop", duration=15) for _ in range(2)]
    with pytest.raises(nm.RateLimited) as info:
        s.music("one too many", duration=15)
    assert info.value.retry_after and info.value.retry_after > 0
    for job in first:
        job.wait(timeout=60)
    s.close()


async def _no_wait(delay: float) -> None:
    """ApiClient's sleep in tests: the retry happens at once."""


def test_5xx_on_get_is_retried_but_not_on_create(sandbox) -> None:
    provider = provider_client(sandbox, "mercadream", sleep=_no_wait)
    sandbox.faults.fail_next_requests(2, status=503, path="/mercadream/v2/jobs")
    before = api_posts(sandbox, "/v2/speech")

    async def main() -> None:
        assert isinstance(await provider.list_jobs(limit=5), list)
        sandbox.faults.fail_next_requests(1, status=503, path="/mercadream/v2/speech")
        request = provider.make_request("speech", {"text": "Not retried: it may be billed."})
        with pytest.raises(nm.ProviderError) as info:
            await provider.submit(nm.Job(provider="mercadream", kind="speech"), request)
        assert info.value.http_status == 503 and info.value.may_have_reached_server
        await provider.api.aclose()

    asyncio.run(main())
    assert api_posts(sandbox, "/v2/speech") == before + 1  # the create was not re-sent


def test_failed_job_raises_job_failed_with_provider_code(studio, sandbox) -> None:
    sandbox.faults.fail_next_jobs(1, code="content_policy_violation", message="nope")
    job = studio.speech("This one fails.")
    with pytest.raises(nm.JobFailed) as info:
        job.wait(timeout=60)
    assert info.value.job is job and job.status is nm.JobStatus.FAILED
    assert job.error["code"] == "content_policy_violation"
    row = studio.jobs().set_index("id").loc[job.id]
    assert row["error_code"] == "content_policy_violation" and row["status"] == "failed"


def test_job_timeout_carries_the_job(studio) -> None:
    job = studio.generate("Slow", duration=15, resolution="720p")
    with pytest.raises(nm.JobTimeout) as info:
        job.wait(timeout=0.05)
    assert info.value.job is job
    job.wait(timeout=120)


# ---- the ledger --------------------------------------------------------------------------------
def test_jobs_table_shape(studio) -> None:
    a = studio.speech("first", format="wav")
    b = studio.music("second", duration=15)
    a.wait(timeout=60)
    b.wait(timeout=60)
    df = studio.jobs()
    assert list(df.columns) == [
        "provider", "id", "kind", "status", "progress", "prompt", "created_at", "updated_at",
        "completed_at", "elapsed_s", "output_path", "output_url", "cost", "cost_unit",
        "error_code", "error_message", "notebook",
    ]  # fmt: skip
    assert list(df["id"][:2]) == [b.id, a.id]  # newest first
    assert isinstance(df["status"].dtype, pd.CategoricalDtype)
    assert str(df["created_at"].dt.tz) == "UTC"
    assert (df["elapsed_s"] > 0).all() and Path(df["output_path"].iloc[0]).exists()


def test_ledger_survives_a_new_studio_and_resumes(tmp_path, sandbox) -> None:
    first = nm.Studio(root=tmp_path, sandbox=sandbox)
    job = first.generate("Resumed after a restart", duration=15, resolution="720p")
    job_id = job.id
    first.close()  # the kernel dies; the job keeps running at the provider
    second = nm.Studio(root=tmp_path, sandbox=sandbox)
    assert job_id in set(second.jobs()["id"])
    resumed = second.job(job_id)
    assert resumed is not job
    resumed.wait(timeout=120)
    assert resumed.path.exists()
    assert second.jobs().set_index("id").loc[job_id, "status"] == "succeeded"
    second.close()


def test_ledger_row_exists_before_the_request(tmp_path, sandbox, monkeypatch) -> None:
    s = nm.Studio(root=tmp_path, sandbox=sandbox)
    seen = []
    provider = s.provider("mercadream")
    original = provider.submit

    async def spy(job, request):
        seen.append(len(s.jobs()))
        return await original(job, request)

    monkeypatch.setattr(provider, "submit", spy)
    s.speech("written first")
    assert seen == [1]
    s.close()


# ---- lists, vault, webhooks --------------------------------------------------------------------
def test_remote_jobs_and_vault(studio) -> None:
    jobs = [studio.speech(f"vault item {i}", format="wav") for i in range(3)]
    for job in jobs:
        job.wait(timeout=60)
    listed = studio.remote_jobs("mercadream", status="completed", limit=100)
    assert {j.id for j in jobs} <= set(listed["id"])
    vault = studio.vault("mercadream")
    assert {j.id for j in jobs} <= set(vault["job_id"])
    assert vault["created_at"].is_monotonic_decreasing


def test_refresh_many_uses_one_list_call(sandbox) -> None:
    provider = provider_client(sandbox, "mercadream")
    assert provider.has(Capability.LIST_REFRESH)
    calls: list[tuple[str, str]] = []

    async def main() -> list[nm.Job]:
        jobs = []
        for i in range(4):  # created but not tracked: only refresh_many reads them
            request = provider.make_request("speech", {"text": f"batch {i}", "format": "wav"})
            job = nm.Job(provider="mercadream", kind="speech", request=request.wire())
            jobs.append(await provider.submit(job, request))
        send = provider.api.request

        async def counting(method, path, **kw):  # what this client sends, whatever else runs
            calls.append((method, path))
            return await send(method, path, **kw)

        provider.api.request = counting
        await provider.refresh_many(jobs)
        await provider.api.aclose()
        return jobs

    jobs = asyncio.run(main())
    assert calls == [("GET", "/v2/jobs")]
    assert all(
        j.status in (nm.JobStatus.QUEUED, nm.JobStatus.RUNNING, nm.JobStatus.SUCCEEDED)
        for j in jobs
    )


def test_webhook_signature_verified(sandbox) -> None:
    """Forged, tampered, unsigned, stale and replayed deliveries: every one refused, saying
    which; only a fresh, validly signed, first delivery is accepted."""
    import datetime as dt

    provider = provider_client(sandbox, "mercadream")
    secret = sandbox.webhook_secret("mercadream").encode()

    def delivery(stamp: dt.datetime, status: str = "completed", key: bytes = secret):
        body = json.dumps(
            {"event": f"job.{status}", "job_id": "job_x", "status": status,
             "timestamp": stamp.isoformat().replace("+00:00", "Z")}
        ).encode()  # fmt: skip
        return {
            "MercaDream-Signature": "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
        }, body

    now = dt.datetime.now(dt.timezone.utc)
    headers, body = delivery(now)
    assert provider.parse_webhook(headers, body)["id"] == "job_x"
    refused = {
        "does not match": [
            delivery(now, key=b"not-the-secret"),  # forged
            (headers, body.replace(b"job_x", b"job_y")),  # tampered
        ],
        "no webhook secret|does not match": [({}, body)],  # unsigned
        "stale": [delivery(dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc))],
        "replay": [
            (headers, body),  # the same delivery again
            delivery(now + dt.timedelta(seconds=5)),  # the same event of the same job, re-signed
        ],
    }
    for reason, cases in refused.items():
        for h, b in cases:
            with pytest.raises(nm.WebhookError, match=reason):
                provider.parse_webhook(h, b)
    fresh_headers, fresh_body = delivery(now, status="failed")  # another event: accepted
    assert provider.parse_webhook(fresh_headers, fresh_body)["status"] == "failed"


def test_webhooks_from_the_sandbox_settle_the_job(studio, sandbox) -> None:
    received: list[tuple[dict, bytes]] = []
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook"
        job = studio.generate(  # webhook_url is documented on /generate only
            "Tell me when you are done.", resolution="720p", duration=15, webhook_url=url
        )
        job.wait(timeout=60)
        for _ in range(50):
            if any(b'"completed"' in body for _, body in received):
                break
            asyncio.run(asyncio.sleep(0.1))
        events = [studio.provider("mercadream").parse_webhook(h, b) for h, b in received]
        assert [e["status"] for e in events][-1] == "completed"
        assert all(e["id"] == job.id for e in events)
        # each delivery is taken once: the same one handed over again is a replay
        with pytest.raises(nm.WebhookError, match="replay"):
            studio.handle_webhook("mercadream", *received[-1])
    finally:
        server.shutdown()


# ---- keys never leak -----------------------------------------------------------------------------
def test_key_never_in_repr_logs_exceptions_or_ledger(
    tmp_path, sandbox, monkeypatch, caplog
) -> None:
    key = "mk_test_regular_T0pS3cretKeyValue"
    caplog.set_level(logging.DEBUG)
    s = live_studio(tmp_path, sandbox, key, monkeypatch)
    job = s.speech("Secrets stay secret.", format="wav")
    job.wait(timeout=60)
    with pytest.raises(nm.PermissionDenied) as info:
        s.generate("too big for the plan", resolution="8k", duration=15)
    texts = [
        repr(s), repr(s.provider("mercadream")), repr(s.provider("mercadream").api), repr(job),
        str(info.value), repr(info.value.body), caplog.text, s.jobs().to_csv(),
    ]  # fmt: skip
    for text in texts:
        assert key not in text
    s.close()
    for f in (tmp_path / ".nbmedia").iterdir():
        mediacheck.assert_lacks(f.read_bytes(), key.encode(), str(f))
    assert repr(Secret(key)) == "Secret('********')" and key not in f"{Secret(key)}"
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(Secret(key))


def test_no_key_and_no_sandbox_is_a_clear_error(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("MERCADREAM_API_KEY", raising=False)
    s = nm.Studio(root=tmp_path, sandbox=False)
    assert s.sandbox is None
    with pytest.raises(nm.AuthError, match="MERCADREAM_API_KEY"):
        s.generate("a")
    s.close()


def test_download_again_after_the_file_is_lost(studio) -> None:
    job = studio.speech("Download me twice.", format="wav")
    job.wait(timeout=60)
    original = job.path.read_bytes()
    job.path.unlink()
    studio.download(job)
    mediacheck.assert_same_bytes(job.path.read_bytes(), original, "the file downloaded again")
    job.path.write_bytes(b"corrupted")
    studio.download(job, force=True)
    mediacheck.assert_same_bytes(job.path.read_bytes(), original, "the file downloaded anew")
    assert len(list(job.path.parent.glob(job.id + "*"))) == 1  # overwritten, not duplicated


def test_voice_picker_for_a_provider_without_voices(studio) -> None:
    with pytest.raises(nm.NbmediaError, match="offers no voices"):
        studio.voice_picker("meshapi")
