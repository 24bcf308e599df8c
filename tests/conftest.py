"""Shared fixtures (one sandbox for the whole session, reset between tests) and the helpers the
test folders share: polling, webhook receiving, downloading and inlining media."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from collections.abc import Callable, Collection, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

import nbmedia as nm
from nbmedia.sandbox import Sandbox, start

SANDBOX_SPEED = 20.0
"""Jobs run 20x faster than at the default speed; rendering real media is the floor."""


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """A started sandbox on a free loopback port, shared by every test in the session."""
    sb = start(speed=SANDBOX_SPEED)
    yield sb
    sb.stop()


@pytest.fixture
def studio(tmp_path: Path, sandbox: Sandbox) -> Iterator[nm.Studio]:
    """A Studio on the session's sandbox with its own folder (ledger and media)."""
    s = nm.Studio(root=tmp_path, sandbox=sandbox)
    yield s
    s.close()


@pytest.fixture(autouse=True)
def _sandbox_hygiene(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that turns a fault knob or the speed does not leak it into the next test."""
    if "sandbox" not in request.fixturenames:
        yield
        return
    sb: Sandbox = request.getfixturevalue("sandbox")
    speed = sb.speed
    yield
    sb.faults.reset()
    sb.speed = speed


def provider_client(sandbox: Sandbox, name: str, *, key: str | None = None, **api_options: object):
    """One provider's client (ApiClient + Provider, no Studio) aimed at the sandbox.

    It has a sandbox account of its own (a fresh key) unless `key` is given, so no other test's
    jobs, rate windows or concurrency mix with its own. `api_options` go to ApiClient (e.g.
    `max_retries=0`, `transport=httpx.MockTransport(...)`).
    """
    import uuid

    from nbmedia.http import ApiClient, Secret
    from nbmedia.providers import REGISTRY

    cls = REGISTRY[name]
    api = ApiClient(
        name,
        sandbox.base_url(name),
        secret=Secret(key or f"{cls.sandbox_key}_{uuid.uuid4().hex[:12]}"),
        auth_headers=cls.auth_headers,
        error_parser=cls.parse_error,
        **api_options,
    )
    hook = sandbox.webhook_secret(name)  # empty for a provider that signs nothing
    return cls(api, webhook_secret=Secret(hook) if hook else None)


# ---- helpers shared by the test folders -----------------------------------------------------------
T = TypeVar("T")


def wait_until(
    check: Callable[[], T],
    *,
    timeout: float = 60,
    every: float = 0.05,
    what: str | Callable[[], str] = "the condition",
    sleep: Callable[[float], object] = time.sleep,
) -> T:
    """Call `check` until it returns something truthy and return that; fail after `timeout` s.

    `what` names what is awaited in the failure message (a callable is asked at failure time);
    `sleep(every)` runs between checks (e.g. one that turns a Studio's loop instead of blocking).
    """
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"{what() if callable(what) else what} not reached in {timeout} s (last: {result!r})"
            )
        sleep(every)
    return result


def wait_for(
    api: httpx.Client,
    path: str,
    field: str,
    ends: Collection[str],
    *,
    params: dict[str, Any] | None = None,
    timeout: float = 60,
    every: float = 0.05,
) -> dict[str, Any]:
    """GET `path` until its JSON `field` is one of `ends` (a job's final states); the body."""

    def check() -> dict[str, Any] | None:
        r = api.get(path, params=params)
        assert r.status_code == 200, r.text
        return body if (body := r.json())[field] in ends else None

    return wait_until(check, timeout=timeout, every=every, what=f"{path} {field} in {ends}")


def download(url: str, path: Path, *, content_type: str | None = None) -> Path:
    """GET `url` with no key (like a signed CDN link), check it, write it to `path`."""
    r = httpx.get(url, trust_env=False, timeout=30)
    assert r.status_code == 200, (url, r.status_code, r.text[:200])
    if content_type is not None:
        assert r.headers["content-type"] == content_type, (url, r.headers["content-type"])
    if "content-length" in r.headers:
        assert int(r.headers["content-length"]) == len(r.content), url
    path.write_bytes(r.content)
    return path


def data_uri(data: bytes | Path, mime: str) -> str:
    """`data` (bytes, or a file's bytes) as a base64 data: URI."""
    raw = data.read_bytes() if isinstance(data, Path) else data
    return f"data:{mime};base64," + base64.b64encode(raw).decode()


def png_data_uri(rgb: tuple[int, int, int], size: tuple[int, int] = (96, 64)) -> str:
    """A plain `size` (width, height) PNG of one colour, as a data: URI."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, rgb).save(buf, format="PNG")
    return data_uri(buf.getvalue(), "image/png")


class Receiver:
    """A loopback webhook receiver: records each POST's headers and raw body and answers `status`.

    The first `fail_first` calls are answered 500 and not recorded (a receiver that was down).
    """

    def __init__(self, status: int = 204, fail_first: int = 0) -> None:
        self.events: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.fail_first > 0:
                    receiver.fail_first -= 1
                    self.send_response(500)
                else:
                    receiver.events.append((dict(self.headers), body))
                    self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def payloads(self) -> list[dict[str, Any]]:
        """The JSON bodies received so far, in arrival order."""
        return [json.loads(body) for _, body in self.events]

    def wait(self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 30) -> None:
        """Until `predicate(payloads)` holds."""
        wait_until(
            lambda: predicate(self.payloads()),
            timeout=timeout,
            every=0.02,
            what=lambda: f"webhooks matching; so far: {self.payloads()}",
        )

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on loopback for one test (answers 204)."""
    with Receiver() as r:
        yield r


def sandbox_client(
    sandbox: Sandbox, provider: str, headers: dict[str, str] | None, *, timeout: float = 30
) -> httpx.Client:
    """A plain httpx client on one provider's sandbox base URL, with that API's own auth
    header (the contract side of the tests: no nbmedia client code)."""
    return httpx.Client(
        base_url=sandbox.base_url(provider), headers=headers or {}, trust_env=False, timeout=timeout
    )
