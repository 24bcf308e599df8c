"""`studio.batch(df)` through a provider's own batch endpoint (sync.so's POST /v2/batch), over
real HTTP against the sandbox: the rows go as one provider batch where the plan has batches,
one by one where it refuses them, and a batch whose answer was lost is found row by row in the
provider's list, never failed and never sent twice."""

from __future__ import annotations

import asyncio
import secrets
import time
import wave
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import nbmedia as nm
from nbmedia.providers import REGISTRY
from nbmedia.sandbox import Sandbox
from nbmedia.sandbox.services.media.video import render_video
from tests import mediacheck
from tests.conftest import sandbox_client

pytestmark = pytest.mark.timeout(300)
ROWS = 20
"""sync.so's smallest batch."""


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("batch-clips")
    video = render_video(d / "talk.mp4", text="Batch", duration=2, fps=25, width=160, height=120)
    rate = 16000
    t = np.arange(rate) / rate
    tone = (0.4 * np.sin(2 * np.pi * 220 * t) * 32767).astype(np.int16)
    audio = d / "voice.wav"
    with wave.open(str(audio), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(tone.tobytes())
    return {"video": video, "audio": audio}


def rows(clips: dict[str, Path], n: int = ROWS) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "provider": ["syncso"] * n,
            "kind": ["lipsync"] * n,
            "video": [clips["video"]] * n,
            "audio": [clips["audio"]] * n,
            "sync_mode": ["cut_off", "silence"] * (n // 2),
        }
    )


def calls(sandbox: Sandbox, method: str, path: str, since: int) -> list[int | None]:
    return [
        r.status
        for r in list(sandbox.request_log)[since:]
        if r.provider == "syncso" and r.method == method and r.path == f"/syncso{path}"
    ]


def studio_key(studio: nm.Studio) -> str:
    """The sandbox account the Studio's sync.so client uses (to read its list as it is)."""
    return studio.engine._provider("syncso").api._secret.reveal()


def check_done(batch, clips) -> pd.DataFrame:
    table = batch.table()
    assert list(table["status"]) == ["succeeded"] * ROWS, table[["status", "error_message"]]
    for path, mode in zip(table["output_path"], table["sync_mode"], strict=True):
        seconds = mediacheck.probe(Path(path))["duration"]
        assert seconds == pytest.approx(1 if mode == "cut_off" else 2, abs=0.2)
    return table


def test_rows_go_as_one_provider_batch(studio, sandbox: Sandbox, clips) -> None:
    since = len(sandbox.request_log)
    batch = studio.batch(rows(clips)).wait(timeout=240)
    table = check_done(batch, clips)
    assert calls(sandbox, "POST", "/v2/batch", since) == [201]
    assert calls(sandbox, "POST", "/v2/generate", since) == []  # no row was sent alone
    assert calls(sandbox, "POST", "/v2/assets/upload", since) == [201, 201]  # each file once
    ids = list(table["job_id"])
    assert len(set(ids)) == ROWS and not any("#" in i for i in ids)  # the generations' own ids
    key = studio_key(studio)
    with sandbox_client(sandbox, "syncso", {"x-api-key": key}) as c:
        listed = {g["id"]: g for g in c.get("/v2/generations").json()}
        assert set(ids) <= set(listed)
        assert all(listed[i]["status"] == "COMPLETED" for i in ids)
        batches = c.get("/v2/batch").json()
    assert len(batches) == 1 and batches[0]["metrics"]["success_count"] == ROWS


def test_a_plan_without_batches_gets_the_rows_one_by_one(
    tmp_path, sandbox: Sandbox, clips, monkeypatch
) -> None:
    keys = {}
    for name, cls in REGISTRY.items():  # real keys (not the sandbox's), aimed at the sandbox
        monkeypatch.setenv(f"NBMEDIA_{name.upper()}_BASE_URL", sandbox.base_url(name))
        keys[name] = f"{cls.sandbox_key}_{secrets.token_hex(4)}"
    keys["syncso"] = f"sk_live_growth_{secrets.token_hex(4)}"  # Growth: no Batch API
    studio = nm.Studio(root=tmp_path, keys=keys)
    try:
        since = len(sandbox.request_log)
        batch = studio.batch(rows(clips), limits={"syncso": 6}).wait(timeout=240)
        check_done(batch, clips)
        assert calls(sandbox, "POST", "/v2/batch", since) == [402]  # refused: nothing made
        assert calls(sandbox, "POST", "/v2/generate", since) == [201] * ROWS
    finally:
        studio.close()


def test_a_batch_whose_answer_was_lost_is_found_row_by_row(studio, sandbox: Sandbox, clips) -> None:  # fmt: skip
    since = len(sandbox.request_log)
    sandbox.faults.drop_after_receive_next(1, path="/syncso/v2/batch")
    batch = studio.batch(rows(clips)).wait(timeout=280)
    table = check_done(batch, clips)
    assert calls(sandbox, "POST", "/v2/batch", since) == [None]  # made, answer dropped
    assert calls(sandbox, "POST", "/v2/generate", since) == []  # never sent twice
    key = studio_key(studio)
    with sandbox_client(sandbox, "syncso", {"x-api-key": key}) as c:
        made = [g["id"] for g in c.get("/v2/generations").json()]
    assert len(made) == ROWS and sorted(table["job_id"]) == sorted(made)  # each row its own


def test_rows_of_a_running_batch_are_taken_up_by_the_next_studio(
    tmp_path, sandbox: Sandbox, clips
) -> None:
    """The ledger holds each row's batch-row id: a Studio closed while the provider's batch
    runs leaves the rows to the next Studio on the folder, which follows them to the end."""
    first = nm.Studio(root=tmp_path, sandbox=sandbox)
    fast, sandbox.speed = sandbox.speed, 0.5  # the batch outlives the first Studio
    try:
        batch = first.batch(rows(clips))
        deadline = time.monotonic() + 60
        while not all(j.id for j in batch.jobs) and time.monotonic() < deadline:
            first.engine.runner.run(asyncio.sleep(0.05))  # the Studio's loop sends meanwhile
        local_ids = [j.local_id for j in batch.jobs]
        assert all("#" in j.id for j in batch.jobs)  # followed through the batch
        assert not any(j.done for j in batch.jobs)
    finally:
        first.close()
        sandbox.speed = fast
    second = nm.Studio(root=tmp_path, sandbox=sandbox)
    try:
        jobs = [second.engine.job(i) for i in local_ids]
        for job in jobs:
            job.wait(timeout=120)
        assert all(j.status is nm.JobStatus.SUCCEEDED and "#" not in j.id for j in jobs)
        assert len({j.id for j in jobs}) == ROWS and all(Path(j.path).exists() for j in jobs)
    finally:
        second.close()
