"""Keys go only to the API's own origin, redirects included: a real redirect between two
loopback servers (httpx alone strips only `Authorization`, not `X-Api-Key` and the like)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from nbmedia.errors import ProviderError
from nbmedia.http import ApiClient, Secret

KEY = "canary-key-0123456789"


class Recorded:
    def __init__(self) -> None:
        self.headers: list[dict[str, str]] = []


def _server(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def servers() -> Iterator[tuple[str, str, Recorded]]:
    """An 'API' that redirects everything to a second origin, which records what it got."""
    seen = Recorded()

    class Elsewhere(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            seen.headers.append({k.lower(): v for k, v in self.headers.items()})
            body = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 28 if "file" in self.path else b"{}"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    other = _server(Elsewhere)
    other_url = f"http://127.0.0.1:{other.server_port}"

    class Api(BaseHTTPRequestHandler):
        def _redirect(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            status = 307 if self.path.startswith("/keep") else 302
            self.send_response(status)
            self.send_header("Location", other_url + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = _redirect

        def log_message(self, *args: object) -> None:
            pass

    api = _server(Api)
    yield f"http://127.0.0.1:{api.server_port}", other_url, seen
    api.shutdown()
    other.shutdown()


@pytest.mark.parametrize(
    "auth",
    [
        lambda k: {"Authorization": f"Bearer {k}"},
        lambda k: {"X-Api-Key": k},
        lambda k: {"X-API-Key": k},
        lambda k: {"x-api-key": k},
    ],
)
def test_a_redirect_to_another_origin_carries_no_key(servers, auth, tmp_path: Path) -> None:
    api_url, _other, seen = servers
    client = ApiClient("test", api_url, secret=Secret(KEY), auth_headers=auth)

    async def main() -> None:
        r = await client.request("GET", "/v1/jobs/1")
        assert r.status_code == 200
        await client.download(api_url + "/file.wav", tmp_path / "f.part", with_auth=True)
        await client.aclose()

    asyncio.run(main())
    assert len(seen.headers) == 2
    assert all(KEY not in json.dumps(h) for h in seen.headers), seen.headers


def test_a_body_is_never_carried_to_another_origin(servers) -> None:
    api_url, _other, seen = servers
    client = ApiClient("test", api_url, secret=Secret(KEY), auth_headers=lambda k: {"X-Api-Key": k})

    async def main() -> None:
        with pytest.raises(ProviderError) as err:
            await client.request("POST", "/keep/v1/jobs", json={"prompt": "x"}, creates_job=True)
        assert err.value.code == "redirect_refused" and "127.0.0.1" in str(err.value)
        await client.aclose()

    asyncio.run(main())
    assert seen.headers == []  # nothing reached the other origin
