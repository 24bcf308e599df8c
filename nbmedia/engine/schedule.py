"""When to look at an open job next, from what its provider has said about it.

A sweep of a provider with a list reads a hundred jobs for the price of one request, so jobs
there are checked every period once they are near their end; a provider without a list costs
one request per job per check, so its jobs are checked sparsely and aimed at their estimated
end. A job followed by a verified webhook is only checked as a safety net, long after it should
have ended. The estimate is the provider's own (`Job.eta`, e.g. MercaDream's
`estimated_completion`) or the pace of its progress between two readings.
"""

from __future__ import annotations

import datetime as dt

from .. import constants as C
from ..models import Job, JobStatus, utcnow

Sample = tuple[dt.datetime, float]
"""An earlier reading of a job's progress: when, and how far."""


def expected_end(
    job: Job, now: dt.datetime | None = None, before: Sample | None = None
) -> dt.datetime | None:
    """The provider's estimate, else where the progress since `before` points, else None."""
    if job.eta is not None:
        return job.eta
    progress = job.progress
    if job.status is not JobStatus.RUNNING or progress is None or before is None:
        return None
    now = now or utcnow()
    then, earlier = before
    span = (now - then).total_seconds()
    if span <= 0 or progress <= earlier or progress >= 1.0:
        return None
    rate = (progress - earlier) / span  # of the whole job, per second
    return now + dt.timedelta(seconds=(1.0 - progress) / rate)


def next_interval(
    job: Job,
    interval: float,
    *,
    listed: bool,
    webhook: bool,
    now: dt.datetime | None = None,
    before: Sample | None = None,
) -> float:
    """Seconds until the next check of `job`, given the previous `interval` and reading
    (the clock is read only when there is an end to aim at: a sweep reschedules hundreds)."""
    end = expected_end(job, now, before)
    left = None
    if end is not None:
        left = (end - (now or utcnow())).total_seconds()
    if webhook:  # the webhook settles it; this is the net for one that never comes
        first = C.WEBHOOK_SAFETY + max(0.0, left or 0.0)
        return first if interval < C.WEBHOOK_SAFETY else min(C.WEBHOOK_SAFETY_MAX, interval * 2)
    if listed:
        if left is not None and left > C.NEAR_ETA:
            return min(C.POLL_MAX, max(C.SWEEP_PERIOD, left / 2))
        return C.SWEEP_PERIOD
    if left is not None and left > C.NEAR_ETA:  # aim just past the end, nearer as it nears
        aim = left * 0.85 if left > C.AIM_CLOSE else left + C.AIM_PAST
        return min(C.PER_JOB_LONG, max(C.PER_JOB_FIRST, aim))
    if left is not None:  # near or past the estimate
        return C.PER_JOB_NEAR
    return min(C.PER_JOB_MAX, max(C.PER_JOB_FIRST, interval * C.POLL_FACTOR))
