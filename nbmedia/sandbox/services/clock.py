"""Job lifecycles on a virtual clock that runs ``speed`` times faster than the wall clock.

Every provider's jobs go through the same three stages (waiting, running, then succeeded or
failed); each provider maps them onto its own status words. A stage is a pure function of the
virtual time and of whether the job's output has been rendered, so a ``GET`` computes it on
demand; a ticker thread observes the same function so that webhooks fire even when nobody polls.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

TICK_SECONDS = 0.05
"""How often the ticker looks at running jobs (wall seconds); bounds webhook lag."""

RENDER_WAIT_PROGRESS = 0.99
"""Progress shown while the clock says done but the output file is still being rendered."""

FAIL_POINT = 0.5
"""An injected failure happens this far into the running stage."""


class Stage(str, enum.Enum):
    """Provider-neutral stages; a provider module owns the mapping to its status words."""

    WAITING = "waiting"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self in (Stage.SUCCEEDED, Stage.FAILED)


@dataclass(frozen=True)
class Timing:
    """Virtual seconds a job spends waiting in the queue, then running."""

    wait: float
    run: float

    @property
    def total(self) -> float:
        return self.wait + self.run


class Clock:
    """Virtual seconds; ``speed`` can change at runtime without making time jump."""

    def __init__(self, speed: float = 1.0) -> None:
        self._lock = threading.Lock()
        self._speed = _check_speed(speed)
        self._wall0 = time.monotonic()
        self._virtual0 = 0.0
        self._tracked: list[Lifecycle] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def speed(self) -> float:
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        value = _check_speed(value)
        with self._lock:
            now = time.monotonic()
            self._virtual0 += (now - self._wall0) * self._speed
            self._wall0 = now
            self._speed = value

    def now(self) -> float:
        """Virtual seconds since the clock was made (monotonic)."""
        with self._lock:
            return self._virtual0 + (time.monotonic() - self._wall0) * self._speed

    def wall_in(self, virtual_seconds: float) -> float:
        """Wall seconds until ``virtual_seconds`` of virtual time pass at the current speed."""
        return max(0.0, virtual_seconds) / self._speed

    def track(self, lifecycle: Lifecycle) -> None:
        """Have the ticker observe ``lifecycle`` until it is terminal (so its events fire)."""
        with self._lock:
            self._tracked.append(lifecycle)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._tick_forever, name="sandbox-clock", daemon=True
                )
                self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _tick_forever(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            with self._lock:
                tracked = list(self._tracked)
            done = []
            for lifecycle in tracked:
                try:
                    if lifecycle.snapshot().stage.terminal:
                        done.append(lifecycle)
                except Exception:  # a broken listener must not stop the clock
                    done.append(lifecycle)
            if done:
                with self._lock:
                    self._tracked = [lc for lc in self._tracked if lc not in done]


@dataclass(frozen=True)
class Snapshot:
    stage: Stage
    progress: float
    """0..1."""
    stamps: dict[Stage, float]
    """Wall time (epoch seconds) at which each stage reached so far was first observed."""
    error: tuple[str, str] | None
    eta: float
    """Wall time (epoch seconds) the clock expects the job to finish."""

    @property
    def ended_at(self) -> float | None:
        """Wall time (epoch seconds) the job became terminal here, when it is: the moment its
        webhook was queued and a ``GET`` first showed it (``None`` while it runs)."""
        return self.stamps.get(self.stage) if self.stage.terminal else None


@dataclass
class Lifecycle:
    """One job's stages: scheduled on the clock, finished only once its output exists."""

    clock: Clock
    timing: Timing
    on_change: Callable[[Stage, Snapshot], None] | None = None
    created: float = field(init=False)
    _ready: bool = field(default=False, init=False)
    _fail_at: float | None = field(default=None, init=False)
    _error: tuple[str, str] | None = field(default=None, init=False)
    _stamps: dict[Stage, float] = field(default_factory=dict, init=False)
    _progress: float = field(default=0.0, init=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, init=False)

    def __post_init__(self) -> None:
        self.created = self.clock.now()
        self._stamps[Stage.WAITING] = time.time()

    def output_ready(self) -> None:
        """Called by the renderer once the output file is complete."""
        with self._lock:
            self._ready = True

    def fail(self, code: str, message: str, *, scheduled: bool = False) -> None:
        """End in FAILED: at once (after the waiting stage), or part-way through running."""
        with self._lock:
            if self._error is not None:
                return
            self._error = (code, message)
            start_run = self.created + self.timing.wait
            if scheduled:
                self._fail_at = start_run + FAIL_POINT * self.timing.run
            else:
                self._fail_at = max(self.clock.now(), start_run)

    def snapshot(self) -> Snapshot:
        """The stage now; records and announces stages reached since the last look."""
        with self._lock:
            now = self.clock.now()
            stage, progress = self._compute(now)
            reached = _path_to(stage)
            wall = time.time()
            for s in reached:
                if s not in self._stamps:
                    self._stamps[s] = wall
                    if self.on_change is not None:
                        self.on_change(s, self._snap(s, progress, now))
            self._progress = progress
            return self._snap(stage, progress, now)

    def _snap(self, stage: Stage, progress: float, now: float) -> Snapshot:
        remaining = self.created + self.timing.total - now
        # Never in the past while running: a job the clock says is done may still be rendering.
        eta = (
            self._stamps.get(stage, time.time())
            if stage.terminal
            else time.time() + self.clock.wall_in(max(remaining, 0.0))
        )
        return Snapshot(stage, progress, dict(self._stamps), self._error, eta)

    def _compute(self, now: float) -> tuple[Stage, float]:
        done = next((s for s in (Stage.SUCCEEDED, Stage.FAILED) if s in self._stamps), None)
        if done is not None:
            return done, self._progress
        t = now - self.created
        run_frac = (t - self.timing.wait) / self.timing.run if self.timing.run > 0 else 1.0
        if self._fail_at is not None and now >= self._fail_at:
            ran = (self._fail_at - self.created - self.timing.wait) / max(self.timing.run, 1e-9)
            return Stage.FAILED, _clamp(ran, 0.0, RENDER_WAIT_PROGRESS)
        if t < self.timing.wait:
            return Stage.WAITING, 0.0
        if run_frac < 1.0 or not self._ready:
            return Stage.RUNNING, _clamp(run_frac, 0.0, RENDER_WAIT_PROGRESS)
        return Stage.SUCCEEDED, 1.0


def _path_to(stage: Stage) -> list[Stage]:
    """Stages in order up to ``stage``, so an observer that skipped one still announces it."""
    if stage is Stage.WAITING:
        return [Stage.WAITING]
    return [Stage.WAITING, Stage.RUNNING] + ([stage] if stage.terminal else [])


def _clamp(x: float, lo: float, hi: float) -> float:
    return min(hi, max(lo, x))


def _check_speed(speed: float) -> float:
    speed = float(speed)
    if not speed > 0:
        raise ValueError(f"speed must be > 0, got {speed}")
    return speed
