"""Studio inside a real Jupyter kernel: the tracker on the kernel's loop, widgets, sync waits."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = [pytest.mark.notebook, pytest.mark.timeout(300)]


def run_cells(tmp_path: Path, sandbox_url: str, *cells: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    setup = (
        "import nbmedia as nm\n"
        "from nbmedia.sandbox import Sandbox\n"
        f"box = Sandbox.attach({sandbox_url!r})\n"
        "studio = nm.Studio(sandbox=box)\n"
    )
    nb.cells = [nbformat.v4.new_code_cell(c) for c in (setup, *cells)]
    NotebookClient(
        nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    return nb


def test_sync_wait_and_await_in_a_kernel(tmp_path: Path, sandbox) -> None:
    run_cells(
        tmp_path,
        sandbox.url,
        # a sync wait inside a running loop must not raise "cannot be called from a running loop"
        "job = studio.speech('Waiting synchronously inside a kernel.', format='wav')\n"
        "job.wait(timeout=120)\n"
        "assert job.status is nm.JobStatus.SUCCEEDED and job.path.exists()",
        "other = studio.music('awaited', duration=15)\n"
        "done = await other\n"
        "assert done.path.exists()",
    )


def test_progress_widget_moves_while_a_cell_waits_and_ends_in_a_player(
    tmp_path: Path, sandbox
) -> None:
    run_cells(
        tmp_path,
        sandbox.url,
        "from nbmedia.display import JobProgress\n"
        "box.speed = 1\n"
        "job = studio.generate('Progress while waiting', duration=15, resolution='720p')\n"
        "view = JobProgress(job)\n"
        "seen = []\n"
        "view.bar.observe(lambda ch: seen.append(ch['new']), 'value')\n"
        "display(view)",
        "job.wait(timeout=180)\n"
        "assert len(set(seen)) >= 3, seen  # the bar moved during the blocking wait\n"
        "assert view.bar.value == 1.0 and view.bar.bar_style == 'success'\n"
        "html = view.player.outputs[0]['data']['text/html']\n"
        "assert '<video' in html and f'media/mercadream/{job.id}.mp4' in html and 'base64' not in html\n"
        "assert 'succeeded' in view.label.value",
    )


def test_tracker_runs_while_the_kernel_is_idle(tmp_path: Path, sandbox) -> None:
    run_cells(
        tmp_path,
        sandbox.url,
        "job = studio.speech('Finishing between cells.', format='wav')\n"
        "job  # displayed: its mime bundle, updated in place by display id",
        # this cell sleeps on the loop without waiting on the job: the tracker must keep going
        "import asyncio\n"
        "for _ in range(200):\n"
        "    if job.done:\n"
        "        break\n"
        "    await asyncio.sleep(0.1)\n"
        "assert job.status is nm.JobStatus.SUCCEEDED and job.path.exists()",
    )


def test_failed_job_shows_the_provider_code(tmp_path: Path, sandbox) -> None:
    sandbox.faults.fail_next_jobs(1, code="content_policy_violation", message="not allowed")
    run_cells(
        tmp_path,
        sandbox.url,
        "from nbmedia.display import JobProgress\n"
        "job = studio.speech('This one fails.')\n"
        "view = JobProgress(job)\n"
        "try:\n"
        "    job.wait(timeout=120)\n"
        "except nm.JobFailed as exc:\n"
        "    err = exc\n"
        "assert err.job is job\n"
        "assert 'content_policy_violation' in view.label.value and view.bar.bar_style == 'danger'",
    )
