"""Control a sandbox that runs in another process (a kernel attaching to a test's sandbox).

The server side is a few routes under ``/_sandbox`` (state, speed, faults, request log, audit),
kept out of the request log and apart from every provider's API. ``Sandbox.attach(url)``
returns an ``AttachedSandbox`` with the same surface as a local ``Sandbox`` (``url``,
``base_url``, ``speed``, ``faults``, ``request_log``, ``audit()``, ``webhook_secret``), driven
over those routes.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from .app import RequestRecord, Sandbox

PREFIX = "/_sandbox"
FAULT_KNOBS = (
    "latency",
    "error_rate",
    "webhook_drop",
    "webhook_duplicate",
    "webhook_reorder",
    "download_delay",
    "drop_rate",
    "rate_limit_rate",
    "rate_limit_retry_after",
    "malformed_rate",
    "malformed_kinds",
    "truncated_download_rate",
    "html_download_rate",
    "plan_limits",
    "seed",
)
FAULT_CALLS = ("fail_next_requests", "rate_limit_next", "fail_next_jobs", "drop_after_receive_next")


def routes(box: Sandbox) -> list[Route]:
    """The control routes of a local sandbox, mounted at ``PREFIX``."""

    async def state(request: Request) -> Response:
        return JSONResponse(_state(box))

    async def speed(request: Request) -> Response:
        try:
            box.speed = float((await request.json())["speed"])
        except (ValueError, KeyError, TypeError) as exc:
            return JSONResponse({"message": f"bad speed: {exc}"}, status_code=400)
        return JSONResponse(_state(box))

    async def faults(request: Request) -> Response:
        """Body: knob values, calls as ``{"fail_next_jobs": {"n": 1, ...}}``, or ``reset``."""
        body = await request.json()
        try:
            if body.pop("reset", False):
                box.faults.reset()
            for name, value in body.items():
                if name in FAULT_KNOBS:
                    setattr(box.faults, name, value)
                elif name in FAULT_CALLS:
                    getattr(box.faults, name)(**value)
                else:
                    raise ValueError(f"unknown fault {name!r}")
        except (ValueError, TypeError) as exc:
            return JSONResponse({"message": str(exc)}, status_code=400)
        return JSONResponse({k: getattr(box.faults, k) for k in FAULT_KNOBS})

    async def requests(request: Request) -> Response:
        if request.method == "DELETE":
            box.request_log.clear()
            return Response(status_code=204)
        return JSONResponse([dataclasses.asdict(r) for r in box.request_log])

    async def audit(request: Request) -> Response:
        if request.method == "DELETE":
            box.audit.clear()
            return Response(status_code=204)
        # the providers' status lookups take their locks: not on the event loop
        return JSONResponse(await asyncio.to_thread(box.audit.snapshot))

    async def voice_sample(request: Request) -> Response:
        q = request.query_params
        try:
            wav = box.voice_sample(q["provider"], q["voice"], q.get("text"))
        except KeyError as exc:
            return JSONResponse({"message": f"missing or unknown {exc}"}, status_code=400)
        return Response(wav, media_type="audio/wav")

    return [
        Route("/voice-sample", voice_sample, methods=["GET"]),
        Route("/state", state, methods=["GET"]),
        Route("/speed", speed, methods=["PUT"]),
        Route("/faults", faults, methods=["POST"]),
        Route("/requests", requests, methods=["GET", "DELETE"]),
        Route("/audit", audit, methods=["GET", "DELETE"]),
    ]


def _state(box: Sandbox) -> dict[str, Any]:
    return {
        "sandbox": "nbmedia",
        "url": box.url,
        "speed": box.speed,
        "providers": {name: box.base_url(name) for name in box.providers},
        "webhook_secrets": {name: box.webhook_secret(name) for name in box.providers},
    }


class AttachedSandbox:
    """A sandbox served by another process; ``stop()`` leaves it running (it is not ours)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url + PREFIX, trust_env=False, timeout=10)
        self._state = self._call("GET", "/state")
        self.faults = RemoteFaults(self._call)
        self.request_log = RemoteRequestLog(self._call)
        self.audit = RemoteAudit(self._call)
        """``audit()``: the sandbox's audit JSON (``GET /_sandbox/audit``); ``audit.clear()``."""

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        r = self._http.request(method, path, json=body)
        if r.status_code == 400:  # a bad knob or speed value: as a local sandbox would say
            try:
                message = r.json()["message"]
            except (ValueError, KeyError, TypeError):
                message = r.text
            raise ValueError(message)
        r.raise_for_status()
        return r.json() if r.content else None

    @property
    def providers(self) -> list[str]:
        return list(self._state["providers"])

    @property
    def speed(self) -> float:
        return float(self._call("GET", "/state")["speed"])

    @speed.setter
    def speed(self, value: float) -> None:
        self._call("PUT", "/speed", {"speed": value})

    @property
    def running(self) -> bool:
        try:
            self._call("GET", "/state")
        except httpx.HTTPError:
            return False
        return True

    def base_url(self, provider: str) -> str:
        return f"{self.url}/{provider}"

    def voice_sample(self, provider: str, voice: str, text: str | None = None) -> bytes:
        params = {"provider": provider, "voice": voice, **({"text": text} if text else {})}
        r = self._http.get("/voice-sample", params=params, timeout=30)
        r.raise_for_status()
        return r.content

    def webhook_secret(self, provider: str) -> str:
        return self._state["webhook_secrets"][provider]

    def stop(self) -> None:
        self._http.close()

    def __repr__(self) -> str:
        return f"<AttachedSandbox {self.url} providers={self.providers}>"


class RemoteFaults:
    """``sandbox.faults`` of an attached sandbox: the same knobs and calls, sent over HTTP."""

    def __init__(self, call: Callable[..., Any]) -> None:
        object.__setattr__(self, "_call", call)

    def __getattr__(self, name: str) -> Any:
        if name in FAULT_KNOBS:
            return self._call("POST", "/faults", {})[name]
        if name in FAULT_CALLS:
            return lambda n=1, **kw: self._call("POST", "/faults", {name: {"n": n, **kw}})
        if name == "reset":
            return lambda: self._call("POST", "/faults", {"reset": True})
        raise AttributeError(name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in FAULT_KNOBS:
            raise AttributeError(f"unknown fault knob {name!r}")
        self._call("POST", "/faults", {name: value})


class RemoteAudit:
    """``sandbox.audit`` of an attached sandbox: calling it fetches the audit JSON."""

    def __init__(self, call: Callable[..., Any]) -> None:
        self._call = call

    def snapshot(self) -> dict[str, Any]:
        return self._call("GET", "/audit")

    __call__ = snapshot

    def clear(self) -> None:
        self._call("DELETE", "/audit")


class RemoteRequestLog:
    """``sandbox.request_log`` of an attached sandbox (each read fetches the current log)."""

    def __init__(self, call: Callable[..., Any]) -> None:
        self._call = call

    def snapshot(self) -> list[RequestRecord]:
        from .app import RequestRecord

        return [RequestRecord(**r) for r in self._call("GET", "/requests")]

    def clear(self) -> None:
        self._call("DELETE", "/requests")

    def __iter__(self) -> Iterator[RequestRecord]:
        return iter(self.snapshot())

    def __len__(self) -> int:
        return len(self.snapshot())

    def __getitem__(self, index: int) -> RequestRecord:
        return self.snapshot()[index]
