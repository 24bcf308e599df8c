"""Each team's processing slots and queue: a team runs ``PROCESSING_SLOTS`` jobs at a time,
later ones wait ``queued``, and a new job is refused while ``MAX_QUEUED_JOBS`` have not
started. ``faults.plan_limits = False`` lifts both (every job gets a slot of its own)."""

from __future__ import annotations

import math
import threading

from ..kit.env import Env
from ..services.clock import Lifecycle, Timing
from .contract import MAX_QUEUED_JOBS, PROCESSING_SLOTS
from .errors import ApiError


class TeamQueues:
    """When each team's jobs start, on the sandbox clock."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self._lock = threading.Lock()
        self._starts: dict[str, list[float]] = {}
        """Start times of every team's jobs that had not started when last looked at."""
        self._slots: dict[str, list[float]] = {}

    def check(self, team: str) -> None:
        """429 ``queue_limit_exceeded`` if the team's queue is full now."""
        with self._lock:
            self._check_locked(team, self.env.clock.now())

    def admit(self, team: str, plan: Timing) -> Lifecycle:
        """Take a place for a job that waits ``plan.wait`` at least, then runs ``plan.run``:
        its lifecycle, scheduled from now (its wait includes the queue), or the 429."""
        with self._lock:
            now = self.env.clock.now()
            self._check_locked(team, now)
            start = now + plan.wait
            if self.env.faults.plan_limits:  # else every job has a slot of its own
                slots = self._slots.setdefault(team, [0.0] * PROCESSING_SLOTS)
                slot = min(range(len(slots)), key=slots.__getitem__)
                start = max(start, slots[slot])
                slots[slot] = start + plan.run
            self._starts.setdefault(team, []).append(start)
            return Lifecycle(self.env.clock, Timing(wait=start - now, run=plan.run))

    def _check_locked(self, team: str, now: float) -> None:
        waiting = [s for s in self._starts.get(team, ()) if s > now]
        self._starts[team] = waiting
        if not self.env.faults.plan_limits:
            return
        if len(waiting) >= MAX_QUEUED_JOBS:
            wall = self.env.clock.wall_in(min(waiting) - now)
            raise ApiError(
                "queue_limit_exceeded",
                f"{len(waiting)} jobs are already queued for this team (at most "
                f"{MAX_QUEUED_JOBS}); wait for some to complete before submitting more.",
                retry_after=max(1, math.ceil(wall)),
            )
