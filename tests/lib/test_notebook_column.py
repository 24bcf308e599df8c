"""Notebooks sharing a folder share its ledger; each job remembers which notebook made it."""

from __future__ import annotations

from pathlib import Path

import pytest

import nbmedia as nm
from nbmedia.lib.notebooks import current_notebook

pytestmark = pytest.mark.timeout(120)


def test_each_notebook_sees_its_own_jobs(tmp_path: Path, sandbox) -> None:
    made = {}
    for name in ("first.ipynb", "second.ipynb", "first.ipynb"):  # the first runs again
        with nm.Studio(root=tmp_path, sandbox=sandbox, notebook=name) as studio:
            job = studio.speech(f"made in {name}", format="wav").wait(timeout=60)
            made.setdefault(name, []).append(job.id)
    with nm.Studio(root=tmp_path, sandbox=sandbox, notebook="first.ipynb") as studio:
        every = studio.jobs()
        mine = studio.jobs(notebook=True)
        other = studio.jobs(notebook="second.ipynb")
    assert len(every) == 3 and set(every["notebook"]) == {"first.ipynb", "second.ipynb"}
    assert list(mine["id"]) == made["first.ipynb"][::-1]  # newest first, both runs
    assert list(other["id"]) == made["second.ipynb"]


def test_the_notebook_name_comes_from_the_kernel_session(monkeypatch) -> None:
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/me/work/notebooks/01_quickstart.ipynb")
    assert current_notebook() == "01_quickstart.ipynb"
    monkeypatch.delenv("JPY_SESSION_NAME")
    assert current_notebook().startswith("process ")
