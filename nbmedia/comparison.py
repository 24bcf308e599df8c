"""One prompt at several providers, side by side."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from .errors import JobFailed
from .models import Job

if TYPE_CHECKING:
    from .studio import Studio


class Comparison:
    """The jobs of one prompt at several providers; displays as a grid, one column each."""

    def __init__(self, studio: Studio, prompt: str, jobs: dict[str, Job]) -> None:
        self.studio = studio
        self.prompt = prompt
        self.jobs = jobs

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

    def table(self) -> pd.DataFrame:
        """These jobs as ledger rows, one per provider, in the order asked."""
        return self.studio.table_of(list(self.jobs.values()))

    def _ipython_display_(self) -> None:
        from IPython.display import display

        from .widgets import CompareGrid

        display(CompareGrid(self))

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))
