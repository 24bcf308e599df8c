"""Which notebook made each job, so that notebooks sharing a folder (and its ledger) can each
show and count their own jobs, and give the same answers when they are run again.

The name is kept with the job's ledger row (its `extra` facts); the job table reads it as its
`notebook` column in the same query as the rest (`lib.tables.jobs_table`).
"""

from __future__ import annotations

import os
from pathlib import PurePosixPath
from typing import Any


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
