"""`studio.batch(df)`: a DataFrame of requests → jobs, within each provider's limits.

Every row is validated before the first request is sent. Rows are then sent from a background
task on the studio's loop, at most `limits[provider]` open jobs per provider at a time; a 429
(rate or concurrency) is waited out for its Retry-After and the row sent again (a 429 creates
nothing, so this cannot bill twice). Results join back onto the rows.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import pandas as pd

from . import constants as C
from .errors import NbmediaError, RateLimited, ValidationError
from .models import Job
from .validation import RequestModel

if TYPE_CHECKING:
    from .studio import Studio

RESULT_COLUMNS = [
    "job_id",
    "status",
    "output_path",
    "elapsed_s",
    "cost",
    "error_code",
    "error_message",
]
TEXT_COLUMNS = ("prompt", "text")


class Batch:
    """The jobs of a batch, one per row; displays overall progress; `table()` joins results."""

    def __init__(self, studio: Studio, requests: pd.DataFrame, limits: dict[str, int]) -> None:
        self.studio = studio
        self.requests = requests.reset_index(drop=True)
        self.limits = limits
        self.planned: list[tuple[Job, RequestModel]] = [
            self._plan(i, row) for i, row in self.requests.iterrows()
        ]
        self.jobs: list[Job] = [job for job, _ in self.planned]
        self.errors: dict[int, NbmediaError] = {}
        self.sent = 0
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        done = sum(j.done for j in self.jobs)
        return f"<Batch {len(self.jobs)} jobs, {self.sent} sent, {done} finished>"

    def _plan(self, i: Any, row: pd.Series) -> tuple[Job, RequestModel]:
        fields = {k: _plain(v) for k, v in row.items() if not _missing(v)}
        provider = fields.pop("provider", "mercadream")
        kind = fields.pop("kind", "video")
        text = next((fields.pop(c) for c in TEXT_COLUMNS if c in fields), None)
        try:
            return self.studio.prepare(provider, kind, text, **fields)
        except ValidationError as err:
            raise ValidationError(
                err.provider, f"row {i}: {err.field}", err.value, err.rule
            ) from None

    def start(self) -> Batch:
        self._task = self.studio._runner.create_task(self._run())
        return self

    async def _run(self) -> None:
        slots = {
            p: asyncio.Semaphore(self.limits.get(p, C.BATCH_DEFAULT_CONCURRENCY))
            for p in {j.provider for j in self.jobs}
        }
        await asyncio.gather(
            *(
                self._one(i, job, request, slots[job.provider])
                for i, (job, request) in enumerate(self.planned)
            )
        )

    async def _one(
        self, index: int, job: Job, request: RequestModel, slot: asyncio.Semaphore
    ) -> None:
        async with slot:
            while True:
                try:
                    await self.studio.send(job, request)
                    break
                except RateLimited as exc:
                    if not exc.retryable:  # e.g. an exhausted plan: waiting will not help
                        self.errors[index] = exc
                        self.studio.tracker.changed(job)
                        return
                    wait = exc.retry_after if exc.retry_after is not None else C.POLL_MAX
                    job.note = f"rate-limited, retrying in {wait:.0f} s"
                    self.studio.tracker.changed(job)
                    await asyncio.sleep(wait)
                except NbmediaError as exc:
                    self.errors[index] = exc
                    self.studio.tracker.changed(job)
                    return
            self.sent += 1
            with contextlib.suppress(NbmediaError):  # a failed job is a row with its error
                await self.studio.tracker.wait(job)

    def wait(self, timeout: float | None = None) -> Batch:
        """Blocks until every row has finished (succeeded or not)."""
        if self._task is not None:
            self.studio._runner.run(asyncio.wait_for(asyncio.shield(self._task), timeout))
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
                "error_code": err.get("code"),
                "error_message": err.get("message"),
            })  # fmt: skip
        return pd.concat([self.requests, pd.DataFrame(rows, columns=RESULT_COLUMNS)], axis=1)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        from .widgets import BatchProgress

        display(BatchProgress(self))


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False  # lists and dicts are values


def _plain(value: Any) -> Any:
    """numpy scalars → Python values, so request models see ints and floats."""
    return (
        value.item()
        if hasattr(value, "item") and not isinstance(value, (list, dict, str))
        else value
    )
