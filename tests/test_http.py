"""The one HTTP client's retry policy, checked by what was sent and when (MockTransport: the
sandbox cannot make a connection fail after the request left, on cue)."""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Callable

import httpx
import pytest

from nbmedia import constants as C
from nbmedia.errors import MalformedResponse, ProviderError, RateLimited, TransportError
from nbmedia.http import ApiClient, Secret
from nbmedia.models import Job
from nbmedia.providers.syncso import SyncSo

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """Every request sent and every pause taken, in order."""

    def __init__(self, *answers: object) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        assert isinstance(answer, httpx.Response)
        return answer

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def client(self, **kw: object) -> ApiClient:
        return ApiClient(
            "test",
            "https://api.example.test",
            secret=Secret("sk_test_secret"),
            auth_headers=lambda key: {"Authorization": f"Bearer {key}"},
            transport=httpx.MockTransport(self.handler),
            sleep=self.sleep,
            **kw,  # type: ignore[arg-type]
        )


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


def test_retry_after_seconds_is_waited_exactly() -> None:
    rec = Recorder(
        httpx.Response(429, headers={"Retry-After": "3"}, json={"message": "slow down"}),
        httpx.Response(200, json={"ok": True}),
    )
    r = run(rec.client().request("GET", "/v1/things"))
    assert r.json() == {"ok": True}
    assert rec.sleeps == [3.0] and len(rec.requests) == 2


def test_retry_after_as_an_http_date() -> None:
    when = email.utils.formatdate(time.time() + 5, usegmt=True)
    rec = Recorder(
        httpx.Response(503, headers={"Retry-After": when}, json={"message": "later"}),
        httpx.Response(200, json={}),
    )
    run(rec.client().request("GET", "/v1/things"))
    assert len(rec.sleeps) == 1 and 3.0 <= rec.sleeps[0] <= 5.0


def test_a_retry_after_beyond_the_limit_goes_to_the_caller() -> None:
    rec = Recorder(
        httpx.Response(429, headers={"Retry-After": str(int(C.RETRY_AFTER_MAX) + 60)}, json={})
    )
    with pytest.raises(RateLimited) as err:
        run(rec.client().request("GET", "/v1/things"))
    assert err.value.retry_after == C.RETRY_AFTER_MAX + 60 and rec.sleeps == []


def test_a_create_is_never_blindly_retried_once_it_may_have_arrived() -> None:
    rec = Recorder(httpx.ReadError("connection reset after the request was sent"))
    with pytest.raises(TransportError) as err:
        run(rec.client().request("POST", "/v1/jobs", json={}, creates_job=True))
    assert err.value.may_have_reached_server
    assert len(rec.requests) == 1 and rec.sleeps == []


def test_a_create_answered_5xx_may_exist_and_is_not_repeated() -> None:
    rec = Recorder(httpx.Response(502, json={"message": "bad gateway"}))
    with pytest.raises(ProviderError) as err:
        run(rec.client().request("POST", "/v1/jobs", json={}, creates_job=True))
    assert err.value.may_have_reached_server and len(rec.requests) == 1


def test_a_create_that_never_connected_is_retried() -> None:
    rec = Recorder(httpx.ConnectError("refused"), httpx.Response(201, json={"id": "j1"}))
    r = run(rec.client().request("POST", "/v1/jobs", json={}, creates_job=True))
    assert r.json() == {"id": "j1"} and len(rec.requests) == 2 and len(rec.sleeps) == 1


def test_a_429_to_a_create_is_retried_and_bills_nothing() -> None:
    rec = Recorder(
        httpx.Response(429, headers={"Retry-After": "1"}, json={}),
        httpx.Response(201, json={"id": "j1"}),
    )
    run(rec.client().request("POST", "/v1/jobs", json={}, creates_job=True))
    assert rec.sleeps == [1.0] and len(rec.requests) == 2


def test_a_retried_idempotent_create_that_ends_in_an_error_may_still_exist() -> None:
    rec = Recorder(
        httpx.ReadError("reset"),
        *[httpx.Response(429, headers={"Retry-After": "0"}, json={})] * (C.MAX_RETRIES),
    )
    with pytest.raises(RateLimited) as err:
        run(
            rec.client().request(
                "POST", "/v1/jobs", json={}, creates_job=True, idempotent_create=True
            )
        )
    assert err.value.may_have_reached_server  # the first attempt may have made it


def test_syncso_resends_the_same_idempotency_key() -> None:
    """sync.so deduplicates creates by Idempotency-Key: a lost answer is re-sent with the same
    key (the job's local id), never a new one."""
    rec = Recorder(
        httpx.ReadError("reset after send"),
        httpx.Response(
            201, json={"id": "gen_1", "status": "PENDING", "createdAt": "2026-11-30T10:00:00Z"}
        ),
    )
    api = ApiClient(
        "syncso",
        "https://api.sync.test",
        secret=Secret("sync_test_key"),
        auth_headers=SyncSo.auth_headers,
        error_parser=SyncSo.parse_error,
        transport=httpx.MockTransport(rec.handler),
        sleep=rec.sleep,
    )
    provider = SyncSo(api)
    request = provider.make_request(
        "lipsync",
        {"video": "https://cdn.example.test/v.mp4", "audio": "https://cdn.example.test/a.wav"},
    )
    job = Job(provider="syncso", kind="lipsync", local_id="nbm_0123456789abcdef")
    run(provider.submit(job, request))
    keys = [r.headers.get("idempotency-key") for r in rec.requests]
    assert keys == ["nbm_0123456789abcdef", "nbm_0123456789abcdef"]
    assert job.id == "gen_1"


@pytest.mark.parametrize(
    ("body", "content_type", "said"),
    [
        (b"", "application/json", "empty body"),
        (b'{"id": "job_1", "sta', "application/json", "not valid JSON"),
        (b"<html><body>502</body></html>", "text/html", "not valid JSON"),
        (b"[]", "application/json", "JSON list where a dict"),
    ],
)
def test_a_malformed_body_is_a_provider_error_with_its_first_bytes(
    body: bytes, content_type: str, said: str
) -> None:
    rec = Recorder(httpx.Response(200, content=body, headers={"Content-Type": content_type}))
    api = rec.client()

    async def call() -> object:
        return api.json(await api.request("GET", "/v1/jobs/1"))

    with pytest.raises(MalformedResponse) as err:
        run(call())
    assert said in str(err.value) and err.value.code == "malformed_response"
    assert body[:10].decode() in str(err.value)


def test_every_client_shares_one_tls_context_made_off_the_loop(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading the CA bundle takes tens of milliseconds: each provider's client made its own
    on the kernel's loop as a batch's first requests left. A Studio has it made in a thread
    when it starts, and every client of the process uses that one."""
    import threading

    import nbmedia as nm
    from nbmedia import http

    http._make_tls.cache_clear()
    made_on: list[str] = []
    real = httpx.create_ssl_context

    def record(*args: object, **kw: object) -> object:
        made_on.append(threading.current_thread().name)
        return real(*args, **kw)

    monkeypatch.setattr(httpx, "create_ssl_context", record)
    studio = nm.Studio(root=tmp_path, sandbox=False, keys={"mercadream": "k1", "meshapi": "k2"})
    try:
        clients = [studio.provider(n).api for n in ("mercadream", "meshapi")]

        async def made() -> list[httpx.AsyncClient]:
            return [c.client for c in clients]

        first, second = studio.engine.runner.run(made())
    finally:
        studio.close()
    assert made_on == ["nbmedia-tls"]
    contexts = {id(c._transport._pool._ssl_context) for c in (first, second)}
    assert contexts == {id(http.tls_context())}
