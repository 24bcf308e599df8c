"""Assembles the sandbox: one Starlette app with each provider mounted at ``/<name>``, a request
log, and uvicorn serving it from a daemon thread with its own event loop (so it keeps answering
while a notebook cell blocks).

A provider is one package (or, until each is packaged, one module) of ``nbmedia.sandbox``
exposing ``NAME``, ``WEBHOOK_SECRET``, ``build(env) -> list[routes]`` and
``error(status, message, *, code=None, retry_after=None)``; adding one is a package here
(found by ``_provider_modules``). Providers are imported by name at run time and import only
``kit`` and ``services``, never this module: there is no cycle between the app and them.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import pkgutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import control
from .kit.env import Env
from .services.audit import Audit
from .services.clock import Clock
from .services.faults import DropConnection, FaultMiddleware, Faults
from .services.rendercache import RenderCache
from .services.renderpool import RenderPool
from .services.store import Store
from .services.webhooks import DeliveryRecord, WebhookSender

INFRASTRUCTURE = frozenset({"app", "control", "kit", "services"})
"""Modules and packages of ``nbmedia.sandbox`` that serve no API."""


def _provider_modules() -> tuple[ModuleType, ...]:
    """Every package (or module) of ``nbmedia.sandbox`` that serves an API (it has ``NAME``
    and ``build``): a new provider is one package here and nothing else."""
    found = []
    for info in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda i: i.name):
        if info.name.startswith("_") or info.name in INFRASTRUCTURE:
            continue
        module = importlib.import_module(f"{__package__}.{info.name}")
        if hasattr(module, "NAME") and hasattr(module, "build"):
            found.append(module)
    return tuple(found)


PROVIDERS: tuple[ModuleType, ...] = _provider_modules()
"""Every provider module the sandbox serves, each at ``/<module.NAME>``."""

RENDER_WORKERS = 2
STARTUP_TIMEOUT = 15.0

log = logging.getLogger("nbmedia.sandbox")


@dataclass(frozen=True)
class RequestRecord:
    timestamp: float
    """Wall time (epoch seconds) the request arrived."""
    provider: str | None
    method: str
    path: str
    query: str
    status: int | None
    """``None`` when the connection was closed without a response (the drop fault)."""
    duration: float
    """Seconds until the response started (or the connection was dropped)."""


class RequestLog:
    """Thread-safe, list-like record of every request the sandbox answered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[RequestRecord] = []

    def append(self, record: RequestRecord) -> None:
        with self._lock:
            self._items.append(record)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def snapshot(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._items)

    def where(self, **fields: object) -> list[RequestRecord]:
        """Records whose attributes equal every given value, e.g. ``where(method="POST")``."""
        return [r for r in self.snapshot() if all(getattr(r, k) == v for k, v in fields.items())]

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __iter__(self) -> Iterator[RequestRecord]:
        return iter(self.snapshot())

    def __getitem__(self, index: int) -> RequestRecord:
        with self._lock:
            return self._items[index]

    def __repr__(self) -> str:
        return f"<RequestLog {len(self)} requests>"


class _Edge:
    """Outermost layer: logs each request and carries out the drop-connection fault."""

    def __init__(self, app: ASGIApp, request_log: RequestLog, providers: set[str]) -> None:
        self.app = app
        self.request_log = request_log
        self.providers = providers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(control.PREFIX + "/"):
            await self.app(scope, receive, send)  # control traffic is not API traffic
            return
        started = time.time()
        recorded = False

        def record(status: int | None) -> None:
            nonlocal recorded
            recorded = True
            path: str = scope["path"]
            first = path.strip("/").split("/", 1)[0]
            self.request_log.append(
                RequestRecord(
                    timestamp=started,
                    provider=first if first in self.providers else None,
                    method=scope["method"],
                    path=path,
                    query=scope.get("query_string", b"").decode("latin-1"),
                    status=status,
                    duration=time.time() - started,
                )
            )

        async def logged_send(message: Message) -> None:
            # Logged before the response leaves: a client that has its answer sees it logged.
            if message["type"] == "http.response.start":
                record(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, logged_send)
        except DropConnection:
            if not recorded:  # a download cut short was logged when its response started
                record(None)  # before closing, for the same reason
            await _close_connection(send)
        except Exception:
            if not recorded:
                record(500)
                raise
            log.exception("sandbox error after the response started")


async def _close_connection(send: Send) -> None:
    """Close the client's TCP connection without writing a response.

    uvicorn's ``send`` is a bound method of its per-request cycle, which holds the transport.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:  # another server: the best we can do is an unfinished response
        raise RuntimeError("cannot drop the connection on this server")
    transport.close()
    for _ in range(3):  # let connection_lost run, so uvicorn does not try to answer 500
        await asyncio.sleep(0)


def build_app(
    envs: dict[str, Env], store: Store, request_log: RequestLog, control_routes: list[Route]
) -> ASGIApp:
    routes: list[Route | Mount] = [
        Route("/", _index_route(envs)),
        Mount(control.PREFIX, routes=control_routes),
    ]
    for module in PROVIDERS:
        env = envs[module.NAME]
        api = Starlette(
            routes=module.build(env),
            exception_handlers=_error_handlers(module),
        )
        guarded = FaultMiddleware(api, faults=env.faults, error=module.error)
        routes.append(Mount(f"/{module.NAME}/files", routes=store.routes(module.NAME)))
        routes.append(Mount(f"/{module.NAME}", app=guarded))
    # A bare Router, not a Starlette app: its error middleware would answer a DropConnection
    # with a 500 before _Edge could close the connection.
    return _Edge(Router(routes=routes), request_log, set(envs))


def _error_handlers(module: ModuleType) -> dict:
    """Unknown routes, wrong methods and crashes answered in the provider's own error body."""

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = str(exc.detail)
        if exc.status_code in (404, 405):
            message = f"{message}: {request.method} {request.url.path}"
        return module.error(exc.status_code, message, headers=exc.headers)

    async def crash(request: Request, exc: Exception) -> Response:
        log.exception("sandbox %s crashed on %s", module.NAME, request.url.path, exc_info=exc)
        return module.error(500, "Internal error in the sandbox.")

    return {HTTPException: http_error, Exception: crash}


def _index_route(envs: dict[str, Env]):
    async def index(request: Request) -> Response:
        return JSONResponse(
            {"sandbox": "nbmedia", "providers": {n: e.base_url for n, e in envs.items()}}
        )

    return index


class Sandbox:
    """A running sandbox. Use ``start()`` or ``shared()`` rather than making one directly."""

    def __init__(
        self,
        *,
        port: int = 0,
        speed: float = 1.0,
        host: str = "127.0.0.1",
        webhook_secrets: dict[str, str] | None = None,
    ) -> None:
        self.host = host
        # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say so; without it
        # every response waits ~40 ms for a delayed ACK (Nagle).
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.port: int = self._sock.getsockname()[1]
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        self.url = f"http://{shown}:{self.port}"

        # the renderers are imported here, once: two render threads importing them for the
        # first time at once deadlock on Python's import locks
        from .services.media import audio, music, probe, speech, video  # noqa: F401

        self.faults = Faults()
        self.clock = Clock(speed)
        self.request_log = RequestLog()
        self.audit = Audit()
        """Every job created and every download attempted; ``audit()`` is its JSON."""
        self._store = Store(self.faults, self.audit)
        self.render_cache = RenderCache(self._store.root / ".rendercache")
        """Outputs by request: identical requests are rendered once (``render_cache.stats()``)."""
        self._webhooks = WebhookSender(self.faults)
        self._render = RenderPool(RENDER_WORKERS)
        secrets = webhook_secrets or {}
        self._envs = {
            m.NAME: Env(
                name=m.NAME,
                base_url=self.base_url(m.NAME),
                clock=self.clock,
                faults=self.faults,
                files=self._store.files(m.NAME, self.url),
                webhooks=self._webhooks,
                render=self._render,
                webhook_secret=secrets.get(m.NAME, m.WEBHOOK_SECRET),
                audit=self.audit,
                rendercache=self.render_cache,
            )
            for m in PROVIDERS
        }
        app = build_app(self._envs, self._store, self.request_log, control.routes(self))
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            http="h11",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._serve, name=f"nbmedia-sandbox:{self.port}", daemon=True
        )
        self._stopped = False

    @property
    def speed(self) -> float:
        return self.clock.speed

    @speed.setter
    def speed(self, value: float) -> None:
        self.clock.speed = value

    @property
    def providers(self) -> list[str]:
        return list(self._envs)

    @property
    def webhook_log(self) -> list[DeliveryRecord]:
        """Every webhook delivery attempted so far, in order."""
        return list(self._webhooks.log)

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self._stopped

    @property
    def rendering(self) -> int:
        """Renders queued or running now (``stop()`` cancels them)."""
        return self._render.active

    @staticmethod
    def attach(url: str) -> control.AttachedSandbox:
        """A handle on a sandbox served by another process (say, a test's, from a kernel)."""
        return control.AttachedSandbox(url)

    def base_url(self, provider: str) -> str:
        """Drop-in replacement for the provider's real base URL."""
        return f"{self.url}/{provider}"

    def voice_sample(self, provider: str, voice: str, text: str | None = None) -> bytes:
        """A WAV of `voice` as `provider` renders it on this sandbox (free, made on the spot)."""
        from .services.voices import sample_wav

        modules = {m.NAME: m for m in PROVIDERS}
        if provider not in modules:
            raise KeyError(provider)
        return sample_wav(modules[provider], voice, text)

    def webhook_secret(self, provider: str) -> str:
        return self._envs[provider].webhook_secret

    def _serve(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._sock]))

    def _start(self) -> Sandbox:
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the sandbox did not start on {self.url}")
            time.sleep(0.01)
        with httpx.Client(trust_env=False, timeout=5) as client:
            client.get(f"{self.url}/").raise_for_status()
        self.request_log.clear()
        return self

    def stop(self) -> None:
        """Stop serving and delete the output files. Safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        self._server.should_exit = True
        self._thread.join(timeout=10)
        with contextlib.suppress(OSError):
            self._sock.close()
        self._render.stop()  # before the store goes: a render never writes into a deleted folder
        self.clock.close()
        self._webhooks.close()
        self._store.close()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Sandbox {self.url} {state} speed={self.speed:g} providers={self.providers}>"


def start(
    *,
    port: int = 0,
    speed: float = 1.0,
    host: str = "127.0.0.1",
    webhook_secrets: dict[str, str] | None = None,
) -> Sandbox:
    """Serve every provider on ``host:port`` (a free port when 0) from a background thread.

    Returns once the server accepts connections.
    """
    return Sandbox(port=port, speed=speed, host=host, webhook_secrets=webhook_secrets)._start()


_shared: Sandbox | None = None
_shared_lock = threading.Lock()


def shared() -> Sandbox | control.AttachedSandbox:
    """The process-wide sandbox, started on first use (what ``Studio`` uses by default).

    With ``NBMEDIA_SANDBOX_URL`` set (a test's or a standalone sandbox), attaches to that one.
    """
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.running:
            url = os.environ.get("NBMEDIA_SANDBOX_URL")
            _shared = control.AttachedSandbox(url) if url else start()
        return _shared
