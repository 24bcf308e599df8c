"""Tracking many open jobs: sweeps through the providers' lists, webhooks first, ticks apart.

Against the sandbox over real HTTP where it can make the case; a MockTransport only for list
answers the sandbox does not give (a job missing from its list, a job that ends between the
list call and its own GET).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import time
import types
from collections.abc import Callable
from typing import Any

import httpx
import pytest

import nbmedia as nm
from nbmedia import constants as C
from nbmedia.engine.ledger import Phase
from nbmedia.errors import WebhookError
from nbmedia.models import Job, JobStatus
from nbmedia.providers.base import Swept
from nbmedia.sandbox import Sandbox
from tests.conftest import provider_client
from tests.engine.test_jobs import idle, until


def status_reads(sandbox: Sandbox, provider: str, since: float) -> list[Any]:
    """The sandbox's record of `provider`'s status GETs and list calls since `since`."""
    return [
        r
        for r in sandbox.request_log.snapshot()
        if r.provider == provider
        and r.method == "GET"
        and r.timestamp >= since
        and ("/jobs" in r.path or "/generations" in r.path or "/generate/" in r.path)
    ]


# ---- sweeps against the sandbox -------------------------------------------------------------------
def test_many_open_jobs_are_swept_by_pages_not_one_get_each(
    studio: nm.Studio, sandbox: Sandbox
) -> None:
    sandbox.faults.plan_limits = False  # 150 open at once on one key
    sandbox.speed = 2.0
    since = time.time()
    jobs = [studio.speech(f"sweep {i} " + "x" * (i * 20), format="wav") for i in range(150)]
    until(studio, lambda: all(j.done for j in jobs), timeout=120)
    assert {j.status for j in jobs} == {JobStatus.SUCCEEDED}
    reads = status_reads(sandbox, "mercadream", since)
    lists = [r for r in reads if r.path.endswith("/v2/jobs")]
    gets = [r for r in reads if "/v2/jobs/" in r.path]
    assert lists, "the open jobs were never swept through the list"
    assert len(reads) < len(jobs), (len(lists), len(gets))  # a loop of GETs makes several each
    assert all("before=" in r.query and "limit=100" in r.query for r in lists)


def test_a_429_on_a_sweep_holds_every_read_of_the_provider(
    studio: nm.Studio, sandbox: Sandbox
) -> None:
    sandbox.faults.plan_limits = False
    sandbox.speed = 0.5
    jobs = [studio.speech(f"held {i}", format="wav") for i in range(5)]
    idle(studio, 1.0)
    sandbox.faults.rate_limit_retry_after = 2
    sandbox.faults.rate_limit_rate = 1.0
    since = time.time()
    until(studio, lambda: status_reads(sandbox, "mercadream", since), timeout=20)
    sandbox.faults.rate_limit_rate = 0.0
    first = min(r.timestamp for r in status_reads(sandbox, "mercadream", since))
    idle(studio, 3.0)
    after = sorted(r.timestamp for r in status_reads(sandbox, "mercadream", since))
    pacer = studio.provider("mercadream").api.reads
    assert all(t == first or t >= first + 1.9 for t in after), [t - first for t in after]
    assert pacer.sent >= 1
    until(studio, lambda: all(j.done for j in jobs), timeout=60)


def test_reads_in_flight_are_capped_per_provider(sandbox: Sandbox) -> None:
    in_flight = 0
    most = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        media = request.url.path.rsplit("/", 1)[-1]
        return httpx.Response(200, json={"id": media, "processing_status": "new",
                                         "progress_percentage": 10})  # fmt: skip

    provider = provider_client(sandbox, "vimmerse", transport=httpx.MockTransport(slow))
    jobs = [Job("vimmerse", "video", id=f"m{i}", local_id=f"l{i}") for i in range(100)]
    failed = asyncio.run(provider.refresh_many(jobs))  # a provider without a list: 100 GETs
    assert failed == {}
    assert most == C.READS_IN_FLIGHT
    assert provider.api.reads.sent == 100


# ---- sweeps over answers the sandbox does not give ------------------------------------------------
class FakeList:
    """MercaDream's /v2/jobs (newest first, `before`, `limit`) over a fixed set of rows, and
    /v2/jobs/{id}; rows can be hidden from the list and changed between calls."""

    def __init__(self, n: int) -> None:
        start = dt.datetime(2026, 11, 30, tzinfo=dt.timezone.utc)
        self.rows = [
            {"id": f"job_{i:04d}", "status": "processing", "progress": 40, "kind": "speech",
             "created_at": (start + dt.timedelta(seconds=i)).isoformat().replace("+00:00", "Z")}
            for i in range(n)
        ]  # fmt: skip
        self.hidden: set[str] = set()
        self.calls: list[httpx.Request] = []
        self.on_list: Callable[[], None] | None = None

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        path = _path(request)
        if path == "/v2/jobs":
            limit = int(request.url.params.get("limit", 20))
            rows = [r for r in reversed(self.rows) if r["id"] not in self.hidden]
            before = request.url.params.get("before")
            if before:
                cut = dt.datetime.fromisoformat(before.replace("Z", "+00:00"))
                rows = [
                    r for r in rows
                    if dt.datetime.fromisoformat(r["created_at"].replace("Z", "+00:00")) < cut
                ]  # fmt: skip
            if self.on_list is not None:
                self.on_list()
            return httpx.Response(200, json={"data": rows[:limit], "has_more": len(rows) > limit})
        row = next(r for r in self.rows if r["id"] == path.rsplit("/", 1)[-1])
        return httpx.Response(200, json=row)

    def jobs(self, indexes: range | list[int]) -> list[Job]:
        return [
            Job("mercadream", "speech", id=self.rows[i]["id"], local_id=f"l{i}",
                created_at=dt.datetime.fromisoformat(self.rows[i]["created_at"].replace("Z", "+00:00")))
            for i in indexes
        ]  # fmt: skip

    def lists(self) -> list[httpx.Request]:
        return [c for c in self.calls if _path(c) == "/v2/jobs"]

    def gets(self) -> list[httpx.Request]:
        return [c for c in self.calls if _path(c).startswith("/v2/jobs/")]


def _path(request: httpx.Request) -> str:
    """The API path, without the sandbox's /mercadream mount."""
    return request.url.path.removeprefix("/mercadream")


def swept(sandbox: Sandbox, fake: FakeList, jobs: list[Job]) -> dict[str, BaseException]:
    provider = provider_client(sandbox, "mercadream", transport=httpx.MockTransport(fake.handler))
    return asyncio.run(provider.refresh_many(jobs))


def test_a_sweep_pages_back_across_several_pages(sandbox: Sandbox) -> None:
    fake = FakeList(400)
    jobs = fake.jobs(range(50, 330))  # 280 open jobs among 400, the 70 newest not ours
    assert swept(sandbox, fake, jobs) == {}
    assert len(fake.lists()) == 3 and not fake.gets()
    first = fake.lists()[0].url.params["before"]
    assert first.startswith(fake.rows[329]["created_at"][:19])  # aimed past the newer 70
    assert all(j.status is JobStatus.RUNNING and j.progress == 0.4 for j in jobs)


def test_a_sweep_aims_again_between_other_jobs_of_the_account(sandbox: Sandbox) -> None:
    fake = FakeList(400)
    jobs = fake.jobs(range(0, 400, 2))  # every other job of the account is not followed
    assert swept(sandbox, fake, jobs) == {}
    assert not fake.gets() and len(fake.lists()) <= 5
    assert all(j.status is JobStatus.RUNNING for j in jobs)


def test_jobs_missing_from_the_list_are_read_one_by_one(sandbox: Sandbox) -> None:
    fake = FakeList(120)
    fake.hidden = {"job_0100", "job_0010"}
    jobs = fake.jobs(range(120))
    assert swept(sandbox, fake, jobs) == {}
    assert sorted(_path(c) for c in fake.gets()) == ["/v2/jobs/job_0010", "/v2/jobs/job_0100"]
    assert len(fake.lists()) == 2


def test_a_job_that_ends_between_the_list_and_its_get_is_read_as_ended(sandbox: Sandbox) -> None:
    fake = FakeList(30)
    fake.hidden = {"job_0007"}

    def finish() -> None:  # the job ends after the list answered, before its own GET
        fake.rows[7].update(status="completed", progress=100, download_url="https://cdn/x.wav")

    fake.on_list = finish
    jobs = fake.jobs(range(30))
    swept(sandbox, fake, jobs)
    assert jobs[7].status is JobStatus.SUCCEEDED and jobs[7].outputs
    assert [j.status for j in jobs[:7]] == [JobStatus.RUNNING] * 7


def test_a_sweep_copies_only_the_jobs_it_read_news_for(sandbox: Sandbox) -> None:
    """The engine alone writes job state: a sweep leaves the jobs it reads as they are and
    copies only those whose row changed (a thousand open jobs, ten answers: ten copies)."""
    fake = FakeList(30)
    jobs = fake.jobs(range(30))
    assert swept(sandbox, fake, jobs) == {}  # read once: every row as last read
    fake.rows[4].update(status="completed", progress=100, download_url="https://cdn/x.wav")
    provider = provider_client(sandbox, "mercadream", transport=httpx.MockTransport(fake.handler))
    ended: list[Job] = []
    result = asyncio.run(provider.sweep(jobs, ended.append))
    copies = {j.local_id: result.answer(j) for j in jobs if result.answer(j) is not None}
    assert list(copies) == ["l4"] and result.failed == {}
    assert copies["l4"].status is JobStatus.SUCCEEDED and ended == [copies["l4"]]
    assert jobs[4].status is JobStatus.RUNNING and copies["l4"] is not jobs[4]  # untouched


def test_a_failing_get_backs_off_its_job_alone(sandbox: Sandbox) -> None:
    fake = FakeList(10)
    fake.hidden = {"job_0003"}
    inner = fake.handler

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("job_0003"):
            return httpx.Response(404, json={"code": "not_found", "message": "no such job"})
        return inner(request)

    provider = provider_client(sandbox, "mercadream", transport=httpx.MockTransport(handler))
    jobs = fake.jobs(range(10))
    failed = asyncio.run(provider.refresh_many(jobs))
    assert list(failed) == ["l3"]
    assert sum(j.status is JobStatus.RUNNING for j in jobs) == 9


# ---- webhooks first --------------------------------------------------------------------------------
def signed_mercadream(secret: str, job_id: str, status: str, **extra: Any) -> tuple[dict, bytes]:
    event = {"event": f"job.{status}", "job_id": job_id, "status": status,
             "timestamp": dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z"),
             **extra}  # fmt: skip
    body = json.dumps(event).encode()
    mac = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"MercaDream-Signature": f"sha256={mac}"}, body


def test_a_signed_webhook_settles_jobs_without_any_status_read(
    studio: nm.Studio, sandbox: Sandbox
) -> None:
    receiver = studio.receive_webhooks()
    since = time.time()
    # videos: MercaDream documents webhook_url on /generate only (one render, shared)
    jobs = [studio.generate("hooked", resolution="720p", duration=15) for _ in range(5)]
    assert all(j.request["webhook_url"] == f"{receiver.url}/mercadream" for j in jobs)
    until(studio, lambda: all(j.done for j in jobs), timeout=60)
    assert {j.status for j in jobs} == {JobStatus.SUCCEEDED}
    assert all(j.path is not None and j.path.stat().st_size > 1000 for j in jobs)
    assert status_reads(sandbox, "mercadream", since) == []
    assert receiver.counts.accepted >= 5 and not receiver.counts.refused


def test_an_unsigned_callback_has_its_job_reread_once(studio: nm.Studio, sandbox: Sandbox) -> None:
    studio.receive_webhooks()
    since = time.time()
    job = studio.submit("meshapi", "video", "a hooked cat", duration=4)
    until(studio, lambda: job.done, timeout=60)
    assert job.status is JobStatus.SUCCEEDED
    assert len(status_reads(sandbox, "meshapi", since)) == 1  # the callback's re-read


def test_webhooks_out_of_order_duplicated_or_mid_sweep_never_move_a_job_back(
    studio: nm.Studio, sandbox: Sandbox
) -> None:
    sandbox.speed = 0.2
    secret = sandbox.webhook_secret("mercadream")
    jobs = [studio.speech(f"ordered {i}", format="wav") for i in range(3)]
    until(studio, lambda: all(j.status is JobStatus.RUNNING for j in jobs), timeout=30)
    provider = studio.provider("mercadream")
    inner = provider.sweep
    first, second, third = jobs

    async def sweep_then_webhook(
        swept_jobs: list[Job], ended: Callable[[Job], None] | None = None
    ) -> Swept:
        swept = await inner(swept_jobs, ended)  # the sweep saw `first` running...
        headers, body = signed_mercadream(secret, first.id, "completed",
                                          download_url=f"{sandbox.url}/nowhere.wav")  # fmt: skip
        studio.handle_webhook("mercadream", headers, body)  # ...and then it ended
        return swept

    provider.sweep = sweep_then_webhook  # type: ignore[method-assign]
    until(studio, lambda: first.note == "downloading outputs" or first.done, timeout=10)
    provider.sweep = inner  # type: ignore[method-assign]
    entry = studio.engine.tracker.entry(first)
    assert entry is None or entry.phase == Phase.DOWNLOADING  # the sweep's stale answer lost

    sandbox.speed = 20.0
    until(studio, lambda: second.done, timeout=30)
    headers, body = signed_mercadream(secret, second.id, "processing")
    studio.handle_webhook("mercadream", headers, body)  # late: after it ended
    assert second.status is JobStatus.SUCCEEDED
    headers, body = signed_mercadream(secret, third.id, "processing")
    studio.handle_webhook("mercadream", headers, body)
    with pytest.raises(WebhookError, match="replay"):
        studio.handle_webhook("mercadream", headers, body)  # the same delivery twice


# ---- ticks ------------------------------------------------------------------------------------------
def test_ticks_reach_only_jobs_on_screen_and_are_not_changes(
    studio: nm.Studio, sandbox: Sandbox
) -> None:
    sandbox.speed = 0.05
    shown, hidden = studio.speech("on screen"), studio.speech("off screen")
    ticks: list[Job] = []
    states: list[tuple[object, ...]] = [(shown.status, shown.progress, shown.note)]
    stop = shown.on_tick(ticks.append)
    shown.on_change(lambda j: states.append((j.status, j.progress, j.note)))
    idle(studio, 3.2)
    assert shown.on_screen and not hidden.on_screen
    assert 2 <= len(ticks) <= 4  # once a second
    assert all(a != b for a, b in zip(states, states[1:], strict=False))  # no tick among them
    stop()
    idle(studio, 1.2)
    assert len(ticks) <= 4 and not shown.on_screen


# ---- the receiver ------------------------------------------------------------------------------------
def test_the_receiver_refuses_forged_and_unknown_deliveries(studio: nm.Studio) -> None:
    receiver = studio.receive_webhooks()

    async def deliver() -> tuple[httpx.Response, ...]:  # on the Studio's loop, as in a kernel
        async with httpx.AsyncClient(base_url=receiver.url) as client:
            return (
                await client.post("/mercadream", content=b'{"job_id": "x"}',
                                  headers={"MercaDream-Signature": "sha256=00"}),
                await client.post("/nowhere", content=b"{}"),
                await client.get("/mercadream"),
            )  # fmt: skip

    forged, unknown, wrong = studio.engine.runner.run(deliver())
    assert (forged.status_code, unknown.status_code, wrong.status_code) == (401, 404, 405)
    assert "signature" in receiver.counts.refused[0]
    with pytest.raises(nm.NbmediaError, match="already runs"):
        studio.receive_webhooks()


# ---- the turn's passes ----------------------------------------------------------------------------
class _Listed:
    """What `Tracker._scan` asks of its engine: which providers have a job list (and a
    runner without a loop: the tracker's task never started, a poke wakes nothing)."""

    runner = types.SimpleNamespace(loop=None)

    def listed(self, provider: str) -> bool:
        return provider == "mercadream"


def _following(tracker: Any, n: int, at: float) -> list[Any]:
    from nbmedia.engine.tracker import Entry

    entries = []
    for i in range(n):
        job = Job(provider="mercadream", kind="speech", local_id=f"nbm_{i}", id=f"job_{i}")
        entry = Entry(job, Phase.FOLLOWING, at, owned=True, marks=tracker._marked)
        tracker._entries[job.local_id] = entry
        entries.append(entry)
    return entries


def test_a_turn_looks_only_at_changed_and_due_jobs_until_a_whole_pass() -> None:
    """A webhook or an ended step marks its job; a turn looks at marked jobs, at the ones its
    queue says are due, and at the ones that fell due while their provider's sweep was in
    flight, once it ends: never at all thousand (a thousand webhooks, or a thousand jobs
    falling due one by one, must not each cost a pass over every job). A whole pass comes
    every WHOLE_PASS, and finds a change made behind the schedule's back."""
    from nbmedia.engine.tracker import Tracker

    tracker = Tracker(_Listed())  # type: ignore[arg-type]
    now = 1000.0
    tracker._next_tick = tracker._next_beat = now + 3600
    entries = _following(tracker, 1000, now + 60)
    looked: list[int] = []

    def scan(at: float) -> tuple[dict[str, list[Any]], float]:
        before = sum(e.token for e in entries)  # a look counts one on the entry
        _, _, sweeps, _, soonest = tracker._scan(at)
        looked.append(sum(e.token for e in entries) - before)
        return sweeps, soonest

    sweeps, soonest = scan(now)  # the first turn is a whole pass
    assert not sweeps and soonest == now + C.WHOLE_PASS and looked[-1] == 1000

    entries[7].next_at = now + 0.1  # a webhook said it changed: marked
    entries[8].__dict__["_next_at"] = now + 0.1  # changed behind the tracker's back
    entries[9].next_at = now + 1.6  # due later: in the queue
    assert scan(now + 0.2) == ({"mercadream": [entries[7]]}, now + 1.6 - C.SWEEP_GATHER)
    assert looked[-1] == 2  # the marked ones only
    entries[7].busy = True  # its sweep is in flight
    tracker._polling.add("mercadream")
    tracker._next_sweep["mercadream"] = now + 0.3
    entries[10].next_at = now + 0.25  # falls due while the sweep is in flight: held
    assert scan(now + 0.3)[0] == {} and looked[-1] == 1  # the held one: busy is no change
    assert scan(now + 0.35)[0] == {} and looked[-1] == 0

    entries[7].next_at = now + 60  # its sweep answered
    tracker._sweep_ended("mercadream", [entries[7]])
    assert scan(now + 0.4)[0] == {"mercadream": [entries[10]]}  # it waited for the sweep
    assert looked[-1] == 1  # the held one; the swept one went straight back into the queue
    queued = [at for at, _, token, e in tracker._queue if e is entries[7] and token == e.token]
    assert queued == [now + 60 - C.SWEEP_GATHER]

    entries[10].__dict__["_next_at"] = now + 60  # unmarked
    tracker._next_sweep["mercadream"] = now + 1.0
    sweeps, _ = scan(now + 1.2)
    assert sweeps == {"mercadream": [entries[9]]} and looked[-1] == 1  # due by the queue
    tracker._next_sweep["mercadream"] = now
    sweeps, _ = scan(now + C.WHOLE_PASS)  # the whole pass finds the unmarked change
    assert sweeps["mercadream"][0] is entries[8] and looked[-1] == 1000


def test_jobs_that_ride_every_sweep_stay_riders_with_no_look_at_each() -> None:
    """A followed job of a list whose schedule is the sweep's period (no estimate, no webhook,
    no failure) rides its provider's sweeps: made a rider when one ends, and read by every
    next one where it is, with no look at each, and held by it while it runs; a change of
    its schedule (a callback, say) has it looked at alone again, and a job that ended
    meanwhile leaves the riders."""
    from nbmedia.engine.tracker import Tracker

    tracker = Tracker(_Listed())  # type: ignore[arg-type]
    now = 1000.0
    tracker._next_tick = tracker._next_beat = tracker._next_whole = now + 3600
    tracker._whole = False
    entries = _following(tracker, 100, now)
    tracker._marked.clear()
    for e in entries:
        e.interval = C.SWEEP_PERIOD
    entries[0].failures = 1  # backing off: not a rider
    entries[0].next_at = now + 30
    tracker._polling.add("mercadream")
    tracker._next_sweep["mercadream"] = now + 1.0
    tracker._sweep_ended("mercadream", entries)
    assert len(tracker._riders["mercadream"]) == 99 and not entries[0].riding
    assert [e for *_, e in tracker._queue] == [entries[0]]
    assert not any(tracker.sweeping(e) for e in entries)  # no sweep in flight

    def scan(at: float) -> tuple[dict[str, list[Any]], dict[str, list[Any]], float, int]:
        before = sum(e.token for e in entries)
        _, _, sweeps, riding, soonest = tracker._scan(at)
        return sweeps, riding, soonest, sum(e.token for e in entries) - before

    sweeps, riding, soonest, looked = scan(now + 0.5)
    assert sweeps == riding == {} and soonest == now + 1.0 and looked == 0  # the gate
    entries[5].next_at = now + 20  # its schedule changed: looked at alone from now on
    tracker.drop(entries[6].job)  # ended by a webhook meanwhile
    assert not entries[6].riding and entries[6] not in tracker._riders["mercadream"]
    sweeps, riding, _, looked = scan(now + 1.0)
    assert looked == 1 and not entries[5].riding and sweeps == {}
    assert riding == {"mercadream": entries[1:5] + entries[7:]}
    assert all(e.riding for e in entries[1:5] + entries[7:])  # riders still
    tracker._polling.add("mercadream")  # the turn starts that sweep
    assert tracker.sweeping(entries[1]) and not tracker.sweeping(entries[5])
    tracker._sweep_ended("mercadream", [])
    assert len(tracker._riders["mercadream"]) == 97 and not tracker.sweeping(entries[1])
    tracker._polling.add("mercadream")  # a sweep of entries[5], which a callback names
    assert tracker.reread(entries[5])
    tracker._sweep_ended("mercadream", [entries[5]])
    assert not entries[5].riding  # it waits for the next sweep, which reads it again


def test_a_burst_of_callbacks_is_reread_by_spaced_sweeps_and_a_lone_one_at_once() -> None:
    """An unsigned callback brings its provider's next sweep to REREAD_GATHER from now, so
    the callbacks of that moment share it; but never nearer than REREAD_SPACING after the
    last sweep began: a batch ending (a callback every few ms) is re-read a list call or two
    a second, each reading the pages its jobs span, not one every REREAD_GATHER."""
    from nbmedia.engine.tracker import Tracker

    tracker = Tracker(_Listed())  # type: ignore[arg-type]
    first, second = _following(tracker, 2, time.monotonic() + 60)
    began = time.monotonic()
    tracker._swept_at["mercadream"] = began  # a sweep has just begun
    tracker._next_sweep["mercadream"] = began + C.SWEEP_PERIOD
    assert tracker.reread(first) and not tracker.reread(first)  # a duplicate: once
    assert tracker._next_sweep["mercadream"] == pytest.approx(began + C.REREAD_SPACING)

    tracker._swept_at["mercadream"] = began - 60  # the last sweep long ago: a lone callback
    tracker._next_sweep["mercadream"] = began + 60
    asked = time.monotonic()
    assert tracker.reread(second)
    assert asked + C.REREAD_GATHER <= tracker._next_sweep["mercadream"]
    assert tracker._next_sweep["mercadream"] <= time.monotonic() + C.REREAD_GATHER


def test_a_step_that_ends_has_its_job_looked_at_next_turn_and_busy_marks_nothing() -> None:
    """`busy` is set by the hundred on every sweep: it is a plain flag that notes nothing; a
    step that ends (a download, a search) marks its job itself, so the next turn looks at it
    without waiting for a pass over every job."""
    from nbmedia.engine.tracker import Tracker

    tracker = Tracker(_Listed())  # type: ignore[arg-type]
    (entry,) = _following(tracker, 1, time.monotonic() + 60)
    tracker._marked.clear()
    entry.busy = True
    entry.busy = False
    assert not tracker._marked  # the flag alone notes nothing

    async def step() -> None:
        return None

    entry.busy = True
    asyncio.run(tracker._guard(entry, step(), watch=False))
    assert not entry.busy and tracker._marked == {entry}
