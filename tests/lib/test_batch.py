"""`studio.batch(df)` rows against the sandbox: each provider's room for open jobs holds, a row's
room comes back when its job ends however it ends, and an open row costs no task while its
job runs (a thousand-row batch must not keep a thousand tasks on the kernel's loop)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pandas as pd
import pytest

import nbmedia as nm
from nbmedia.sandbox import Sandbox

pytestmark = pytest.mark.timeout(300)


def rows(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {"provider": "mercadream", "kind": "speech", "text": [f"row {i}" for i in range(n)]}
    )


def row_tasks() -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks() if "Batch" in t.get_coro().__qualname__]


def test_open_rows_wait_without_a_task_each(tmp_path: Path, sandbox: Sandbox) -> None:
    async def main() -> None:
        async with nm.AsyncStudio(tmp_path, sandbox=sandbox) as studio:
            fast, sandbox.speed = sandbox.speed, 0.2  # no row may end before the last is sent
            batch = await studio.batch(rows(12), limits={"mercadream": 12})
            while batch.sent < 12:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0)  # the last row's task returns its job's ending
            assert not any(j.done for j in batch.jobs)  # every row open...
            assert [t.get_coro().__qualname__ for t in row_tasks()] == ["Batch._run"]
            sandbox.speed = fast
            await batch.wait_async(180)
            assert [j.status for j in batch.jobs] == [nm.JobStatus.SUCCEEDED] * 12

    asyncio.run(main())


def test_a_failed_row_gives_its_room_back(tmp_path: Path, sandbox: Sandbox) -> None:
    async def main() -> None:
        async with nm.AsyncStudio(tmp_path, sandbox=sandbox) as studio:
            sandbox.faults.fail_next_jobs(2, code="content_policy_violation", message="no")
            most = 0

            def count(_job: nm.Job) -> None:
                nonlocal most
                most = max(most, sum(1 for j in batch.jobs if j.id and not j.done))

            studio.subscribe(count)
            batch = await studio.batch(rows(5), limits={"mercadream": 1})
            await batch.wait_async(180)
            table = batch.table()
            assert list(table["status"]) == ["failed"] * 2 + ["succeeded"] * 3
            assert set(table["error_code"][:2]) == {"content_policy_violation"}
            assert most == 1  # one open job at a time, and the failed ones freed theirs

    asyncio.run(main())
