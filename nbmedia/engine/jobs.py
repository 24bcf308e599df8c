"""The engine: the one owner of every job, from the ledger row to the verified file.

record → send → (reconcile) → follow → download → verify. Only this module (with the tracker's
schedule) assigns a job's status, error, outputs or note, and only it writes the ledger. The
provider always works on a copy (`_copy`); `_absorb` is the one place a provider's answer
becomes the job everyone holds. A job is in the ledger before its create leaves the machine; a
create that may have reached the provider is searched for (or ends `unconfirmed`), never called
failed; a job is `succeeded` only once its main files are on disk and verified; every
exception of a step is contained by the tracker and backs the job off.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from .. import constants as C
from ..errors import (
    DownloadError,
    JobFailed,
    JobTimeout,
    JobUnconfirmed,
    NbmediaError,
    ProviderError,
    RateLimited,
    TransportError,
    UnknownStatus,
    ValidationError,
)
from ..http import backoff
from ..models import Job, JobHooks, JobStatus, merge_answer, private_copy, utcnow
from ..providers.base import Capability, Provider
from ..validation import RequestModel
from .downloads import Downloads
from .ledger import Ledger, Phase
from .runner import LoopRunner
from .tracker import Entry, Tracker

log = logging.getLogger("nbmedia.engine")

EXPIRED_LINK = (401, 403, 404, 410)
"""A download refused with one of these: the signed link expired; re-read the job."""


class Engine:
    """Records, sends, reconciles, follows, downloads and verifies every job of a Studio."""

    def __init__(
        self,
        runner: LoopRunner,
        providers: Callable[[str], Provider],
        ledger: Ledger,
        downloads: Downloads,
    ) -> None:
        self.runner = runner
        self._provider = providers
        self.ledger = ledger
        self.downloads = downloads
        self.owner = "studio_" + uuid.uuid4().hex[:12]
        """This Studio's name in the ledger's leases."""
        self.tracker = Tracker(self)
        self.listeners: list[Callable[[Job], None]] = []
        """Called on every change of any job (not on clock ticks)."""
        self.hooks: JobHooks | None = None
        self.planned_sink: Callable[[list[tuple[Job, dict[str, Any]]]], None] | None = None
        """Who sends batch rows taken over from a stopped Studio (the Studio: a new batch)."""
        self._live: dict[str, Job] = {}
        self._waiters: dict[str, list[asyncio.Future[Job]]] = {}
        self._stuck: dict[str, DownloadError] = {}
        self._slots: asyncio.Semaphore | None = None
        self._search_locks: dict[str, asyncio.Lock] = {}
        self._listed: dict[str, bool] = {}
        self.webhook_url: str | None = None
        """Where this kernel receives webhooks (`/<provider>` appended), once a receiver runs."""
        self._closed = False
        self.notebook: str | None = None
        """The notebook this Studio runs in, written with the first row of each job made here."""
        self._made_here: set[str] = set()
        self._unsent: dict[str, tuple[RequestModel, int]] = {}
        """local id → the request of a create whose answer was lost, and how many times it
        was sent again: sent once more if the provider's list proves it was not made."""
        self._expected: dict[tuple[str, str], float | None] = {}
        """(provider, kind) → the median duration of its latest succeeded jobs here."""
        loop = runner.loop
        ledger.defer_commits(lambda flush: loop.call_later(C.COMMIT_DELAY, flush))

    def __repr__(self) -> str:
        return f"<Engine {self.owner} live={len(self._live)} open={len(self.tracker.open_jobs)}>"

    def batch_size(self, provider: str) -> tuple[int, int] | None:
        """The fewest and most rows one batch create of the provider takes (None: it has no
        batch endpoint)."""
        p = self._provider(provider)
        return p.batch_size if p.has(Capability.BATCH) else None

    def listed(self, provider: str) -> bool:
        """The provider's open jobs are swept through its list (many per request)."""
        if provider not in self._listed:
            self._listed[provider] = self._provider(provider).has(Capability.LIST_REFRESH)
        return self._listed[provider]

    # ---- identity ------------------------------------------------------------------------------
    def adopt(self, job: Job) -> Job:
        """The one live object of this job in this Studio (bound to its hooks)."""
        live = self._live.setdefault(job.local_id, job)
        if self.hooks is not None and live._hooks is None:
            live.bind(self.hooks)
        self.expect(live)
        return live

    def expect(self, job: Job) -> None:
        """Gives an open job the time jobs like it took here lately (`Job.expected_s`: the
        time left shown where the provider gives no estimate)."""
        if job.done or job.expected_s is not None:
            return
        key = (job.provider, job.kind)
        if key not in self._expected:
            spans = sorted(self.ledger.durations(*key))
            self._expected[key] = spans[len(spans) // 2] if spans else None
        job.expected_s = self._expected[key]

    def job(self, id: str) -> Job:
        """A job by provider id or local id: the live one if followed, else from the ledger."""
        for job in self._live.values():
            if id in (job.id, job.local_id):
                return job
        found = self.ledger.find(id)
        if found is None:
            raise KeyError(id)
        return self.adopt(found)

    def new_job(self, provider: str, kind: str, **fields: Any) -> Job:
        """A job made here: its first row names this Studio's notebook (`notebook`)."""
        job = Job(provider=provider, kind=kind, local_id=self.ledger.new_local_id(), **fields)
        if self.notebook is not None:
            self._made_here.add(job.local_id)
        self.expect(job)
        return job

    # ---- events --------------------------------------------------------------------------------
    def changed(self, job: Job) -> None:
        job._emit()
        for listener in list(self.listeners):
            try:
                listener(job)
            except Exception:
                log.exception("job listener failed")

    def set_note(self, job: Job, note: str | None) -> None:
        """Says why a job waits (e.g. a batch holding it for a rate limit)."""
        job.note = note
        self.changed(job)

    def _record(self, job: Job, phase: str, **kw: Any) -> None:
        job.updated_at = utcnow()
        if job.local_id in self._made_here:
            kw["notebook"] = self.notebook
        self.ledger.record(job, phase, **kw)
        self._made_here.discard(job.local_id)

    # ---- creating ------------------------------------------------------------------------------
    def plan(self, rows: list[tuple[Job, dict[str, Any]]]) -> list[Job]:
        """Writes jobs that will be sent later (batch rows), each with the fields to send, in
        one commit, and takes their leases."""
        jobs = [self.adopt(job) for job, _ in rows]
        with self.ledger.batch():
            for job, (_, fields) in zip(jobs, rows, strict=True):
                self._record(job, Phase.PLANNED, fields=fields)
            self.ledger.acquire([j.local_id for j in jobs], self.owner, time.time(), C.LEASE_TTL)
        return jobs

    async def send_planned(self, job: Job) -> None:
        """A planned batch row whose Studio stopped, now ours: hand it to a new batch."""
        fields = self.ledger.fields(job.local_id)
        self.tracker.drop(job)
        if self.planned_sink is not None:
            self.planned_sink([(job, fields or {})])

    def planned(self) -> list[tuple[Job, dict[str, Any]]]:
        """Rows planned by a batch that never got sent (the Studio that planned them stopped),
        taken over by this Studio."""
        rows = [(j, f) for j, phase, f in self.ledger.open_rows() if phase == Phase.PLANNED]
        got = self.acquire([j for j, _ in rows])
        return [(self.adopt(j), f or {}) for j, f in rows if j.local_id in got]

    def fail_planned(self, job: Job, exc: BaseException) -> None:
        """A planned row that can no longer be sent (its provider or fields changed)."""
        self._finish(job, JobStatus.FAILED, {"code": "not_sent", "message": str(exc)})

    def annotate(self, job: Job, **values: Any) -> None:
        """Small facts kept with a job's row (a rating, the prompt it was rated for)."""
        self.ledger.set_extra(job.local_id, **values)

    def annotation(self, job: Job, key: str) -> Any:
        return self.ledger.extra(job.local_id).get(key)

    async def send(self, job: Job, request: RequestModel, *, wait_rate_limits: bool = False) -> Job:
        """Records the job, then creates it at the provider and starts following it.

        Raises the provider's error when the create was refused (the job is `failed` with the
        provider's code). A create that may have reached the provider returns the job, which is
        then searched for in the provider's list, or ends `unconfirmed` where there is none.
        With `wait_rate_limits`, a 429 that waiting cures is waited out and the create re-sent
        (a 429 creates nothing)."""
        if self._closed:  # a batch still sending when its Studio closed: its rows stay planned
            raise NbmediaError("this Studio is closed: a new Studio sends what is left")
        job = self.adopt(job)
        self._recorded_sending(job, request)
        provider = self._provider(job.provider)
        while True:
            shadow = private_copy(job)
            try:
                await provider.submit(shadow, request)
            except Exception as exc:
                if wait_rate_limits and await self._waited_out(job, exc):
                    continue
                replayed = await self._replay(job, request, provider, exc)
                if replayed is None:
                    resent = self._unsent.pop(job.local_id, (request, 0))[1]
                    await self._unanswered(job, exc)
                    if not job.done:  # searched for: kept, to send again if never made
                        self._unsent[job.local_id] = (request, resent)
                    return job
                shadow = replayed
            break
        self._unsent.pop(job.local_id, None)
        job.error = None
        job.note = None
        self._absorb(job, shadow)
        self._expect_webhook(job, request)
        return job

    def _recorded_sending(self, job: Job, request: RequestModel) -> None:
        """What is on disk before a lone create leaves the machine, in one commit: the row
        `sending` with its request, under this Studio's lease, and (for a provider that
        deduplicates by key) that it went alone, so its key may be replayed."""
        job.created_at = utcnow()  # a batch row planned earlier is made from now on
        job.request = request.wire()  # exactly what is sent (a resumed row is built anew)
        with self.ledger.batch():
            self._record(job, Phase.SENDING)
            if self._provider(job.provider).has(Capability.IDEMPOTENT_CREATE):
                self.ledger.set_extra(job.local_id, sent_alone=True)
            self.ledger.acquire([job.local_id], self.owner, time.time(), C.LEASE_TTL)

    async def send_batch(self, jobs: list[Job], requests: list[RequestModel]) -> bool:
        """Records every job, then creates them all with one batch request of their provider,
        and follows each. False when the provider refused the batch (it made nothing; the jobs
        are planned again, for the caller to send one by one). A batch that may have reached
        the provider is never failed: each job is searched for in the provider's list as a
        create whose answer was lost (and sent again alone if proven not made)."""
        if self._closed:
            raise NbmediaError("this Studio is closed: a new Studio sends what is left")
        jobs = [self.adopt(job) for job in jobs]
        provider = self._provider(jobs[0].provider)
        with self.ledger.batch():  # before anything leaves the machine, in one commit
            for job, request in zip(jobs, requests, strict=True):
                job.created_at = utcnow()
                job.request = request.wire()
                self._record(job, Phase.SENDING)
                if provider.has(Capability.IDEMPOTENT_CREATE):  # a batch takes no key
                    self.ledger.set_extra(job.local_id, sent_alone=False)
            self.ledger.acquire([j.local_id for j in jobs], self.owner, time.time(), C.LEASE_TTL)
        shadows = [private_copy(job) for job in jobs]
        try:
            await provider.submit_batch(shadows, requests)
        except Exception as exc:
            cause = _maybe_made(exc, f"{jobs[0].provider} batch create")
            if cause is not None:
                for job, request in zip(jobs, requests, strict=True):
                    self._unsent[job.local_id] = (request, 0)
                    await self.lost_answer(job, f"batch create: {cause}")
                return True
            with self.ledger.batch():
                for job in jobs:
                    self._record(job, Phase.PLANNED)
            log.info("%s refused a batch (%s): sending its rows one by one", provider.title, exc)
            return False
        for job, shadow in zip(jobs, shadows, strict=True):
            job.error = None
            job.note = None
            self._absorb(job, shadow)  # followed by polling: a row's webhook names an id the
        return True  # job learns only from the batch's results

    def _expect_webhook(self, job: Job, request: RequestModel) -> None:
        """A job whose request names this kernel's receiver is settled by its webhook (a
        signed one) or re-read when its callback comes: polling becomes a safety net."""
        provider = self._provider(job.provider)
        field = provider.webhook_field
        url = getattr(request, field, None) if field else None
        entry = self.tracker.entry(job)
        if (
            entry is None
            or self.webhook_url is None
            or not isinstance(url, str)
            or not url.startswith(self.webhook_url)
            or (provider.has(Capability.SIGNED_WEBHOOKS) and provider.webhook_secret is None)
        ):
            return
        entry.webhook = True
        self.tracker.succeeded_step(entry)

    async def _replay(
        self, job: Job, request: RequestModel, provider: Provider, exc: Exception
    ) -> Job | None:
        """A create the provider deduplicates (the same Idempotency-Key, the job's local id),
        whose answer was lost or unreadable: sent again, it answers with the job it made (or
        makes it once). None when that does not work either (the list is searched next)."""
        if not (
            provider.has(Capability.IDEMPOTENT_CREATE)
            and getattr(exc, "may_have_reached_server", False)
        ):
            return None
        for attempt in range(C.MAX_RETRIES):
            await asyncio.sleep(backoff(attempt))
            shadow = private_copy(job)
            try:
                await provider.submit(shadow, request)
            except NbmediaError as again:
                if not getattr(again, "may_have_reached_server", False) and not isinstance(
                    again, (RateLimited, TransportError)
                ):
                    return None
                continue
            self.ledger.set_extra(job.local_id, replayed=True)
            return shadow
        return None

    async def _waited_out(self, job: Job, exc: Exception) -> bool:
        """A 429 that waiting cures (it created nothing): waited out, to be sent again."""
        if not isinstance(exc, RateLimited) or exc.may_have_reached_server or not exc.retryable:
            return False
        wait = exc.retry_after if exc.retry_after is not None else C.RATE_LIMIT_WAIT
        if wait > C.RETRY_AFTER_MAX:
            return False
        self._record(job, Phase.PLANNED)  # nothing is in flight: a restart sends it again
        self.set_note(job, f"rate-limited, sending again in {wait:.0f} s")
        await asyncio.sleep(wait)
        self._record(job, Phase.SENDING)
        return True

    async def _unanswered(self, job: Job, exc: Exception) -> None:
        """A create (or a regeneration) that raised. One that may have reached the provider is
        searched for (or `unconfirmed`); one refused before it was made is `failed` with the
        provider's code, and its error raised again."""
        cause = _maybe_made(exc, f"{job.provider} create of {job.local_id}")
        if cause is not None:
            await self.lost_answer(job, cause)
            return
        if isinstance(exc, ProviderError):
            error = _error_of(exc)
        else:  # refused on this machine, before sending
            code = "invalid" if isinstance(exc, ValidationError) else "not_sent"
            error = {"code": code, "message": str(exc)}
        self._finish(job, JobStatus.FAILED, error)
        raise exc

    async def lost_answer(self, job: Job, cause: str) -> None:
        """A create may have reached the provider without a confirmed answer: search the
        provider's list for it, or end `unconfirmed` where the API offers no way to look."""
        provider = self._provider(job.provider)
        if not provider.has(Capability.FIND_CREATED):
            self._finish(
                job,
                JobStatus.UNCONFIRMED,
                {"code": "unconfirmed", "message": f"the create's answer was lost ({cause})"},
            )
            return
        job.note = f"the create's answer was lost ({cause}); looking for it at {provider.title}"
        self._record(job, Phase.SEARCHING)
        self.ledger.set_extra(job.local_id, lost_answer=cause)
        self.tracker.follow(job, Phase.SEARCHING, delay=0.0, owned=True)
        self.changed(job)

    async def search(self, entry: Entry) -> None:
        """One search for a job whose create answer was lost: a replay of the create with
        its Idempotency-Key where that settles it, else a look at the provider's list."""
        if await self._replay_lost(entry):
            return
        job = entry.job
        provider = self._provider(job.provider)
        lock = self._search_locks.setdefault(job.provider, asyncio.Lock())
        async with lock:  # one search per provider at a time: two never take one job
            if self.ledger.sending(
                job.provider, job.local_id, time.time(), C.LEASE_TTL
            ) or self._older_search(job):
                # a create of this provider is in flight: its answer may name the job we
                # would find; look once it has landed
                entry.next_at = time.monotonic() + C.POLL_FIRST
                return
            claimed = self.ledger.claimed_ids(job.provider)
            shadow = private_copy(job)
            found = await provider.find_created(shadow, claimed)
            entry.searches += 1  # only a list that answered counts (a failed call proves nothing)
            if (
                found is not None
                and shadow.id
                and self.ledger.claim(job.local_id, job.provider, shadow.id)
            ):
                self.ledger.set_extra(job.local_id, reconciled=True)
                self._unsent.pop(job.local_id, None)  # made after all: never sent again
                job.note = f"the create's answer was lost; found it in {provider.title}'s list"
                self._absorb(job, shadow)
                return
        age = (utcnow() - job.created_at).total_seconds()
        if entry.searches >= C.FIND_CREATED_TRIES and age >= C.FIND_CREATED_WINDOW:
            if await self._send_again(entry, provider.title, age):
                return
            self._finish(
                job,
                JobStatus.FAILED,
                {
                    "code": "not_created",
                    "message": f"the create got no answer and {provider.title}'s list shows no "
                    f"such job after {entry.searches} searches over {age:.0f} s: "
                    "it was not created",
                },
            )
            return
        self.tracker.succeeded_step(entry, grow=False)
        entry.interval = min(C.POLL_MAX, entry.interval * 2)
        entry.next_at = time.monotonic() + entry.interval

    async def _replay_lost(self, entry: Entry) -> bool:
        """A lost create of a provider that deduplicates by Idempotency-Key (the job's local
        id), sent again with the same key and body, as sync.so's guide asks across retries
        and restarts: the answer names the job that key made, or makes it once if the first
        never arrived. That settles which generation is the row's where look-alike rows
        (the same inputs, differing only in what a generation does not echo) leave the list
        ambiguous. True when the replay settled it; an answer that is not one (a cut
        connection, a 5xx, a 409 while the first is handled, a 429) is raised, to back off
        and replay again; False (the list decides) when it cannot: no such capability, a
        row sent in a batch (whose create took no key: a replay would make it twice), the
        request cannot be rebuilt as it was sent, the key may have expired, the provider
        refused the replay (say, 422 for a body that differs), or REPLAY_TRIES went
        unanswered."""
        job = entry.job
        provider = self._provider(job.provider)
        if entry.replays is None or not provider.has(Capability.IDEMPOTENT_CREATE):
            return False
        if self.ledger.extra(job.local_id).get("sent_alone") is not True:
            entry.replays = None  # made by a batch create (no key), or by an older build
            return False
        request = self._sent_request(job, provider)
        age = (utcnow() - job.created_at).total_seconds()
        if request is None or age > C.REPLAY_WINDOW or entry.replays >= C.REPLAY_TRIES:
            entry.replays = None
            return False
        shadow = private_copy(job)
        try:
            await provider.submit(shadow, request)
        except NbmediaError as exc:
            if isinstance(exc, (TransportError, RateLimited)) or (
                isinstance(exc, ProviderError)
                and (exc.http_status >= 500 or exc.http_status == 409)
            ):
                entry.replays += 1
                raise
            log.info("%s job %s: replay refused (%s); searching the list", job.provider,
                     job.local_id, exc)  # fmt: skip
            entry.replays = None
            return False
        if not shadow.id or not self.ledger.claim(job.local_id, job.provider, shadow.id):
            entry.replays = None
            return False
        self.ledger.set_extra(job.local_id, replayed=True, reconciled=True)
        self._unsent.pop(job.local_id, None)
        job.note = "the create's answer was lost; sent again with its Idempotency-Key"
        self._absorb(job, shadow)
        self._expect_webhook(job, request)
        return True

    def _sent_request(self, job: Job, provider: Provider) -> RequestModel | None:
        """The request a create was sent with: held since it was sent, or rebuilt from the
        ledger's record of it (None when the rebuilt one would not be sent the same, e.g. an
        input that was an earlier job, or a file since gone)."""
        held = self._unsent.get(job.local_id)
        if held is not None:
            return held[0]
        if not job.request:
            return None
        try:
            request = provider.make_request(job.kind, job.request)
        except (NbmediaError, ValueError, TypeError):
            return None
        return request if request.wire() == job.request else None

    async def _send_again(self, entry: Entry, title: str, age: float) -> bool:
        """A create proven not made: sent once more (up to NOT_CREATED_RESENDS times in all,
        counted in the ledger), with the request this Studio holds or, for a row taken over
        from a Studio that stopped, the one rebuilt from the ledger's record of what was sent.
        False when it cannot be (the job then fails)."""
        job = entry.job
        request, resent = self._unsent.pop(job.local_id, (None, 0))
        if request is None:
            request = self._sent_request(job, self._provider(job.provider))
        resent = max(resent, int(self.ledger.extra(job.local_id).get("resent", 0)))
        if request is None or resent >= C.NOT_CREATED_RESENDS:
            return False
        self._unsent[job.local_id] = (request, resent + 1)
        self.ledger.set_extra(job.local_id, resent=resent + 1)
        entry.searches = 0
        note = f"not made at {title} (its list showed no such job for {age:.0f} s): sent again"
        self.set_note(job, note)
        with contextlib.suppress(NbmediaError):  # refused: `send` ended it with the code
            await self.send(job, request, wait_rate_limits=True)
        return True

    def _older_search(self, job: Job) -> bool:
        """Another lost create of the provider, recorded earlier, still searched for: it goes
        first (the oldest row takes the oldest match)."""
        return any(
            e.phase == Phase.SEARCHING
            and e.job.provider == job.provider
            and e.job.local_id != job.local_id
            and e.job.created_at < job.created_at
            for e in self.tracker.entries()
        )

    def attach(self, job: Job, provider_id: str) -> Job:
        """Links an `unconfirmed` job to the provider's id (found on its dashboard)."""
        job = self.adopt(job)
        if job.status is not JobStatus.UNCONFIRMED:
            raise ValidationError(job.provider, "job", job.local_id, "only an unconfirmed job")
        if provider_id in self.ledger.claimed_ids(job.provider):
            raise ValidationError(
                job.provider, "provider_id", provider_id, "another ledger row holds this id"
            )
        job.id = provider_id
        job.status = JobStatus.QUEUED
        job.error = None
        job.note = "attached by hand"
        self._record(job, Phase.FOLLOWING)
        self.tracker.follow(job, Phase.FOLLOWING, delay=0.0, owned=True)
        self.changed(job)
        return job

    # ---- following -----------------------------------------------------------------------------
    def _absorb(self, job: Job, shadow: Job, *, checked: bool = True) -> None:
        """The provider's state (`shadow`) becomes the job's; the one place that happens.
        `checked`: a status check made it (the next one is scheduled from now); a webhook's
        news of a job still running leaves the schedule alone."""
        entry = self.tracker.entry(job)
        following = entry is not None and entry.phase == Phase.FOLLOWING  # as the ledger says
        if shadow.status is JobStatus.SUCCEEDED:
            merge_answer(shadow, job)
            job.status = JobStatus.RUNNING  # succeeded only once the files are here
            job.progress = 1.0
            job.note = "downloading outputs"
            if not following:  # its provider id, at once (the job was adopted finished)
                self._record(job, Phase.FOLLOWING)
            # not written yet: lost to a kill, the job is read again and found the same; a
            # download that lasts or fails is written (`_note_downloading`)
            self.tracker.follow(job, Phase.DOWNLOADING, delay=0.0, owned=True)
            self.changed(job)
            return
        if shadow.done:
            merge_answer(shadow, job)
            self._finish(job, shadow.status, job.error or {"code": shadow.status.value})
            return
        moved = (shadow.status, shadow.progress, shadow.id) != (job.status, job.progress, job.id)
        progressed = (shadow.status, shadow.id) == (job.status, job.id)  # only the percentage
        merge_answer(shadow, job)
        if job.note and "retrying in" in job.note:
            job.note = None
        if moved and following:  # news of a job the ledger follows: the next check says it too
            with self.ledger.soon():
                if progressed:
                    job.updated_at = utcnow()
                    self.ledger.progressed(job)  # a small update: the rest is the same
                else:
                    self._record(job, Phase.FOLLOWING)
        elif not following:
            self._record(job, Phase.FOLLOWING)  # its provider id, at once
        if not following:
            self.tracker.follow(job, Phase.FOLLOWING, owned=True)
        elif checked:
            self.tracker.succeeded_step(entry)
        if moved:
            self.changed(job)

    async def poll(
        self, provider_name: str, entries: list[Entry], riders: Sequence[Entry] = ()
    ) -> None:
        """One sweep of several open jobs of one provider (list calls where it has a list);
        a job that could not be read backs off alone. `riders` ride every sweep of the list:
        only those it has news of are taken (a thousand quiet ones cost no look each). The
        answers are taken in slices, the loop free in between (a thousand answers must not
        stall the kernel)."""
        provider = self._provider(provider_name)
        told: set[str] = set()
        tracker = self.tracker

        def ended(copy: Job) -> None:  # an ended job is taken at once, not after the sweep
            entry = tracker.entry(copy)
            if entry is None or not tracker.sweeping(entry) or copy.local_id in told:
                return  # not one of this sweep's (the tracker holds its jobs meanwhile)
            told.add(copy.local_id)
            if entry.phase == Phase.FOLLOWING:
                self._absorb(entry.job, copy)

        jobs = [e.job for e in entries]
        jobs += [e.job for e in riders]
        swept = await provider.sweep(jobs, ended)
        # nothing read for most (the provider made no copy): only their schedules move, in
        # one pass; the rest are taken in slices
        answer, failed = swept.answer, swept.failed
        tracked, following = tracker.entry, Phase.FOLLOWING

        def takes(entry: Entry) -> bool:  # not settled meanwhile, nor already taken
            job = entry.job
            return tracked(job) is entry and entry.phase == following and job.local_id not in told

        news: list[tuple[Entry, Job | None]] = []
        quiet: list[Entry] = []
        for entry in entries:
            job = entry.job
            copy = answer(job)
            if copy is None and not job.note and job.local_id not in failed:
                quiet.append(entry)  # the tracker skips those settled meanwhile
            elif takes(entry):
                news.append((entry, copy))
        if riders and (read := swept.read_ids()):  # the riders it has news of (no note)
            rider = {e.job.local_id: e for e in riders}
            for local_id in read:
                entry = rider.get(local_id)
                if entry is not None and takes(entry):
                    news.append((entry, answer(entry.job)))
        self.tracker.swept_unchanged(quiet, listed=self.listed(provider_name))
        for start in range(0, len(news), C.ABSORB_SLICE):
            if start:
                await asyncio.sleep(0)
            with self.ledger.batch():
                for entry, copy in news[start : start + C.ABSORB_SLICE]:
                    job = entry.job
                    if tracked(job) is not entry or entry.phase != following:
                        continue  # settled while the loop was free
                    exc = failed.get(job.local_id)
                    if exc is not None:
                        self.poll_failed(provider_name, [entry], exc)
                    else:  # no copy: a job whose note the sweep's reading clears
                        self._absorb(job, copy or private_copy(job))

    def poll_failed(self, provider: str, entries: list[Entry], exc: BaseException) -> None:
        """A status check failed: the whole provider waits out a 429; an unknown status or a
        persistent 401/403/404 ends the job; anything else backs the job off. A job that
        left the following phase meanwhile (taken by the sweep before it failed) is left be."""
        for entry in entries:
            if self.tracker.entry(entry.job) is not entry or entry.phase != Phase.FOLLOWING:
                continue
            if isinstance(exc, UnknownStatus):
                self._finish(
                    entry.job, JobStatus.FAILED, {"code": "unknown_status", "message": str(exc)}
                )
                continue
            if (
                isinstance(exc, ProviderError)
                and exc.http_status in C.GIVE_UP_STATUSES
                and entry.failures + 1 >= C.GIVE_UP_AFTER
            ):
                self._finish(entry.job, JobStatus.FAILED, _error_of(exc))
                continue
            self.step_failed(entry, exc, what="status check failed")

    def step_failed(self, entry: Entry, exc: BaseException, *, what: str | None = None) -> None:
        """Any step's exception, contained: the job backs off and its note says why."""
        if isinstance(exc, (NbmediaError, OSError)):
            cause = str(exc)
        else:
            log.error("%s job %s: step failed", entry.job.provider, entry.job.local_id,
                      exc_info=exc)  # fmt: skip
            cause = f"{type(exc).__name__}: {exc}"
        if entry.phase == Phase.DOWNLOADING:
            self._note_downloading(entry)
        delay = self.tracker.failed_step(entry, exc)
        if what is None:
            what = {
                Phase.DOWNLOADING: "download failed",
                Phase.SEARCHING: "searching for the lost create failed",
            }.get(entry.phase, "status check failed")
        label = "rate-limited" if isinstance(exc, RateLimited) else what
        entry.job.note = f"{label} ({_short(cause)}); retrying in {_span(delay)}"
        if (
            entry.phase == Phase.DOWNLOADING
            and isinstance(exc, DownloadError)
            and entry.failures >= C.DOWNLOAD_FAILURES_TO_RAISE
        ):
            self._stuck[entry.job.local_id] = exc
            self._resolve(entry.job, exc)
        self.changed(entry.job)

    # ---- downloading ---------------------------------------------------------------------------
    async def download(self, entry: Entry) -> None:
        """Fetches and verifies a finished job's files; only then is it `succeeded`."""
        job = entry.job
        provider = self._provider(job.provider)
        if self._slots is None:
            self._slots = asyncio.Semaphore(C.DOWNLOADS_IN_FLIGHT)
        async with self._slots:
            slow = asyncio.get_running_loop().call_later(
                C.DOWNLOAD_NOTED_AFTER, self._note_downloading, entry
            )
            try:
                try:
                    if self.downloads.sourceless(job):
                        await self._fresh_links(job, provider)
                    await self._fetch(job, provider)
                except ProviderError as exc:
                    if exc.http_status not in EXPIRED_LINK:
                        raise
                    await self._fresh_links(job, provider)  # signed links expired: new ones
                    await self._fetch(job, provider)
            except (ProviderError, TransportError) as exc:
                raise DownloadError(
                    job.provider, f"download failed ({exc})", remedy="it is retried"
                ) from exc
            finally:
                slow.cancel()
        if self.downloads.missing(job):
            raise DownloadError(job.provider, "the provider gave no file for a main output")
        self._stuck.pop(job.local_id, None)
        job.status = JobStatus.SUCCEEDED
        job.progress = 1.0
        job.note = None
        job.completed_at = job.completed_at or utcnow()
        self._finish(job, JobStatus.SUCCEEDED, None)

    def _note_downloading(self, entry: Entry) -> None:
        """A download that lasts or failed is written as such: the tables show it, and a
        restart fetches the files from the links it holds."""
        job = entry.job
        if (
            self.tracker.entry(job) is entry
            and entry.phase == Phase.DOWNLOADING
            and self.ledger.phase(job.local_id) != Phase.DOWNLOADING
        ):
            with self.ledger.soon():
                self._record(job, Phase.DOWNLOADING)

    async def _fetch(self, job: Job, provider: Provider, *, overwrite: bool = False) -> None:
        # the paths land on a copy first: the job shows a file only once the ledger has it
        shadow = private_copy(job)
        shadow.outputs = [dataclasses.replace(o) for o in job.outputs]
        try:
            # only a job that can be regenerated shares its provider id with another row
            shared = provider.has(Capability.PATCH) and self.ledger.shares_id(job)
            await self.downloads.fetch(shadow, provider.api, shared_id=shared, overwrite=overwrite)
        finally:
            for out, saved in zip(job.outputs, shadow.outputs, strict=True):
                out.path = saved.path

    async def _fresh_links(self, job: Job, provider: Provider) -> None:
        shadow = private_copy(job)
        await provider.refresh(shadow)
        fresh = {(o.role, o.kind): o for o in shadow.outputs}
        for out in job.outputs:
            new = fresh.get((out.role, out.kind))
            if new is not None and new.url:
                out.url = new.url
            if new is not None and new.content is not None:
                out.content = new.content
        job.raw = shadow.raw
        self._record(job, self.ledger.phase(job.local_id) or Phase.DONE)

    async def download_again(self, job: Job, *, force: bool = False) -> Job:
        """A finished job's files fetched again (all of them with `force`), with fresh links
        read from the provider first; starts no job."""
        job = self.adopt(job)
        if job.status is not JobStatus.SUCCEEDED:
            raise NbmediaError(
                f"{job.provider} job {job.id} is {job.status.value}: nothing to download"
            )
        provider = self._provider(job.provider)
        await self._fresh_links(job, provider)
        if force:
            for out in job.outputs:
                out.path = None
        await self._fetch(job, provider, overwrite=force)
        self._record(job, Phase.DONE)
        self.changed(job)
        return job

    # ---- updating ------------------------------------------------------------------------------
    async def update(self, job: Job, fields: dict[str, Any]) -> Job:
        """Changes a job's media at the provider (PATCH): metadata in place on the same job,
        a regeneration as a new job (recorded before it is sent)."""
        job = self.adopt(job)
        provider = self._provider(job.provider)
        if not provider.has(Capability.PATCH) or job.id is None:
            raise NbmediaError(f"{provider.title} jobs cannot be updated")
        update = provider.check_update(fields)
        if not provider.regenerates(update):
            job.raw = await provider.patch(job.id, update)
            self._record(job, self.ledger.phase(job.local_id) or Phase.DONE)
            self.changed(job)
            return job
        wire = update.wire()
        new = self.adopt(
            self.new_job(
                job.provider,
                job.kind,
                id=job.id,
                prompt=wire.get("prompt", job.prompt),
                request={**job.request, **wire},
            )
        )
        self._record(new, Phase.SENDING)
        self.ledger.set_extra(new.local_id, parent=job.local_id)
        self.ledger.acquire([new.local_id], self.owner, time.time(), C.LEASE_TTL)
        try:
            payload = await provider.patch(job.id, update)
        except Exception as exc:
            await self._unanswered(new, exc)
            return new
        shadow = private_copy(new)
        shadow.outputs = []
        provider.apply(shadow, payload)
        self._absorb(new, shadow)
        return new

    # ---- ending --------------------------------------------------------------------------------
    def _finish(self, job: Job, status: JobStatus, error: dict[str, Any] | None) -> None:
        job.status = status
        job.error = error if status is not JobStatus.SUCCEEDED else None
        if status is not JobStatus.SUCCEEDED and job.note == "downloading outputs":
            job.note = None
        entry = self.tracker.entry(job)
        # the end of a job the provider holds is learnt again if a kill loses it: committed
        # with the others of the moment; any other end (a refused create) at once
        known = entry is not None and entry.phase in (Phase.FOLLOWING, Phase.DOWNLOADING)
        with self.ledger.soon() if known else self.ledger.batch():
            self._record(job, Phase.DONE)  # its lease given back in the same write
        self.tracker.drop(job)
        self._unsent.pop(job.local_id, None)
        if status is JobStatus.SUCCEEDED:
            self._expected.pop((job.provider, job.kind), None)  # read again with this one
        self.changed(job)
        self._resolve(job, None)

    def _resolve(self, job: Job, exc: BaseException | None) -> None:
        for fut in self._waiters.pop(job.local_id, []):
            if not fut.done():
                if exc is None:
                    fut.set_result(job)
                else:
                    fut.set_exception(exc)

    # ---- waiting -------------------------------------------------------------------------------
    def flush(self) -> None:
        """Commits the ledger writes left for the next shared commit: a script may stop right
        after a job or a batch ends, and its ending must be on disk."""
        self.ledger.flush()

    def ending(self, job: Job) -> asyncio.Future[Job]:
        """A future done when `job` has ended (at once if it has): its result the job, or the
        error `wait` raises for files that keep failing to save. Nothing awaits it for the
        caller: a batch frees an ended row's room in a callback, with no task per open job."""
        job = self.adopt(job)
        stuck = self._stuck.get(job.local_id)
        if not job.done and stuck is None:
            return self._waiter(job)
        fut: asyncio.Future[Job] = self.runner.loop.create_future()
        if job.done:
            fut.set_result(job)
        else:
            fut.set_exception(stuck)
        return fut

    def _waiter(self, job: Job) -> asyncio.Future[Job]:
        """A future `_resolve` settles when the open `job` ends (followed from now, if no
        one follows it yet)."""
        if self.tracker.entry(job) is None:
            self.resume_one(job, self.ledger.phase(job.local_id) or Phase.FOLLOWING)
        fut: asyncio.Future[Job] = self.runner.loop.create_future()
        self._waiters.setdefault(job.local_id, []).append(fut)
        return fut

    async def wait(self, job: Job, timeout: float | None = None, *, flush: bool = True) -> Job:
        """The finished job; raises JobFailed, JobUnconfirmed, DownloadError (files that keep
        failing to save) or JobTimeout (the job keeps running in every case). `flush=False`:
        its ending may wait for the next shared commit (a batch flushes once, at its end)."""
        job = self.adopt(job)
        if not job.done:
            if job.local_id in self._stuck:
                raise self._stuck[job.local_id]
            fut = self._waiter(job)
            try:
                await asyncio.wait_for(asyncio.shield(fut), timeout)
            except asyncio.TimeoutError:
                raise JobTimeout(job, timeout or 0.0, job.note) from None
            finally:
                waiters = self._waiters.get(job.local_id, [])
                if fut in waiters:
                    waiters.remove(fut)
        if flush:
            self.flush()
        if job.status is JobStatus.UNCONFIRMED:
            raise JobUnconfirmed(job)
        if job.status is not JobStatus.SUCCEEDED:
            raise JobFailed(job)
        return job

    # ---- resuming and sharing a folder ---------------------------------------------------------
    def resume(self, available: Callable[[str], bool]) -> None:
        """Takes up every job a previous Studio left open (its lease decides who follows it)."""
        for job, phase, _fields in self.ledger.open_rows():
            if not available(job.provider):
                continue
            if phase == Phase.PLANNED and not self.ledger.held_elsewhere(
                job.local_id, self.owner, time.time(), C.LEASE_TTL
            ):
                continue  # free now: `planned()` takes it for a resumed batch
            self.resume_one(self.adopt(job), phase)

    def resume_one(self, job: Job, phase: str) -> None:
        if phase == Phase.DONE:
            return
        if phase == Phase.FOLLOWING and not job.id:
            phase = Phase.SENDING
        self.tracker.follow(job, phase, delay=0.0)

    def take_over(self, job: Job) -> str:
        """This Studio now holds the lease of `job`: bring it up to date from its row and
        return the phase to continue from."""
        row = self.ledger.get(job.local_id)
        if row is not None:
            merge_answer(row, job)
        return self.ledger.phase(job.local_id) or Phase.DONE

    def acquire(self, jobs: list[Job]) -> set[str]:
        return self.ledger.acquire([j.local_id for j in jobs], self.owner, time.time(), C.LEASE_TTL)

    def heartbeat(self) -> None:
        self.ledger.renew(self.owner, time.time())

    async def watch(self, job: Job) -> None:
        """A job another Studio follows: show what its row in the ledger says."""
        row = self.ledger.get(job.local_id)
        if row is None:
            return
        phase = self.ledger.phase(job.local_id)
        moved = (row.status, row.progress, row.id, len(row.outputs)) != (
            job.status,
            job.progress,
            job.id,
            len(job.outputs),
        )
        if moved:
            merge_answer(row, job)
            job.note = None if row.done else "followed by another Studio on this folder"
            self.changed(job)
        if phase == Phase.DONE:
            self.tracker.drop(job)
            self._resolve(job, None)

    # ---- webhooks ------------------------------------------------------------------------------
    def webhook(self, provider_name: str, headers: Any, body: bytes) -> Job | None:
        """A webhook, verified first (WebhookError otherwise). A signed one settles the job
        it names without a GET when it says the job ended (news of a running job is shown,
        the schedule kept); an unsigned one only has the job re-read, once, at its
        provider's next sweep. A job already past following (a duplicate or late delivery)
        is left alone. Returns the job named, if this Studio follows it."""
        provider = self._provider(provider_name)
        event = provider.parse_webhook(headers, body)
        entry = self.tracker.find(provider_name, event["id"])
        if entry is None:
            return None
        job = entry.job
        if entry.phase != Phase.FOLLOWING or job.done:
            return job
        shadow = private_copy(job)
        if provider.apply_event(shadow, event) is None:
            status = event.get("status")
            known = isinstance(status, str) and status in provider.statuses
            if not known or provider.statuses[status].terminal:
                self.tracker.reread(entry)
            return job
        if shadow.done:
            self._absorb(job, shadow)
        elif RANK[shadow.status] > RANK[job.status]:  # never back (an event out of order)
            self._absorb(job, shadow, checked=False)
        return job

    # ---- lifetime ------------------------------------------------------------------------------
    def close(self) -> None:
        """Stops following (jobs keep running at the provider) and hands the leases back."""
        if self._closed:
            return
        self._closed = True
        self.tracker.cancel()
        for futures in self._waiters.values():
            for fut in futures:
                fut.cancel()
        try:
            self.ledger.release(self.owner)
        except Exception:  # the ledger may already be closed at interpreter exit
            log.debug("could not release leases", exc_info=True)


RANK = {JobStatus.QUEUED: 0, JobStatus.RUNNING: 1}
RANK.update({s: 2 for s in JobStatus if s.terminal})
"""How far along a status is (a webhook's news never moves a job back)."""


def _maybe_made(exc: Exception, what: str) -> str | None:
    """Why a create that raised may still have made its job (the cause to search with), or
    None when it was refused before anything was made. An unexpected exception counts as
    maybe made, and is logged."""
    if not isinstance(exc, NbmediaError):
        log.error("%s failed unexpectedly", what, exc_info=exc)
        return f"{type(exc).__name__}: {exc}"
    return str(exc) if getattr(exc, "may_have_reached_server", False) else None


def _error_of(exc: ProviderError) -> dict[str, Any]:
    return {"code": exc.code or str(exc.http_status), "message": exc.message}


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _span(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"
