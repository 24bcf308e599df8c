"""When to look at an open job next, from what its provider has said about it.

A sweep of a provider with a list reads a hundred jobs for the price of one request, so jobs
there are checked every period once they are near their end; a provider without a list costs
one request per job per check, so its jobs are checked sparsely until their estimated end. A
job followed by a verified webhook is only checked as a safety net, long after it should have
ended. The estimate is the provider's own (`Job.eta`, e.g. MercaDream's
`estimated_completion`) or an extrapolation of its progress.
"""

from __future__ import annotations

import datetime as dt

from .. import constants as C
from ..models import Job, JobStatus


def expected_end(job: Job, now: dt.datetime) -> dt.datetime | None:
    """The provider's estimate, else the end its progress so far points at, else None."""
    if job.eta is not None:
        return job.eta
    progress = job.progress
    if job.status is JobStatus.RUNNING and progress is not None and 0.02 <= progress < 1.0:
        elapsed = now - job.created_at
        return job.created_at + elapsed / progress
    return None


def next_interval(
    job: Job, interval: float, *, listed: bool, webhook: bool, now: dt.datetime | None = None
) -> float:
    """Seconds until the next check of `job`, given the previous `interval`."""
    now = now or dt.datetime.now(dt.timezone.utc)
    end = expected_end(job, now)
    left = None if end is None else (end - now).total_seconds()
    if webhook:  # the webhook settles it; this is the net for one that never comes
        first = C.WEBHOOK_SAFETY + max(0.0, left or 0.0)
        return first if interval < C.WEBHOOK_SAFETY else min(C.WEBHOOK_SAFETY_MAX, interval * 2)
    if listed:
        if left is not None and left > C.NEAR_ETA:
            return min(C.POLL_MAX, max(C.SWEEP_PERIOD, left / 2))
        return C.SWEEP_PERIOD
    if left is not None and left > C.NEAR_ETA:
        return min(C.POLL_MAX * 3, max(C.PER_JOB_FIRST, left * 0.6))
    if left is not None:  # near or past the estimate
        return C.PER_JOB_MAX * 0.6
    return min(C.PER_JOB_MAX, max(C.PER_JOB_FIRST, interval * C.POLL_FACTOR))
