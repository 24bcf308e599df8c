"""The sandbox's chaos-run knobs and its audit, over real HTTP (``httpx`` straight at the routes):
each probabilistic fault at rate 1.0 does exactly what it says to the bytes on the wire, and the
audit records every job created (answer lost or not) and every download with what was sent."""

from __future__ import annotations

import hashlib
import json
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from nbmedia.sandbox import Sandbox
from nbmedia.sandbox.services.faults import Faults
from tests.conftest import Receiver
from tests.mediacheck import assert_different_bytes, assert_same_bytes

pytestmark = pytest.mark.timeout(120)

SPEECH = "/v2/speech"
FAULT_KNOBS = (
    "drop_rate",
    "rate_limit_rate",
    "malformed_rate",
    "truncated_download_rate",
    "html_download_rate",
)


# ---- helpers -----------------------------------------------------------------------------------
def new_key(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def account(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def merca(sandbox: Sandbox, key: str | None = None) -> httpx.Client:
    """MercaDream with a Regular key: the lowest plan with API access (speech is allowed)."""
    key = key or new_key("mk_test_regular_")
    return httpx.Client(
        base_url=sandbox.base_url("mercadream"),
        headers={"Authorization": f"Bearer {key}"},
        trust_env=False,
        timeout=30,
    )


def key_of(client: httpx.Client) -> str:
    return client.headers["Authorization"].removeprefix("Bearer ")


def created_for(sandbox: Sandbox, key: str) -> list[dict[str, Any]]:
    return [r for r in sandbox.audit()["created"] if r["account"] == account(key)]


def served_for(sandbox: Sandbox, name: str) -> list[dict[str, Any]]:
    return [r for r in sandbox.audit()["served"] if r["name"] == name]


def until(check: Callable[[], Any], timeout: float = 60, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or check}")


def finished_speech(sandbox: Sandbox, api: httpx.Client, text: str) -> dict[str, Any]:
    job = api.post(SPEECH, json={"text": text, "format": "wav"}).json()
    return until(
        lambda: (j := api.get(f"/v2/jobs/{job['id']}").json())["status"] == "completed" and j,
        what=f"job {job['id']} to complete",
    )


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with merca(sandbox) as c:
        yield c


@pytest.fixture
def done(sandbox: Sandbox, api: httpx.Client) -> dict[str, Any]:
    """A completed speech job of this test's key, and its file's name and bytes."""
    job = finished_speech(sandbox, api, "Chaos is a ladder.")
    name = job["download_url"].rsplit("/", 1)[-1]
    data = httpx.get(job["download_url"], trust_env=False).content
    return {"job": job, "url": job["download_url"], "name": name, "data": data}


# ---- the knobs ---------------------------------------------------------------------------------
def test_knobs_are_off_by_default_and_reset_turns_them_off(sandbox: Sandbox) -> None:
    f = sandbox.faults
    for knob in FAULT_KNOBS:
        assert getattr(f, knob) == 0
        setattr(f, knob, 0.5)
    f.rate_limit_retry_after = 9
    f.malformed_kinds = ["empty"]
    f.reset()
    assert all(getattr(f, knob) == 0 for knob in FAULT_KNOBS)
    assert f.rate_limit_retry_after == 1
    assert f.malformed_kinds == ["empty", "truncated", "non_json", "json_list"]


@pytest.mark.parametrize(
    "knob, value",
    [
        ("drop_rate", 1.5),
        ("malformed_rate", -0.1),
        ("malformed_rate", "often"),
        ("malformed_kinds", ["gibberish"]),
        ("malformed_kinds", []),
        ("rate_limit_retry_after", -1),
        ("seed", "x"),
        ("plan_limits", "no"),
        ("plan_limits", 0),
    ],
)
def test_bad_knob_values_are_refused_locally_and_remotely(sandbox: Sandbox, knob, value) -> None:
    before = getattr(sandbox.faults, knob)
    with pytest.raises(ValueError):
        setattr(sandbox.faults, knob, value)
    box = Sandbox.attach(sandbox.url)
    with pytest.raises(ValueError):
        setattr(box.faults, knob, value)
    assert getattr(sandbox.faults, knob) == before
    box.stop()


def test_drop_rate_processes_the_create_then_closes_without_an_answer(sandbox, api) -> None:
    sandbox.faults.drop_rate = 1.0
    with pytest.raises(httpx.RemoteProtocolError):
        api.post(SPEECH, json={"text": "Lost in the post."})
    sandbox.faults.drop_rate = 0
    jobs = api.get("/v2/jobs").json()["data"]
    assert len(jobs) == 1  # the job exists though its answer never came
    [record] = created_for(sandbox, key_of(api))
    assert record["id"] == jobs[0]["id"] and record["provider"] == "mercadream"
    assert record["kind"] == "speech" and record["replays"] == 0
    posts = sandbox.request_log.where(method="POST", path="/mercadream/v2/speech")
    assert posts[-1].status is None  # logged as dropped


@pytest.mark.parametrize(
    "provider, path, headers, body_check",
    [
        (
            "mercadream",
            "/v2/jobs",
            {"Authorization": "Bearer mk_test_regular_x"},
            lambda b: b["code"] == "rate_limit_exceeded" and b["retry_after"] == 4,
        ),
        (
            "vimmerse",
            f"/v2/media/{uuid.uuid4()}",
            {"X-Api-Key": "vk_x"},
            lambda b: b["code"] == "RATE_LIMITED" and set(b) == {"message", "code"},
        ),
        (
            "meshapi",
            "/v1/video/generations",
            {"Authorization": "Bearer rsk_x"},
            lambda b: (
                b["error"]["code"] == "rate_limit_exceeded"
                and b["error"]["retry_after_seconds"] == 4
            ),
        ),
        (
            "viddyscribe",
            "/enterprise/api/get_results?job_id=task_x",
            {"X-API-Key": "vsk_test_starter_x"},
            lambda b: b["code"] == "rate_limit_exceeded" and b["retry_after"] == 4,
        ),
        (
            "syncso",
            "/v2/models",
            {"x-api-key": "sk_test_hobbyist_x"},
            lambda b: b["statusCode"] == 429 and b["error"] == "Too Many Requests",
        ),
    ],
)
def test_rate_limit_rate_answers_429_in_the_providers_own_body(
    sandbox: Sandbox, provider, path, headers, body_check
) -> None:
    sandbox.faults.rate_limit_rate = 1.0
    sandbox.faults.rate_limit_retry_after = 4
    r = httpx.get(sandbox.base_url(provider) + path, headers=headers, trust_env=False)
    assert r.status_code == 429, r.text
    assert body_check(r.json()), r.text
    # sync.so documents no Retry-After and sends none, even for this fault (as rate_limit_next)
    assert r.headers.get("Retry-After") == (None if provider == "syncso" else "4")


def test_rate_limit_and_error_rate_refuse_before_anything_is_created(sandbox, api) -> None:
    sandbox.faults.rate_limit_rate = 1.0
    assert api.post(SPEECH, json={"text": "Not now."}).status_code == 429
    sandbox.faults.rate_limit_rate = 0
    sandbox.faults.error_rate = 1.0
    assert api.post(SPEECH, json={"text": "Not now."}).status_code == 500
    sandbox.faults.error_rate = 0
    assert api.get("/v2/jobs").json()["data"] == []
    assert created_for(sandbox, key_of(api)) == []


@pytest.mark.parametrize("kind", ["empty", "truncated", "non_json", "json_list"])
def test_malformed_rate_replaces_a_2xx_json_body_after_processing(
    sandbox: Sandbox, api: httpx.Client, kind: str
) -> None:
    real = api.get("/v2/jobs")  # a fresh key: always {"data": [], "has_more": false}
    sandbox.faults.malformed_rate = 1.0
    sandbox.faults.malformed_kinds = [kind]
    listed = api.get("/v2/jobs")
    made = api.post(SPEECH, json={"text": f"Malformed {kind}."})
    sandbox.faults.reset()

    for r in (listed, made):
        assert r.is_success  # the status is kept
        assert int(r.headers["Content-Length"]) == len(r.content)
    if kind == "empty":
        assert listed.content == made.content == b""
    elif kind == "truncated":
        assert listed.content == real.content[: len(real.content) // 2]
        assert made.content.startswith(b'{"id":"job_')
        for r in (listed, made):
            with pytest.raises(json.JSONDecodeError):
                json.loads(r.content)
    elif kind == "non_json":
        for r in (listed, made):
            assert r.headers["Content-Type"].startswith("text/html")
            assert r.content == b"<html><body>502 Bad Gateway</body></html>"
    else:
        assert listed.json() == made.json() == []

    # the create did create its job, which the audit knows about
    jobs = api.get("/v2/jobs").json()["data"]
    assert [r["id"] for r in created_for(sandbox, key_of(api))] == [j["id"] for j in jobs]
    assert len(jobs) == 1


def test_malformed_rate_leaves_errors_alone(sandbox: Sandbox) -> None:
    sandbox.faults.malformed_rate = 1.0
    with merca(sandbox, "mk_test_free_x") as c:  # the Free plan: 403 for every request
        r = c.get("/v2/jobs")
    assert r.status_code == 403 and r.json()["code"] == "plan_no_api_access"


def test_faults_leave_control_routes_and_voice_samples_alone(sandbox: Sandbox) -> None:
    for knob in ("drop_rate", "rate_limit_rate", "malformed_rate", "error_rate"):
        setattr(sandbox.faults, knob, 1.0)
    box = Sandbox.attach(sandbox.url)
    assert box.faults.drop_rate == 1.0
    assert isinstance(box.audit(), dict)
    assert box.voice_sample("mercadream", "neural-narrator-m", "Hi")[:4] == b"RIFF"
    box.stop()


def test_truncated_download_sends_half_then_closes(sandbox: Sandbox, done) -> None:
    sandbox.faults.truncated_download_rate = 1.0
    got = b""
    with (
        pytest.raises(httpx.RemoteProtocolError),
        httpx.stream("GET", done["url"], trust_env=False) as r,
    ):
        assert r.status_code == 200
        assert int(r.headers["Content-Length"]) == len(done["data"])
        for chunk in r.iter_raw():
            got += chunk
    assert 0 < len(got) < len(done["data"])
    assert_same_bytes(got, done["data"][: len(got)], "the truncated download")
    record = served_for(sandbox, done["name"])[-1]
    assert record["fault"] == "truncated" and record["complete"] is False
    assert record["bytes_sent"] == len(got) and record["size"] == len(done["data"])


def test_html_download_answers_200_with_an_html_page(sandbox: Sandbox, done) -> None:
    sandbox.faults.html_download_rate = 1.0
    r = httpx.get(done["url"], trust_env=False)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    assert r.content.lstrip().startswith(b"<html")
    assert_different_bytes(r.content, done["data"], "the HTML page and the media")
    record = served_for(sandbox, done["name"])[-1]
    assert record["fault"] == "html" and record["complete"] is False
    assert record["bytes_sent"] == len(r.content)


def test_download_faults_spare_head_requests(sandbox: Sandbox, done) -> None:
    sandbox.faults.html_download_rate = 1.0
    r = httpx.head(done["url"], trust_env=False)
    assert r.status_code == 200 and int(r.headers["Content-Length"]) == len(done["data"])


def test_seed_makes_the_draws_reproducible() -> None:
    faults = Faults()  # its own: no other traffic draws from its RNG

    def draws() -> list[Any]:
        out: list[Any] = []
        for _ in range(40):
            out += [faults.chance(0.5), faults.malformed_kind(), faults.download_fault()]
        return out

    faults.malformed_rate = faults.html_download_rate = faults.truncated_download_rate = 0.5
    faults.seed = 1234
    first = draws()
    assert {True, False, None, "html", "truncated", "empty", "json_list"} <= set(first)
    faults.seed = 1234  # restarts the sequence
    assert draws() == first
    faults.reset()  # the seed stays and the sequence restarts from it
    assert faults.seed == 1234 and faults.malformed_rate == 0
    faults.malformed_rate = faults.html_download_rate = faults.truncated_download_rate = 0.5
    assert draws() == first
    faults.seed = 99
    assert draws() != first


def test_seed_is_applied_to_requests(sandbox: Sandbox, api: httpx.Client) -> None:
    def pattern() -> list[int]:
        return [api.get("/v2/jobs").status_code for _ in range(12)]

    sandbox.faults.seed = 1234
    sandbox.faults.error_rate = 0.5
    first = pattern()
    assert set(first) == {200, 500}
    sandbox.faults.seed = 1234
    assert pattern() == first
    sandbox.faults.seed = None


# ---- the audit ---------------------------------------------------------------------------------
def test_audit_status_follows_the_job_to_its_terminal_status(sandbox: Sandbox, api) -> None:
    sandbox.speed = 1  # slow enough to be seen queued (the hygiene fixture restores it)
    job = api.post(SPEECH, json={"text": "Watch me finish.", "format": "wav"}).json()

    def record() -> dict[str, Any]:
        [r] = created_for(sandbox, key_of(api))
        return r

    seen = [record()["status"]]
    assert seen[0] in ("queued", "processing")
    assert record()["outputs"] == []

    def completed() -> bool:
        status = record()["status"]
        if status != seen[-1]:
            seen.append(status)
        return status == "completed"

    until(completed, what="the audit to say completed")
    assert seen in (["queued", "processing", "completed"], ["processing", "completed"])
    final = record()
    assert final["id"] == job["id"] and final["provider"] == "mercadream"
    assert final["outputs"] == [f"{job['id']}.wav"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", final["created_at"])
    assert api.get(f"/v2/jobs/{job['id']}").json()["status"] == "completed"


def test_audit_ended_at_is_the_wall_time_the_job_became_terminal(sandbox, api) -> None:
    sandbox.speed = 1  # slow enough to be seen running (the hygiene fixture restores it)
    with Receiver() as receiver:
        started = time.time()
        job = api.post(  # webhook_url is documented on /generate only
            "/v2/generate",
            json={
                "prompt": "Time me.",
                "duration": 15,
                "resolution": "720p",
                "webhook_url": receiver.url,
            },
        ).json()
        [running] = created_for(sandbox, key_of(api))
        assert running["ended_at"] is None and running["status"] != "completed"
        record = until(
            lambda: (r := created_for(sandbox, key_of(api))[0])["ended_at"] and r,
            what="the audit's ended_at",
        )
        seen = time.time()
        assert record["status"] == "completed" and started < record["ended_at"] <= seen
        receiver.wait(lambda ps: any(p["event"] == "job.completed" for p in ps))
    final = api.get(f"/v2/jobs/{job['id']}").json()
    completed = datetime.fromisoformat(final["completed_at"].replace("Z", "+00:00")).timestamp()
    assert abs(completed - record["ended_at"]) < 0.01  # the same moment, to the millisecond
    assert created_for(sandbox, key_of(api))[0]["ended_at"] == record["ended_at"]  # it stays


def test_audit_status_of_a_failed_job(sandbox: Sandbox, api: httpx.Client) -> None:
    sandbox.faults.fail_next_jobs(1)
    job = api.post(SPEECH, json={"text": "Doomed."}).json()
    until(lambda: created_for(sandbox, key_of(api))[0]["status"] == "failed", what="failed")
    [record] = created_for(sandbox, key_of(api))
    assert record["outputs"] == [] and isinstance(record["ended_at"], float)
    assert api.get(f"/v2/jobs/{job['id']}").json()["status"] == "failed"


def test_served_records_each_download_with_its_byte_counts(sandbox: Sandbox, api, done) -> None:
    name, size = done["name"], len(done["data"])
    [record] = served_for(sandbox, name)  # the fixture's own download
    assert record == record | {
        "provider": "mercadream",
        "method": "GET",
        "status": 200,
        "bytes_sent": size,
        "size": size,
        "complete": True,
        "fault": None,
    }
    [job] = created_for(sandbox, key_of(api))
    assert job["outputs"] == [name]
    missing = httpx.get(done["url"].replace(name, "nope.wav"), trust_env=False)
    assert missing.status_code == 404
    [gone] = served_for(sandbox, "nope.wav")
    assert gone["status"] == 404 and gone["complete"] is False and gone["size"] is None


def test_audit_over_http_and_from_an_attached_sandbox(sandbox: Sandbox, api) -> None:
    api.post(SPEECH, json={"text": "Seen from afar."})
    box = Sandbox.attach(sandbox.url)
    remote = box.audit()
    over_http = httpx.get(f"{sandbox.url}/_sandbox/audit", trust_env=False).json()
    local = sandbox.audit()
    mine = [r for r in remote["created"] if r["account"] == account(key_of(api))]
    assert len(mine) == 1
    assert {r["id"] for r in over_http["created"]} == {r["id"] for r in local["created"]}
    assert len(remote["served"]) == len(local["served"])

    box.faults.drop_rate = 1.0  # set from "another process"
    assert sandbox.faults.drop_rate == 1.0
    box.faults.malformed_rate = 0.25
    box.faults.malformed_kinds = ["json_list"]
    box.faults.rate_limit_retry_after = 7
    box.faults.truncated_download_rate = 0.5
    box.faults.html_download_rate = 0.5
    box.faults.rate_limit_rate = 0.5
    box.faults.seed = 99
    assert sandbox.faults.malformed_kinds == ["json_list"] == box.faults.malformed_kinds
    assert sandbox.faults.rate_limit_retry_after == 7
    assert sandbox.faults.seed == 99
    box.faults.reset()
    assert all(getattr(sandbox.faults, k) == 0 for k in FAULT_KNOBS)
    assert box.faults.drop_rate == 0
    sandbox.faults.seed = None

    box.audit.clear()
    assert box.audit() == {"created": [], "served": []} == sandbox.audit()
    assert httpx.delete(f"{sandbox.url}/_sandbox/audit", trust_env=False).status_code == 204
    box.stop()


def test_audit_never_contains_an_api_key(sandbox: Sandbox, done) -> None:
    with merca(sandbox) as c:
        c.post(SPEECH, json={"text": "Keep it secret."})
        key = key_of(c)
    text = httpx.get(f"{sandbox.url}/_sandbox/audit", trust_env=False).text
    assert account(key) in text
    assert key not in text and "mk_test" not in text
    assert key[-12:] not in text


# ---- every provider's creates ------------------------------------------------------------------
@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny MP4 (1 s, 160x90) for ViddyScribe to describe."""
    from nbmedia.sandbox.services.media.video import render_video

    out = tmp_path_factory.mktemp("chaos") / "clip.mp4"
    return render_video(out, text="", duration=1.0, fps=8, width=160, height=90, seed=3)


def test_every_providers_creates_are_audited_with_the_clients_ids(sandbox: Sandbox, clip) -> None:
    keys = {
        "vimmerse": new_key("vk_"),
        "meshapi": new_key("rsk_test_"),
        "viddyscribe": new_key("vsk_test_starter_"),
        "syncso": new_key("sk_test_hobbyist_"),
    }

    def client(provider: str, headers: dict[str, str]) -> httpx.Client:
        return httpx.Client(
            base_url=sandbox.base_url(provider), headers=headers, trust_env=False, timeout=60
        )

    ids: dict[str, list[tuple[str, str]]] = {}
    sandbox.faults.fail_next_jobs(5)  # no rendering: only the records matter here

    with client("vimmerse", {"X-Api-Key": keys["vimmerse"]}) as c:
        sandbox.faults.malformed_rate = 1.0  # the client never learns the id...
        sandbox.faults.malformed_kinds = ["empty"]
        assert c.post("/v2/media", json={"prompt": "A lighthouse at dusk"}).content == b""
        sandbox.faults.malformed_rate = 0
        [record] = created_for(sandbox, keys["vimmerse"])  # ...the audit does
        media_id = record["id"]
        assert c.get(f"/v2/media/{media_id}").status_code == 200
        patched = c.patch(f"/v2/media/{media_id}", json={"prompt": "A lighthouse at dawn"})
        assert patched.status_code == 200, patched.text
        ids["vimmerse"] = [(media_id, "create"), (media_id, "regenerate")]

    with client("meshapi", {"Authorization": f"Bearer {keys['meshapi']}"}) as c:
        body = {
            "model": "byteplus/seedance-1-0-pro",
            "content": [{"type": "text", "text": "A kite"}],
        }
        r = c.post("/v1/video/generations", json=body)
        assert r.status_code == 200, r.text
        ids["meshapi"] = [(r.json()["id"], "video")]

    with client("viddyscribe", {"X-API-Key": keys["viddyscribe"]}) as c:
        files = {"file": ("clip.mp4", clip.read_bytes(), "video/mp4")}
        up = c.post("/enterprise/api/upload_media", files=files)
        assert up.status_code == 200, up.text
        body = {"input": {"type": "media_id", "media_id": up.json()["media_id"]}}
        r = c.post("/enterprise/api/generate_ad_text", json=body)
        assert r.status_code == 200, r.text
        ids["viddyscribe"] = [(r.json()["job_id"], "text")]

    with client("syncso", {"x-api-key": keys["syncso"]}) as c:
        tts = {"name": "elevenlabs", "voiceId": "rachel", "script": "Hello"}
        body = {"model": "lipsync-2", "input": [{"type": "text", "provider": tts}]}
        idem = {"Idempotency-Key": "chaos-1"}
        first = c.post("/v2/generate", json=body, headers=idem)
        again = c.post("/v2/generate", json=body, headers=idem)
        assert first.status_code == again.status_code == 201, first.text
        assert again.headers["Idempotent-Replayed"] == "true"
        ids["syncso"] = [(first.json()["id"], "generate")]

    for provider, expected in ids.items():
        records = created_for(sandbox, keys[provider])
        assert [(r["id"], r["kind"]) for r in records] == expected, provider
        assert all(r["provider"] == provider for r in records)
        assert all(isinstance(r["status"], str) for r in records), records
    [gen] = created_for(sandbox, keys["syncso"])
    assert gen["replays"] == 1  # the idempotent replay made no second record
    first_gen, regen = created_for(sandbox, keys["vimmerse"])
    assert (first_gen["generation"], regen["generation"]) == (1, 2)
    assert regen["current_generation"] == 2
    until(
        lambda: all(
            r["status"] in ("failed", "FAILED")
            for p in ("vimmerse", "meshapi", "viddyscribe", "syncso")
            for r in created_for(sandbox, keys[p])
        ),
        what="every injected failure to land",
    )
    for provider in ("meshapi", "viddyscribe", "syncso"):
        assert all(isinstance(r["ended_at"], float) for r in created_for(sandbox, keys[provider]))
    assert isinstance(created_for(sandbox, keys["vimmerse"])[1]["ended_at"], float)


# ---- python -m nbmedia.sandbox ---------------------------------------------------------------
def test_main_prints_its_url_takes_a_seed_and_stops_cleanly_on_sigterm() -> None:
    args = ["--port", "0", "--speed", "5", "--seed", "42", "--no-plan-limits"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "nbmedia.sandbox", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", line)[0]
        assert line.startswith(f"nbmedia sandbox serving on {url} (speed 5)")
        box = Sandbox.attach(url)
        assert box.faults.seed == 42 and box.faults.plan_limits is False
        box.stop()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
