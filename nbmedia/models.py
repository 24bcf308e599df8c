"""What every provider shares: a Job, its status vocabulary and its outputs.

Providers keep their own request shapes; only the job lifecycle is mapped onto this vocabulary.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Generator
from dataclasses import dataclass, field, fields
from enum import Enum
from pathlib import Path
from typing import Any, Protocol


class JobStatus(str, Enum):
    """The lifecycle every provider's statuses are mapped onto."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    """The provider finished and every main output is on disk and verified."""
    FAILED = "failed"
    """The provider failed it, or it provably never reached the provider."""
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    UNCONFIRMED = "unconfirmed"
    """The create may have reached the provider (and may be billed) but no answer confirmed it
    and the provider offers no way to look it up: check its dashboard, then `studio.attach`."""

    @property
    def terminal(self) -> bool:
        return self in TERMINAL

    def __str__(self) -> str:
        return self.value


TERMINAL = frozenset(
    {
        JobStatus.SUCCEEDED,
        JobStatus.FAILED,
        JobStatus.CANCELLED,
        JobStatus.EXPIRED,
        JobStatus.UNCONFIRMED,
    }
)


@dataclass
class Output:
    """One file a job produced: where the provider serves it and where we saved it."""

    kind: str  # video, audio, image, captions, text
    url: str | None
    mime: str | None = None
    path: Path | None = None
    role: str = "main"  # main, thumbnail, segment, …
    content: str | None = field(default=None, repr=False)
    """Text the provider returned inline (captions, segments JSON): written to `path` on settle."""

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "kind": self.kind,
            "url": self.url,
            "mime": self.mime,
            "path": str(self.path) if self.path else None,
            "role": self.role,
        }
        if self.content is not None and self.path is None:
            d["content"] = self.content  # not saved yet: a restart must still have it
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Output:
        return cls(
            kind=d["kind"],
            url=d.get("url"),
            mime=d.get("mime"),
            path=Path(d["path"]) if d.get("path") else None,
            role=d.get("role", "main"),
            content=d.get("content"),
        )


MIME_BY_EXT = {
    "mp4": "video/mp4",
    "webm": "video/webm",
    "mov": "video/quicktime",
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "flac": "audio/flac",
    "m4a": "audio/mp4",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "vtt": "text/vtt",
    "srt": "application/x-subrip",
    "json": "application/json",
    "edl": "text/plain",
}
EXT_BY_MIME = {v: k for k, v in reversed(MIME_BY_EXT.items())}
"""File extension ⇄ MIME type of the outputs providers return."""


class JobHooks(Protocol):
    """How waiting and display work for a job; registered on it by the Studio that follows it
    (a Job is data and events: it knows no Studio)."""

    def wait(self, job: Job, timeout: float | None, progress: bool | None) -> Job: ...

    async def wait_async(self, job: Job, timeout: float | None) -> Job: ...

    def display(self, job: Job) -> None: ...


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass(eq=False)
class Job:
    """One generation job at one provider, kept current by the tracker.

    Display it in a notebook for live progress and then the player; `wait()` or `await job`
    for the finished job.
    """

    provider: str
    kind: str
    id: str | None = None
    status: JobStatus = JobStatus.QUEUED
    progress: float | None = None
    prompt: str | None = None
    created_at: dt.datetime = field(default_factory=utcnow)
    updated_at: dt.datetime = field(default_factory=utcnow)
    completed_at: dt.datetime | None = None
    outputs: list[Output] = field(default_factory=list)
    error: dict[str, Any] | None = None
    cost: float | None = None
    cost_unit: str | None = None
    """What `cost` counts, in the provider's own terms: 'compute units', 'tokens', 'USD'; 'USD
    estimate' when the figure is the provider's estimate made before the job."""
    raw: dict[str, Any] | None = None
    request: dict[str, Any] = field(default_factory=dict)
    local_id: str = ""
    note: str | None = None
    """Why the job is waiting right now, e.g. 'rate-limited, retrying in 8 s'."""
    eta: dt.datetime | None = None
    """When the provider expects the job to end, if it says (it paces the status checks)."""
    expected_s: float | None = None
    """How long jobs of this provider and kind took in this ledger lately (the median), for
    the time left shown where the provider gives no `eta`; None without such history."""
    _hooks: JobHooks | None = field(default=None, repr=False, compare=False)
    _listeners: list[Callable[[Job], None]] = field(default_factory=list, repr=False)
    _tickers: list[Callable[[Job], None]] = field(default_factory=list, repr=False)

    @property
    def done(self) -> bool:
        return self.status.terminal

    @property
    def elapsed_s(self) -> float:
        end = self.completed_at or (self.updated_at if self.done else utcnow())
        return max(0.0, (end - self.created_at).total_seconds())

    def output(self, kind: str | None = None, role: str = "main") -> Output | None:
        """The first output of that kind and role (the main file by default)."""
        for out in self.outputs:
            if out.role == role and (kind is None or out.kind == kind):
                return out
        return None

    @property
    def path(self) -> Path | None:
        """The local file of the main output, once downloaded."""
        out = self.output()
        return out.path if out else None

    def bind(self, hooks: JobHooks) -> Job:
        """Registers how this job is waited for and displayed (done by the Studio)."""
        self._hooks = hooks
        return self

    def on_change(self, callback: Callable[[Job], None]) -> Callable[[], None]:
        """Call `callback(job)` on every change; returns a function that unsubscribes."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def on_tick(self, callback: Callable[[Job], None]) -> Callable[[], None]:
        """Call `callback(job)` once a second while the job is open (its elapsed time moves;
        nothing else did): for what is on screen. Returns a function that unsubscribes."""
        self._tickers.append(callback)
        return lambda: self._tickers.remove(callback) if callback in self._tickers else None

    @property
    def on_screen(self) -> bool:
        """Something shows this job's elapsed time (it has tick listeners)."""
        return bool(self._tickers)

    def _emit(self) -> None:
        """A change: tells every change listener."""
        _call(self._listeners, self)

    def _tick(self) -> None:
        """A clock tick (no change): tells the tick listeners only."""
        _call(self._tickers, self)

    def wait(self, timeout: float | None = None, *, progress: bool | None = None) -> Job:
        """Block until the job ends; raises JobFailed or JobTimeout (both carry the job).

        In a terminal a text progress bar is drawn on stderr (`progress=None` means: when stderr
        is a terminal and this is not a notebook); in a notebook the widget shows progress.
        """
        if self._hooks is None:
            raise RuntimeError("this Job is not attached to a Studio")
        return self._hooks.wait(self, timeout, progress)

    def __await__(self) -> Generator[Any, None, Job]:
        if self._hooks is None:
            raise RuntimeError("this Job is not attached to a Studio")
        return self._hooks.wait_async(self, None).__await__()

    def _ipython_display_(self) -> None:
        if self._hooks is None:
            from IPython.display import display

            display(repr(self))
            return
        self._hooks.display(self)

    def __repr__(self) -> str:
        prog = "" if self.progress is None else f" {self.progress:.0%}"
        where = f" -> {self.path}" if self.path else ""
        err = f" error={self.error.get('code')!r}" if self.error else ""
        return f"<Job {self.provider}/{self.kind} {self.id} {self.status.value}{prog}{where}{err}>"


def private_copy(job: Job) -> Job:
    """A private copy of `job` for a provider to fill with an answer; nobody listens to it
    (the engine merges what changed into the job everyone holds). Made field by field, not
    with `dataclasses.replace` (which re-runs `__init__`): a sweep of many jobs with news
    copies each of them."""
    copy = object.__new__(Job)
    state = copy.__dict__
    state.update(job.__dict__)
    state["outputs"] = list(job.outputs)
    state["_listeners"] = state["_tickers"] = _NOBODY  # nobody listens: nothing allocated
    state["_hooks"] = None
    return copy


_NOBODY = ()
"""The listeners of every private copy: none, and none can be added (a copy is not shown)."""

SHARED_FIELDS = tuple(
    f.name
    for f in fields(Job)
    if not f.name.startswith("_")
    and f.name not in ("local_id", "provider", "kind", "request", "note")
)
"""What a provider's answer may change on a job (the note is the engine's own)."""


def merge_answer(src: Job, dst: Job) -> None:
    """Copies the provider-side state of `src` (a private copy it answered) onto `dst`."""
    for name in SHARED_FIELDS:
        setattr(dst, name, getattr(src, name))


def _call(callbacks: list[Callable[[Job], None]], job: Job) -> None:
    for cb in list(callbacks):
        try:
            cb(job)
        except Exception:  # a broken listener must not stop tracking
            import logging

            logging.getLogger("nbmedia").exception("job listener failed")


def cost_text(cost: Any, unit: Any) -> str | None:
    """12 compute units, 82,368 tokens, $0.25, ≈ $0.25 (an estimate); None without a cost
    (None, NaN or pandas' NA: a table cell is passed as it is; a missing unit is none)."""
    try:
        cost = float(cost)
    except (TypeError, ValueError):
        return None
    if math.isnan(cost):
        return None
    unit = unit if isinstance(unit, str) else None
    if unit in ("USD", "USD estimate"):
        return ("≈ " if unit == "USD estimate" else "") + f"${cost:,.2f}"
    amount = f"{cost:,.0f}" if float(cost).is_integer() else f"{cost:,.4g}"
    if not unit:
        return amount
    return f"{amount} {unit[:-1] if cost == 1 and unit.endswith('s') else unit}"
