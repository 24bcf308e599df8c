"""`studio.batch(df)`: a DataFrame of requests → jobs, within each provider's limits.

Every row is validated, then written to the ledger (planned), before the first request is
sent: a batch interrupted by a restart is taken up by the next Studio on the folder. Rows are
sent from a background task on the Studio's loop, at most `limits[provider]` open jobs per
provider at a time; the engine waits out a 429 (a 429 creates nothing, so this cannot bill
twice). Where a provider has a batch endpoint and there are enough rows for it, its rows go in
provider batches instead (`Engine.send_batch`: each row is still a job of its own, outside the
open-jobs limit, which provider batches bypass); a provider that refuses the batch (a plan
without it) gets the rows one by one. Results join back onto the rows.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Generator, Mapping
from typing import TYPE_CHECKING, Any

from .. import constants as C
from ..engine.jobs import Engine
from ..errors import NbmediaError, ValidationError
from ..models import Job
from ..validation import RequestModel

if TYPE_CHECKING:
    import pandas as pd

Prepare = Callable[..., tuple[Job, RequestModel]]
"""`prepare(provider, kind, text, **fields) -> (job, request)`: validates, sends nothing."""
Remake = Callable[[Job, dict[str, Any]], RequestModel]
"""Rebuilds the request of a planned job from its kept fields (a resumed batch)."""

RESULT_COLUMNS = [
    "job_id",
    "status",
    "output_path",
    "elapsed_s",
    "cost",
    "cost_unit",
    "error_code",
    "error_message",
]
TEXT_COLUMNS = ("prompt", "text")
LIMIT_KEY = "_batch_limit"
"""Kept with each planned row: its batch's limit, so a resumed batch keeps the same pace."""


class Batch:
    """The jobs of a batch, one per row; displays overall progress; `table()` joins results."""

    def __init__(
        self,
        engine: Engine,
        requests: pd.DataFrame,
        planned: list[tuple[Job, RequestModel]],
        limits: Mapping[str, int],
        slots: dict[str, asyncio.Semaphore] | None = None,
    ) -> None:
        self.engine = engine
        self.slots = {} if slots is None else slots
        """Per-provider room for open jobs; batches that share it share the limits."""
        self.requests = requests.reset_index(drop=True)
        self.limits = dict(limits)
        self.planned = planned
        self.jobs: list[Job] = [job for job, _ in planned]
        self.errors: dict[int, NbmediaError] = {}
        self.sent = 0
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def plan(cls, *args: Any) -> Batch:
        """Validates every row (naming the row in any error), then records them all
        (arguments as `_planning`)."""
        steps = cls._planning(*args)
        while True:
            try:
                next(steps)
            except StopIteration as done:
                return done.value

    @classmethod
    async def aplan(cls, *args: Any) -> Batch:
        """`plan`, the event loop free between slices of rows (tracking goes on meanwhile)."""
        steps = cls._planning(*args)
        while True:
            try:
                next(steps)
            except StopIteration as done:
                return done.value
            await asyncio.sleep(0)

    @classmethod
    def _planning(
        cls,
        engine: Engine,
        prepare: Prepare,
        requests: pd.DataFrame,
        limits: Mapping[str, int],
        default_provider: Callable[[str], str],
    ) -> Generator[None, None, Batch]:
        """`plan` as steps: a pause after every PLAN_SLICE rows validated."""
        rows = requests.reset_index(drop=True)
        prepared = []
        for i, row in rows.iterrows():
            if i and not int(i) % C.PLAN_SLICE:  # type: ignore[call-overload]
                yield
            fields = {k: _plain(v) for k, v in row.items() if not _missing(v)}
            kind = fields.pop("kind", "video")
            provider = fields.pop("provider", None) or default_provider(kind)
            text = next((fields.pop(c) for c in TEXT_COLUMNS if c in fields), None)
            try:
                job, request = prepare(provider, kind, text, **fields)
            except ValidationError as err:
                raise ValidationError(
                    err.provider, f"row {i}: {err.field}", err.value, err.rule
                ) from None
            kept = {"text": text, **fields, LIMIT_KEY: limits[provider]}
            prepared.append((job, request, kept))
        planned: list[tuple[Job, RequestModel]] = []
        for start in range(0, len(prepared), C.PLAN_SLICE):  # all valid: into the ledger
            if start:
                yield  # nothing is sent before the last slice is written
            part = prepared[start : start + C.PLAN_SLICE]
            jobs = engine.plan([(job, kept) for job, _, kept in part])
            planned += [(job, request) for job, (_, request, _) in zip(jobs, part, strict=True)]
        return cls(engine, rows, planned, limits)

    @classmethod
    def resume(
        cls,
        engine: Engine,
        rows: list[tuple[Job, dict[str, Any]]],
        remake: Remake,
        limits: Mapping[str, int],
        slots: dict[str, asyncio.Semaphore] | None = None,
    ) -> Batch | None:
        """Rows a stopped Studio planned but never sent (`engine.planned()`), as a batch."""
        planned = []
        limits = dict(limits)
        for job, fields in rows:
            fields = dict(fields)
            limit = fields.pop(LIMIT_KEY, None)
            if isinstance(limit, int) and limit > 0:
                limits[job.provider] = limit
            try:
                planned.append((job, remake(job, fields)))
            except NbmediaError as exc:
                engine.fail_planned(job, exc)
        if not planned:
            return None
        import pandas as pd

        rows = pd.DataFrame(
            [{"provider": j.provider, "kind": j.kind, "prompt": j.prompt} for j, _ in planned]
        )
        return cls(engine, rows, planned, limits, slots)

    def __repr__(self) -> str:
        done = sum(j.done for j in self.jobs)
        return f"<Batch {len(self.jobs)} jobs, {self.sent} sent, {done} finished>"

    def start(self) -> Batch:
        self._task = self.engine.runner.create_task(self._run())
        return self

    async def stop(self) -> None:
        """Stops sending (rows not sent stay planned in the ledger for the next Studio)."""
        self.cancel()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    def cancel(self) -> None:
        """`stop` without waiting (from a sync close): the task ends at its next step."""
        task = self._task
        if task is None or task.done():
            return
        loop = task.get_loop()
        if loop.is_running() and not _on(loop):
            loop.call_soon_threadsafe(task.cancel)
        else:
            task.cancel()

    async def _run(self) -> None:
        sending = {}
        for provider in {j.provider for j in self.jobs}:
            self.slots.setdefault(provider, asyncio.Semaphore(self.limits[provider]))
            sending[provider] = asyncio.Semaphore(min(self.limits[provider], C.CREATES_AT_ONCE))
        slots = self.slots
        together = await self._send_together()
        endings = await asyncio.gather(
            *(
                self._follow(i, job)
                if i in together
                else self._one(i, job, request, slots[job.provider], sending[job.provider])
                for i, (job, request) in enumerate(self.planned)
            )
        )
        # each row's task ended with its create: what is left are the jobs' own endings
        await asyncio.gather(*(e for e in endings if e is not None), return_exceptions=True)
        self.engine.flush()  # a script may stop right after: every ending on disk

    async def _send_together(self) -> set[int]:
        """Rows sent in provider batches (for providers that have them, when there are enough
        rows): their indices. Rows of a refused batch are left to be sent one by one."""
        by_provider: dict[str, list[int]] = {}
        for i, (job, _) in enumerate(self.planned):
            by_provider.setdefault(job.provider, []).append(i)
        sent: set[int] = set()
        for provider, rows in by_provider.items():
            size = self.engine.batch_size(provider)
            if size is None or len(rows) < size[0]:
                continue
            chunks = -(-len(rows) // size[1])  # as few batches as the maximum allows, even
            for n in range(chunks):
                part = rows[n * len(rows) // chunks : (n + 1) * len(rows) // chunks]
                jobs = [self.planned[i][0] for i in part]
                requests = [self.planned[i][1] for i in part]
                try:
                    taken = await self.engine.send_batch(jobs, requests)
                except NbmediaError as exc:
                    self.errors.update({i: exc for i in part})
                    sent.update(part)
                    continue
                if not taken:
                    break  # refused (e.g. the plan has no batches): one by one from here
                sent.update(part)
        return sent

    async def _follow(self, index: int, job: Job) -> asyncio.Future[Job] | None:
        """A row sent in a provider batch: its job's ending, like any other row's."""
        if index in self.errors:
            return None
        return self._sent(job, None)

    async def _one(
        self,
        index: int,
        job: Job,
        request: RequestModel,
        slot: asyncio.Semaphore,
        sending: asyncio.Semaphore,
    ) -> asyncio.Future[Job] | None:
        """Sends one row when its provider has room for another open job, and returns its
        job's ending, which gives the room back (a failed job is a row with its error)."""
        await slot.acquire()
        try:
            async with sending:  # a few creates at a time: the loop stays free between
                await self.engine.send(job, request, wait_rate_limits=True)
        except BaseException as exc:
            slot.release()
            if not isinstance(exc, NbmediaError):
                raise
            self.errors[index] = exc
            return None
        return self._sent(job, slot)

    def _sent(self, job: Job, slot: asyncio.Semaphore | None) -> asyncio.Future[Job]:
        """A row whose job the provider has: counted, and its ending returned, which gives
        back `slot` (the provider's room, for a row sent on its own) when the job ends."""
        self.sent += 1
        ending = self.engine.ending(job)
        if slot is None:
            ending.add_done_callback(_seen)
        else:
            ending.add_done_callback(lambda f: (slot.release(), _seen(f)))
        return ending

    def wait(self, timeout: float | None = None) -> Batch:
        """Blocks until every row has finished (succeeded or not)."""
        if self._task is not None:
            self.engine.runner.run(asyncio.wait_for(asyncio.shield(self._task), timeout))
        return self

    async def wait_async(self, timeout: float | None = None) -> Batch:
        if self._task is not None:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        return self

    @property
    def done(self) -> bool:
        return self._task is not None and self._task.done()

    def table(self) -> pd.DataFrame:
        """The request rows with each job's outcome joined on."""
        rows = []
        for i, job in enumerate(self.jobs):
            main = job.output()
            err = job.error or (
                {"code": type(self.errors[i]).__name__, "message": str(self.errors[i])}
                if i in self.errors
                else {}
            )
            rows.append({
                "job_id": job.id,
                "status": job.status.value,
                "output_path": str(main.path) if main and main.path else None,
                "elapsed_s": job.elapsed_s if job.id else None,
                "cost": job.cost,
                "cost_unit": job.cost_unit,
                "error_code": err.get("code"),
                "error_message": err.get("message"),
            })  # fmt: skip
        import pandas as pd

        return pd.concat([self.requests, pd.DataFrame(rows, columns=RESULT_COLUMNS)], axis=1)

    def _ipython_display_(self) -> None:
        from ..display.batch import show_batch

        show_batch(self)


def _missing(value: Any) -> bool:
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False  # lists and dicts are values


def _plain(value: Any) -> Any:
    """numpy scalars → Python values, so request models see ints and floats."""
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, (list, dict, str)):
        return item()
    return value


def _on(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _seen(ending: asyncio.Future[Job]) -> None:
    """Takes a row's ending error as seen: the row shows it (a batch stopped before it
    waited for its rows would otherwise have asyncio log it as never retrieved)."""
    if not ending.cancelled():
        ending.exception()
