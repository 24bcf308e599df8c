"""Which notebook made each job, so that notebooks sharing a folder (and its ledger) can each
show and count their own jobs, and give the same answers when they are run again.

The name is kept with the job's ledger row (its `extra` facts); the job table gains a
`notebook` column from one read-only query of those facts.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

NOTEBOOK_COLUMN = "notebook"


def current_notebook() -> str:
    """The file name of the notebook this kernel runs (JupyterLab and nbclient runs that set
    JPY_SESSION_NAME); else a name for this process, so that its jobs are still told apart."""
    session = os.environ.get("JPY_SESSION_NAME") or _user_ns().get("__session__")
    if session:
        return PurePosixPath(str(session).replace("\\", "/")).name
    return f"process {os.getpid()}"


def _user_ns() -> dict[str, Any]:
    try:
        from IPython import get_ipython
    except ImportError:
        return {}
    shell = get_ipython()
    return shell.user_ns if shell is not None else {}


def notebooks_of(ledger_path: Path) -> dict[tuple[str, str], str]:
    """(provider, id) → the notebook that made the job, for every job that has both."""
    if not Path(ledger_path).exists():
        return {}
    db = sqlite3.connect(f"file:{ledger_path}?mode=ro", uri=True, timeout=10)
    try:
        found = db.execute(
            "SELECT provider, id, json_extract(extra, '$.notebook') FROM jobs "
            "WHERE id IS NOT NULL AND json_extract(extra, '$.notebook') IS NOT NULL"
        ).fetchall()
    finally:
        db.close()
    return {(provider, id): notebook for provider, id, notebook in found}


def with_notebooks(
    jobs: pd.DataFrame, made_by: dict[tuple[str, str], str], only: str | None = None
) -> pd.DataFrame:
    """The job table with its `notebook` column; only the jobs of notebook `only` if given."""
    keys = zip(jobs["provider"], jobs["id"], strict=True)
    jobs[NOTEBOOK_COLUMN] = [made_by.get(key) for key in keys]
    if only is None:
        return jobs
    return jobs[jobs[NOTEBOOK_COLUMN] == only].reset_index(drop=True)
