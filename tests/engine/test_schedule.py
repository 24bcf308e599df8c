"""When an open job is checked next: often near its end, rarely far from it or under a webhook."""

from __future__ import annotations

import datetime as dt

from nbmedia import constants as C
from nbmedia.engine.schedule import expected_end, next_interval
from nbmedia.models import Job, JobStatus

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone.utc)


def job(**kw: object) -> Job:
    return Job("p", "video", created_at=NOW - dt.timedelta(seconds=10), **kw)  # type: ignore[arg-type]


def test_the_provider_estimate_comes_first_then_progress() -> None:
    eta = NOW + dt.timedelta(seconds=30)
    assert expected_end(job(eta=eta), NOW) == eta
    running = job(status=JobStatus.RUNNING, progress=0.25)
    assert expected_end(running, NOW) is None  # one reading says nothing of the pace
    earlier = (NOW - dt.timedelta(seconds=5), 0.15)  # 10% in 5 s: 7.5 s for the last 75%...
    assert expected_end(running, NOW, earlier) == NOW + dt.timedelta(seconds=37.5)
    assert expected_end(job(status=JobStatus.QUEUED), NOW, earlier) is None


def test_listed_jobs_far_from_their_end_wait_and_near_it_every_period() -> None:
    far = job(eta=NOW + dt.timedelta(seconds=60))
    near = job(eta=NOW + dt.timedelta(seconds=1))
    assert next_interval(far, 1.0, listed=True, webhook=False, now=NOW) == C.POLL_MAX
    assert next_interval(near, 5.0, listed=True, webhook=False, now=NOW) == C.SWEEP_PERIOD
    assert next_interval(job(), 5.0, listed=True, webhook=False, now=NOW) == C.SWEEP_PERIOD


def test_per_job_checks_aim_before_the_estimate_and_stay_sparse_after() -> None:
    far = job(eta=NOW + dt.timedelta(seconds=20))
    assert next_interval(far, 1.0, listed=False, webhook=False, now=NOW) == 17.0
    close = job(eta=NOW + dt.timedelta(seconds=5))
    assert next_interval(close, 1.0, listed=False, webhook=False, now=NOW) == 5 + C.AIM_PAST
    late = job(eta=NOW - dt.timedelta(seconds=5))
    assert next_interval(late, 1.0, listed=False, webhook=False, now=NOW) == C.PER_JOB_NEAR
    unknown = [C.PER_JOB_FIRST]
    for _ in range(6):
        unknown.append(next_interval(job(), unknown[-1], listed=False, webhook=False, now=NOW))
    assert unknown[-1] == C.PER_JOB_MAX and unknown == sorted(unknown)


def test_a_webhook_job_is_checked_only_as_a_safety_net() -> None:
    hooked = job(eta=NOW + dt.timedelta(seconds=20))
    first = next_interval(hooked, C.POLL_FIRST, listed=True, webhook=True, now=NOW)
    assert first == C.WEBHOOK_SAFETY + 20
    assert next_interval(hooked, first, listed=True, webhook=True, now=NOW) == 2 * first
    assert next_interval(hooked, 250.0, listed=True, webhook=True, now=NOW) == C.WEBHOOK_SAFETY_MAX
