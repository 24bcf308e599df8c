"""One prompt at several providers, side by side."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import JobFailed
from ..models import Job

if TYPE_CHECKING:
    import pandas as pd

Rate = Callable[[Job, "int | None"], None]


class Comparison:
    """The jobs of one prompt at several providers; displays as a grid, one column each.

    `table`, `rate` and `rating` come from the Studio (the ledger's rows and ratings)."""

    def __init__(
        self,
        prompt: str,
        jobs: dict[str, Job],
        *,
        table: Callable[[list[Job]], pd.DataFrame],
        rate: Rate,
        rating: Callable[[Job], int | None],
    ) -> None:
        self.prompt = prompt
        self.jobs = jobs
        self._table = table
        self.rate = rate
        self.rating = rating

    def __repr__(self) -> str:
        cells = ", ".join(f"{p}={j.status.value}" for p, j in self.jobs.items())
        return f"<Comparison {self.prompt[:40]!r}: {cells}>"

    def __getitem__(self, provider: str) -> Job:
        return self.jobs[provider]

    def wait(self, timeout: float | None = None, *, raise_on_failure: bool = False) -> Comparison:
        """Waits for every job; a failed one stays failed in the grid unless asked to raise."""
        for job in self.jobs.values():
            try:
                job.wait(timeout)
            except JobFailed:
                if raise_on_failure:
                    raise
        return self

    async def wait_async(self, timeout: float | None = None) -> Comparison:
        import asyncio

        for job in self.jobs.values():
            with contextlib.suppress(JobFailed):
                await asyncio.wait_for(job.__await__(), timeout) if timeout else await job
        return self

    def table(self) -> pd.DataFrame:
        """These jobs as ledger rows, one per provider, in the order asked."""
        return self._table(list(self.jobs.values()))

    def _ipython_display_(self) -> None:
        from ..display.compare import show_comparison

        show_comparison(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))
