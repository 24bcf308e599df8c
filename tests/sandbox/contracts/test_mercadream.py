"""MercaDream's contract, walked on both sides: the tables of providers.md section 1 and its
readings, and the examples of api-docs/mercadream.txt, run on the sandbox over HTTP and through
the client's request models and parsers. The expected values are written here from the
documents; nothing is imported from the sandbox or the client to say what is right."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import nbmedia as nm
from nbmedia.models import Job, JobStatus
from nbmedia.sandbox import Sandbox
from tests.conftest import (
    Receiver,
    download,
    provider_client,
    sandbox_client,
    wait_for,
    wait_until,
)
from tests.mediacheck import probe

from .conftest import EXAMPLES, refused, run_curl, run_python

pytestmark = pytest.mark.timeout(180)

# ---- the documents, as tables ----------------------------------------------------------------
ROUTES = [
    ("POST", "/v2/generate", {"prompt": "Routes"}, 201),
    ("POST", "/v2/speech", {"text": "Routes"}, 201),
    ("POST", "/v2/music", {"prompt": "Routes"}, 201),
    ("GET", "/v2/jobs", None, 200),
    ("GET", "/v2/vault", None, 200),
]
"""Every documented route and its success status (GET /v2/jobs/{id} is walked below)."""
FIELDS = {
    "video": {"prompt", "resolution", "duration", "style", "fps", "voice_id", "webhook_url"},
    "speech": {"text", "voice_id", "format", "speed"},
    "music": {"prompt", "duration", "format", "bpm"},
}
"""The request fields of each endpoint's table (`webhook_url` is documented on /generate only)."""
PATHS = {"video": "/v2/generate", "speech": "/v2/speech", "music": "/v2/music"}
DEFAULTS = {
    "video": {"resolution": "4k", "duration": 30, "style": "cinematic", "fps": 24},
    "speech": {"voice_id": "neural-narrator-m", "format": "mp3", "speed": 1.0},
    "music": {"duration": 60, "format": "mp3"},
}
REQUIRED = {"video": {"prompt": "A"}, "speech": {"text": "A"}, "music": {"prompt": "A"}}
INSIDE = [
    ("video", "prompt", "p" * 1000),
    *[("video", "resolution", r) for r in ("720p", "1080p", "4k", "8k")],
    *[("video", "duration", d) for d in (15, 30, 60, 120)],
    *[("video", "fps", f) for f in (24, 30, 60)],
    ("video", "style", "noir"),
    ("video", "voice_id", "neural-narrator-m"),
    ("speech", "text", "t" * 5000),
    *[("speech", "format", f) for f in ("mp3", "wav", "flac")],
    ("speech", "speed", 0.5),
    ("speech", "speed", 2.0),
    ("speech", "voice_id", "neural-narrator-m"),
    ("music", "duration", 15),
    ("music", "duration", 300),
    ("music", "bpm", 60),
    ("music", "bpm", 200),
    *[("music", "format", f) for f in ("mp3", "wav", "flac")],
]
"""Values just inside each documented limit and every enum value."""
OUTSIDE = [
    ("video", "prompt", "p" * 1001),
    ("video", "resolution", "2k"),
    ("video", "duration", 45),
    ("video", "duration", "30"),
    ("video", "fps", 25),
    ("speech", "text", "t" * 5001),
    ("speech", "format", "ogg"),
    ("speech", "speed", 0.49),
    ("speech", "speed", 2.01),
    ("music", "duration", 14),
    ("music", "duration", 301),
    ("music", "bpm", 59),
    ("music", "bpm", 201),
    ("music", "format", "aac"),
]
"""Values just outside a limit or enum: a 400 from the API, a ValidationError from the client."""
MISSING = [("video", "prompt"), ("speech", "text"), ("music", "prompt")]
STATUSES = ("queued", "processing", "completed", "failed")
"""The four job statuses, which are also the list filter's enum."""
LIST_INSIDE = [{"limit": 1}, {"limit": 100}, *({"status": s} for s in STATUSES)]
LIST_OUTSIDE = [({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"status": "done"}, "status")]
PLANS = {  # marker in a sandbox test key (ours) -> (requests/min, concurrent jobs, max resolution)
    "regular": (60, 2, "720p"),
    "advanced": (200, 5, "4k"),
    "professional": (1000, 20, "8k"),
}
RESOLUTIONS = ("720p", "1080p", "4k", "8k")
ERROR_STATUSES = (400, 401, 403, 404, 429, 500)
"""The page's error codes (200 and 201 aside); bodies are `{"code", "message"}` (our reading)."""
VAULT_KEYS = {"id", "job_id", "kind", "download_url", "thumbnail_url", "file_size_bytes",
              "created_at"}  # fmt: skip
"""A vault asset (our reading)."""
SIGNATURE_HEADER = "MercaDream-Signature"
WEBHOOK_EVENTS = ("job.processing", "job.completed", "job.failed")
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
DOC = json.loads((EXAMPLES / "mercadream_responses.json").read_text())
DOC_BASE_URL = "https://api.mercadream.com/v2"


# ---- helpers -----------------------------------------------------------------------------------
def new_key(plan: str = "") -> str:
    return f"mk_test_{plan + '_' if plan else ''}{secrets.token_hex(6)}"


def client_for(sandbox: Sandbox, key: str | None) -> httpx.Client:
    return sandbox_client(
        sandbox, "mercadream", {"Authorization": f"Bearer {key}"} if key else None
    )


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with client_for(sandbox, new_key()) as c:
        yield c


def body_for(kind: str, field: str, value: Any) -> dict[str, Any]:
    return {**REQUIRED[kind], field: value}


def assert_error_body(r: httpx.Response, status: int, field: str | None = None) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert isinstance(body.get("code"), str) and body["code"], body
    assert isinstance(body.get("message"), str) and body["message"], body
    if field is not None:
        assert field in body["message"], body
    return body


# ---- routes and fields -------------------------------------------------------------------------
@pytest.mark.parametrize(("method", "path", "body", "status"), ROUTES)
def test_every_route_answers_with_its_documented_status(
    sandbox: Sandbox, api: httpx.Client, method, path, body, status
) -> None:
    sandbox.faults.fail_next_jobs(1)  # nothing to render: only the answer is checked
    r = api.request(method, path, json=body)
    assert r.status_code == status, r.text
    if method == "POST":
        job = r.json()
        got = api.get(f"/v2/jobs/{job['id']}")
        assert got.status_code == 200 and got.json()["id"] == job["id"]
    else:
        assert set(r.json()) == {"data", "has_more"}  # our reading, as the vault's


@pytest.mark.parametrize("kind", sorted(FIELDS))
def test_the_client_models_have_exactly_the_documented_fields(sandbox: Sandbox, kind) -> None:
    model = provider_client(sandbox, "mercadream").requests[kind]
    assert set(model.model_fields) == FIELDS[kind]


@pytest.mark.parametrize("kind", sorted(DEFAULTS))
def test_defaults_on_both_sides(sandbox: Sandbox, api: httpx.Client, kind) -> None:
    wire = provider_client(sandbox, "mercadream").make_request(kind, REQUIRED[kind]).wire()
    assert {k: wire[k] for k in DEFAULTS[kind]} == DEFAULTS[kind]
    sandbox.faults.fail_next_jobs(1)
    r = api.post(PATHS[kind], json=REQUIRED[kind])
    assert r.status_code == 201, r.text
    assert {k: r.json()[k] for k in DEFAULTS[kind]} == DEFAULTS[kind]


@pytest.mark.parametrize(("kind", "field", "value"), INSIDE)
def test_values_inside_the_limits_pass_on_both_sides(
    sandbox: Sandbox, api: httpx.Client, kind, field, value
) -> None:
    body = body_for(kind, field, value)
    wire = provider_client(sandbox, "mercadream").make_request(kind, body).wire()
    assert wire[field] == value
    sandbox.faults.fail_next_jobs(1)
    r = api.post(PATHS[kind], json=wire)
    assert r.status_code == 201, r.text
    assert r.json()[field] == value


@pytest.mark.parametrize(("kind", "field", "value"), OUTSIDE)
def test_values_outside_the_limits_are_refused_on_both_sides(
    sandbox: Sandbox, api: httpx.Client, kind, field, value
) -> None:
    p = provider_client(sandbox, "mercadream")
    err = refused(lambda: p.make_request(kind, body_for(kind, field, value)), field)
    assert err.value == value
    assert_error_body(api.post(PATHS[kind], json=body_for(kind, field, value)), 400, field)
    assert api.get("/v2/jobs").json()["data"] == []  # nothing was made


@pytest.mark.parametrize(("kind", "field"), MISSING)
def test_the_required_text_is_required_on_both_sides(
    sandbox: Sandbox, api: httpx.Client, kind, field
) -> None:
    refused(lambda: provider_client(sandbox, "mercadream").make_request(kind, {}), field)
    assert_error_body(api.post(PATHS[kind], json={}), 400, field)


def test_webhook_url_is_a_generate_field_only(
    sandbox: Sandbox, api: httpx.Client, receiver: Receiver
) -> None:
    """The page documents `webhook_url` on /generate and in no other table: the client refuses
    it elsewhere; the sandbox ignores it there like any unknown field (no webhook is sent)."""
    p = provider_client(sandbox, "mercadream")
    hook = "https://example.com/hook"
    assert p.make_request("video", {"prompt": "A", "webhook_url": hook}).wire()["webhook_url"]
    for kind in ("speech", "music"):
        refused(
            lambda k=kind: p.make_request(k, {**REQUIRED[k], "webhook_url": hook}), "webhook_url"
        )
    sandbox.faults.fail_next_jobs(3)  # nothing to render: only the webhooks matter
    made = {
        kind: api.post(PATHS[kind], json={**REQUIRED[kind], "webhook_url": receiver.url}).json()
        for kind in ("speech", "music", "video")
    }
    for job in made.values():
        wait_for(api, f"/v2/jobs/{job['id']}", "status", ("failed",))
    receiver.wait(lambda events: any(e["event"] == "job.failed" for e in events))
    sent = [d for d in sandbox.webhook_log if d.url == receiver.url]  # every delivery made
    assert {json.loads(d.body)["job_id"] for d in sent} == {made["video"]["id"]}
    assert {e["job_id"] for e in receiver.payloads()} == {made["video"]["id"]}


# ---- jobs, statuses, the list --------------------------------------------------------------------
@pytest.mark.parametrize("query", LIST_INSIDE)
def test_list_query_inside_on_both_sides(sandbox: Sandbox, api: httpx.Client, query) -> None:
    p = provider_client(sandbox, "mercadream")
    assert asyncio.run(p.list_jobs(**query)) == []
    r = api.get("/v2/jobs", params=query)
    assert r.status_code == 200 and r.json() == {"data": [], "has_more": False}


@pytest.mark.parametrize(("query", "field"), LIST_OUTSIDE)
def test_list_query_outside_on_both_sides(sandbox: Sandbox, api: httpx.Client, query, field):
    p = provider_client(sandbox, "mercadream")
    refused(lambda: asyncio.run(p.list_jobs(**query)), field)
    assert_error_body(api.get("/v2/jobs", params=query), 400, field)


@pytest.mark.parametrize(
    ("query", "field"),
    [({"limit": 1}, None), ({"limit": 100}, None), ({"limit": 0}, "limit"),
     ({"limit": 101}, "limit"), ({"before": "yesterday"}, "before")],
)  # fmt: skip
def test_vault_query_on_both_sides(sandbox: Sandbox, api: httpx.Client, query, field) -> None:
    """Our reading: the vault pages like /v2/jobs (`limit` 1-100, `before`), no status filter."""
    p = provider_client(sandbox, "mercadream")
    r = api.get("/v2/vault", params=query)
    if field is None:
        assert asyncio.run(p.list_page("/v2/vault", **query)) == ([], False)
        assert r.status_code == 200 and r.json() == {"data": [], "has_more": False}
    else:
        refused(lambda: asyncio.run(p.list_page("/v2/vault", **query)), field)
        assert_error_body(r, 400, field)
    refused(lambda: asyncio.run(p.list_page("/v2/vault", status="completed")), "status")


def test_list_before_is_an_iso_8601_cursor(sandbox: Sandbox, api: httpx.Client) -> None:
    sandbox.faults.fail_next_jobs(2)
    first = api.post("/v2/speech", json={"text": "one"}).json()
    second = api.post("/v2/speech", json={"text": "two"}).json()
    assert ISO_UTC.match(first["created_at"]) and ISO_UTC.match(second["created_at"])
    page = api.get("/v2/jobs", params={"before": second["created_at"]}).json()
    assert [j["id"] for j in page["data"]] == [first["id"]]
    p = provider_client(sandbox, "mercadream", key=api.headers["Authorization"][7:])
    rows = asyncio.run(p.list_jobs(before=second["created_at"]))
    assert [j["id"] for j in rows] == [first["id"]]
    refused(lambda: asyncio.run(p.list_jobs(before="yesterday")), "before")
    assert_error_body(api.get("/v2/jobs", params={"before": "yesterday"}), 400, "before")


def test_the_client_knows_exactly_the_documented_statuses(sandbox: Sandbox) -> None:
    p = provider_client(sandbox, "mercadream")
    assert set(p.statuses) == set(STATUSES)
    assert p.status_of("completed") is JobStatus.SUCCEEDED
    assert p.status_of("failed") is JobStatus.FAILED
    with pytest.raises(nm.NbmediaError, match="done"):
        p.status_of("done")


def test_a_job_walks_the_documented_statuses(sandbox: Sandbox, api: httpx.Client) -> None:
    sandbox.speed = 2.0  # slow enough to see each status
    job = api.post("/v2/speech", json={"text": "Status by status.", "format": "wav"}).json()
    seen = [job["status"]]

    def ended() -> dict[str, Any] | None:
        row = api.get(f"/v2/jobs/{job['id']}").json()
        if row["status"] != seen[-1]:
            seen.append(row["status"])
        return row if row["status"] in ("completed", "failed") else None

    final = wait_until(ended, timeout=60, every=0.01)
    assert seen == ["queued", "processing", "completed"], seen
    assert final["progress"] == 100
    for key in ("download_url", "file_size_bytes", "completed_at"):
        assert final[key], key


# ---- errors and plans ----------------------------------------------------------------------------
def test_every_documented_error_status_has_the_code_message_body(
    sandbox: Sandbox, api: httpx.Client
) -> None:
    answers = {
        400: api.post("/v2/generate", json={"prompt": "A", "fps": 25}),
        401: httpx.get(sandbox.base_url("mercadream") + "/v2/jobs", trust_env=False),
        403: client_for(sandbox, new_key("free")).get("/v2/jobs"),
        404: api.get("/v2/jobs/job_doesnotexist0000"),
    }
    sandbox.faults.rate_limit_next(1, retry_after=7)
    answers[429] = api.get("/v2/jobs")
    sandbox.faults.fail_next_requests(1, status=500)
    answers[500] = api.get("/v2/jobs")
    assert sorted(answers) == sorted(ERROR_STATUSES)
    for status, r in answers.items():
        assert_error_body(r, status)
    assert answers[429].headers["Retry-After"] == "7"  # our reading: the header, in seconds


def test_the_client_reads_every_error_body(sandbox: Sandbox) -> None:
    p = provider_client(sandbox, "mercadream", max_retries=0)

    def error_of(call) -> nm.ProviderError:
        with pytest.raises(nm.ProviderError) as info:
            asyncio.run(call())
        return info.value

    missing = Job("mercadream", "video", id="job_doesnotexist0000")
    err = error_of(lambda: p.refresh(missing))
    assert (err.http_status, err.code) == (404, "job_not_found") and err.message
    sandbox.faults.rate_limit_next(1, retry_after=7)
    err = error_of(p.list_jobs)
    assert (err.http_status, err.retry_after) == (429, 7.0) and err.code
    free = provider_client(sandbox, "mercadream", key=new_key("free"), max_retries=0)
    err = error_of(free.list_jobs)
    assert err.http_status == 403 and err.code == "plan_no_api_access"


@pytest.mark.parametrize("plan", sorted(PLANS))
def test_each_plans_max_resolution(sandbox: Sandbox, plan: str) -> None:
    top = RESOLUTIONS.index(PLANS[plan][2])
    with client_for(sandbox, new_key(plan)) as c:
        for resolution in RESOLUTIONS:
            sandbox.faults.fail_next_jobs(1)
            r = c.post("/v2/generate", json={"prompt": "Plan", "resolution": resolution})
            if RESOLUTIONS.index(resolution) <= top:
                assert r.status_code == 201, (plan, resolution, r.text)
            else:
                body = assert_error_body(r, 403, "resolution")
                assert body["code"] == "plan_resolution_exceeded"  # our reading
            sandbox.faults.reset()


@pytest.mark.parametrize("plan", sorted(PLANS))
def test_each_plans_concurrency_then_429(sandbox: Sandbox, plan: str) -> None:
    sandbox.speed = 0.5  # the jobs stay open while the next ones are sent
    concurrent = PLANS[plan][1]
    with client_for(sandbox, new_key(plan)) as c:
        sandbox.faults.fail_next_jobs(concurrent + 1)  # none of them renders
        for i in range(concurrent):
            r = c.post("/v2/speech", json={"text": f"job {i}"})
            assert r.status_code == 201, (i, r.text)
        r = c.post("/v2/speech", json={"text": "one too many"})
        assert_error_body(r, 429)
        assert int(r.headers["Retry-After"]) >= 1


@pytest.mark.parametrize("plan", sorted(PLANS))
def test_each_plans_requests_per_minute_then_429(sandbox: Sandbox, plan: str) -> None:
    rpm = PLANS[plan][0]
    with client_for(sandbox, new_key(plan)) as c:
        for i in range(rpm):
            assert c.get("/v2/jobs", params={"limit": 1}).status_code == 200, i
        r = c.get("/v2/jobs", params={"limit": 1})
        assert_error_body(r, 429)
        assert 1 <= int(r.headers["Retry-After"]) <= 60


def test_the_clients_plan_facts_are_the_smallest_plans(sandbox: Sandbox) -> None:
    """Regular, the smallest plan with API access: 60 requests a minute, 2 concurrent jobs."""
    p = provider_client(sandbox, "mercadream")
    assert (p.rate_limit, p.concurrency) == PLANS["regular"][:2]


def test_live_keys_are_never_valid_on_the_sandbox(sandbox: Sandbox) -> None:
    with client_for(sandbox, "mk_live_" + secrets.token_hex(6)) as c:
        assert_error_body(c.get("/v2/jobs"), 401)


# ---- the base URL ----------------------------------------------------------------------------
def test_a_client_on_the_documented_base_url_ending_in_v2(sandbox: Sandbox) -> None:
    """The page's base URL is https://api.mercadream.com/v2: no /v2/v2/... is ever sent."""
    from nbmedia.http import ApiClient, Secret
    from nbmedia.providers import REGISTRY

    cls = REGISTRY["mercadream"]
    api = ApiClient(
        "mercadream",
        sandbox.base_url("mercadream") + "/v2",
        secret=Secret(new_key()),
        auth_headers=cls.auth_headers,
        error_parser=cls.parse_error,
    )
    p = cls(api)
    sandbox.faults.fail_next_jobs(1)

    async def main() -> Job:
        job = Job("mercadream", "speech", local_id=uuid.uuid4().hex)
        await p.submit(job, p.make_request("speech", {"text": "Base URL"}))
        return await p.refresh(job)

    job = asyncio.run(main())
    assert job.id and job.id.startswith("job_")
    assert [row["id"] for row in asyncio.run(p.list_jobs())] == [job.id]


# ---- the page's examples -------------------------------------------------------------------------
def test_the_documented_curl_example(sandbox: Sandbox) -> None:
    """The page's text lost the newlines after each line continuation: as printed, `\\ ` is
    an escaped space, which curl would take for a second URL. Restored, the command runs as
    is, but for the base URL and the key (a live key is never sent to the sandbox)."""
    key = new_key()
    sandbox.faults.fail_next_jobs(1)  # only the answer is checked: nothing to render
    r = run_curl(
        "mercadream_auth.curl",
        {
            " \\ -": " \\\n-",  # the correction
            DOC_BASE_URL: sandbox.base_url("mercadream") + "/v2",
            "mk_live_your_key": key,
        },
    )
    assert r.status_code == 201, r.text
    job = r.json()
    doc = DOC["generate"]
    assert set(doc) <= set(job)
    assert (job["status"], job["prompt"], job["resolution"]) == (
        "queued",
        "Neon rain on Tokyo streets",
        "4k",
    )
    assert job["duration"] == 30 and job["compute_units"] == doc["compute_units"]  # 30 s at 4k
    assert job["id"].startswith("job_")
    assert ISO_UTC.match(job["created_at"]) and ISO_UTC.match(job["estimated_completion"])


def test_the_client_reads_the_documented_responses(sandbox: Sandbox) -> None:
    p = provider_client(sandbox, "mercadream")
    job = p.apply(Job("mercadream", "video"), dict(DOC["generate"]))
    assert (job.id, job.status, job.cost, job.cost_unit) == (
        "job_01j8x9k2m4p6q8r",
        JobStatus.QUEUED,
        12,
        "compute units",
    )
    assert job.eta is not None and job.eta.isoformat().startswith("2025-06-01T14:23:16")
    job = p.apply(job, dict(DOC["completed"]))
    assert job.status is JobStatus.SUCCEEDED and job.progress == 1.0
    assert [(o.kind, o.url) for o in job.outputs] == [
        ("video", DOC["completed"]["download_url"]),
        ("image", DOC["completed"]["thumbnail_url"]),
    ]
    assert job.completed_at is not None


def test_the_documented_sdk_example_and_its_corrected_form(
    sandbox: Sandbox, receiver: Receiver, tmp_path: Path
) -> None:
    """The page's Python example imports `mercadream.MercaClient`, a package no index has
    (providers.md: not found on PyPI or GitHub), so it cannot run anywhere: it fails at its
    import. Its corrected form is the REST calls it stands for, with its own values, followed
    by a signed webhook, which the client verifies."""
    with pytest.raises(ModuleNotFoundError, match="mercadream"):
        run_python("mercadream_sdk.py", {"mk_live_your_key": new_key()})
    key = new_key()
    with client_for(sandbox, key) as c:
        r = c.post(
            "/v2/generate",
            json={
                "prompt": "Neon rain on Tokyo streets at midnight",
                "resolution": "4k",
                "duration": 30,
                "style": "cinematic",
                "webhook_url": receiver.url,
            },
        )
        assert r.status_code == 201, r.text
        job = r.json()
        result = wait_for(c, f"/v2/jobs/{job['id']}", "status", ("completed", "failed"))
    assert result["status"] == "completed", result
    assert set(DOC["completed"]) <= set(result)
    info = probe(download(result["download_url"], tmp_path / "doc.mp4", content_type="video/mp4"))
    assert info["video"]["codec"] == "h264" and info["duration"] == pytest.approx(30, abs=0.2)
    assert result["file_size_bytes"] == (tmp_path / "doc.mp4").stat().st_size

    receiver.wait(lambda events: any(e["status"] == "completed" for e in events))
    secret = sandbox.webhook_secret("mercadream").encode()
    p = provider_client(sandbox, "mercadream")
    for headers, raw in receiver.events:
        event = json.loads(raw)
        assert set(DOC["webhook"]) <= set(event), event
        assert event["event"] in WEBHOOK_EVENTS and event["job_id"] == job["id"]
        assert event["signature"].startswith("sha256=") and ISO_UTC.match(event["timestamp"])
        given = {k.lower(): v for k, v in headers.items()}[SIGNATURE_HEADER.lower()]
        assert given == "sha256=" + hmac.new(secret, raw, hashlib.sha256).hexdigest()
        parsed = p.parse_webhook(headers, raw)
        assert (parsed["id"], parsed["status"]) == (job["id"], event["status"])
    completed = [json.loads(raw) for _, raw in receiver.events if b'"job.completed"' in raw]
    assert completed[0]["download_url"] == result["download_url"]
    with client_for(sandbox, key) as c:  # the vault (our reading) lists the finished video
        vault = c.get("/v2/vault").json()
    assert set(vault) == {"data", "has_more"} and len(vault["data"]) == 1
    asset = vault["data"][0]
    assert set(asset) == VAULT_KEYS and asset["job_id"] == job["id"]
    assert (asset["kind"], asset["download_url"]) == ("video", result["download_url"])
    mine = provider_client(sandbox, "mercadream", key=key)
    assert asyncio.run(mine.vault()) == vault["data"]
    tampered = receiver.events[-1][1].replace(b"completed", b"failed")
    with pytest.raises(nm.WebhookError):
        p.parse_webhook(receiver.events[-1][0], tampered)
