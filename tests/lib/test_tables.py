"""studio.jobs(): the table's columns and values for each kind of row, read from the ledger's
plain columns (no payload parsed), the same as the table made from the jobs themselves."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

import nbmedia as nm
from nbmedia.engine.ledger import Ledger, Phase
from nbmedia.lib.tables import JOB_COLUMNS, jobs_frame
from nbmedia.models import Job, JobStatus, Output

T0 = dt.datetime(2026, 11, 30, 10, 0, 0, 123456, tzinfo=dt.timezone.utc)


def _recorded(ledger: Ledger) -> dict[str, Job]:
    """One job of each kind of row, oldest first, written through the engine's write path."""
    done = Job(
        provider="mercadream", kind="video", id="md_1", status=JobStatus.SUCCEEDED,
        progress=1.0, prompt="Neon rain", created_at=T0,
        updated_at=T0 + dt.timedelta(seconds=50), completed_at=T0 + dt.timedelta(seconds=42.5),
        cost=1.25, raw={"id": "md_1", "status": "completed", "usage": {"credits": 1.25}},
        outputs=[
            Output("image", "https://cdn.example/md_1.jpg", path=Path("media/t.jpg"),
                   role="thumbnail"),
            Output("video", "https://cdn.example/md_1.mp4", mime="video/mp4",
                   path=Path("media/mercadream/md_1.mp4")),
        ],
        local_id="nbm_done",
    )  # fmt: skip
    failed = Job(
        provider="meshapi", kind="video", id="mesh_2", status=JobStatus.FAILED,
        prompt="Refused", created_at=T0 + dt.timedelta(minutes=1),
        updated_at=T0 + dt.timedelta(minutes=1, seconds=7), local_id="nbm_failed",
        error={"code": "content_policy_violation", "message": "The prompt was refused."},
    )  # fmt: skip
    lost = Job(
        provider="vimmerse", kind="video", status=JobStatus.UNCONFIRMED, prompt="Lost answer",
        created_at=T0 + dt.timedelta(minutes=2), updated_at=T0 + dt.timedelta(minutes=2, seconds=3),
        error={"code": "create_answer_lost", "message": "It may exist: attach it by its id."},
        local_id="nbm_lost",
    )  # fmt: skip
    running = Job(
        provider="syncso", kind="lipsync", id="sync_4", status=JobStatus.RUNNING, progress=0.4,
        prompt="Talking head", created_at=dt.datetime.now(dt.timezone.utc), local_id="nbm_open",
        outputs=[Output("video", "https://cdn.example/partial.mp4")],
    )  # fmt: skip
    ledger.record(done, Phase.DONE)
    ledger.record(failed, Phase.DONE)
    ledger.record(lost, Phase.DONE)
    ledger.record(running, Phase.FOLLOWING)
    return {"done": done, "failed": failed, "lost": lost, "running": running}


@pytest.fixture
def offline(tmp_path: Path):
    """A Studio with no provider at all (nothing is sent or followed): only the ledger."""
    jobs = _recorded(Ledger(tmp_path / ".nbmedia" / "ledger.sqlite"))
    studio = nm.Studio(root=tmp_path, sandbox=False)
    yield studio, jobs
    studio.close()


def test_each_kind_of_row_has_its_values(offline) -> None:
    studio, _ = offline
    df = studio.jobs()
    assert list(df.columns[: len(JOB_COLUMNS)]) == JOB_COLUMNS
    assert list(df["id"].fillna("-")) == ["sync_4", "-", "mesh_2", "md_1"]  # newest first
    done, failed, lost, running = (df.iloc[i] for i in (3, 2, 1, 0))

    assert done["status"] == "succeeded" and done["progress"] == 1.0
    assert done["output_path"] == str(Path("media/mercadream/md_1.mp4"))  # the main file
    assert done["output_url"] == "https://cdn.example/md_1.mp4"
    assert done["cost"] == 1.25 and done["elapsed_s"] == pytest.approx(42.5)
    assert done["created_at"] == pd.Timestamp(T0) and pd.isna(done["error_code"])

    assert failed["status"] == "failed" and failed["error_code"] == "content_policy_violation"
    assert failed["error_message"] == "The prompt was refused."
    assert pd.isna(failed["output_path"]) and pd.isna(failed["cost"])
    assert failed["elapsed_s"] == pytest.approx(7.0)  # ended: up to its last update

    assert lost["status"] == "unconfirmed" and pd.isna(lost["id"])
    assert lost["error_code"] == "create_answer_lost" and "attach" in lost["error_message"]

    assert running["status"] == "running" and running["progress"] == 0.4
    assert pd.isna(running["output_path"]) and running["output_url"] == (
        "https://cdn.example/partial.mp4"
    )  # served, not downloaded yet
    assert 0 <= running["elapsed_s"] < 60  # still counting


def test_the_table_types_match_the_table_of_the_jobs(offline) -> None:
    studio, jobs = offline
    df = studio.jobs()[JOB_COLUMNS]
    assert isinstance(df["status"].dtype, pd.CategoricalDtype)
    assert str(df["created_at"].dt.tz) == "UTC" and df["completed_at"].isna().sum() == 3
    from_jobs = jobs_frame(reversed(list(jobs.values())))
    ended = df["status"] != "running"
    pd.testing.assert_frame_equal(df[ended], from_jobs[ended])
    assert studio.table_of([jobs["failed"]])["error_code"].tolist() == ["content_policy_violation"]


def test_job_finds_a_row_by_local_id_or_provider_id(offline) -> None:
    studio, jobs = offline
    by_local = studio.job("nbm_failed")
    assert by_local.id == "mesh_2" and by_local.error == jobs["failed"].error
    by_remote = studio.job("md_1")
    assert by_remote.local_id == "nbm_done" and by_remote.path == Path("media/mercadream/md_1.mp4")
    assert studio.job("md_1") is by_remote  # the one live object
    assert studio.job("nbm_lost").status is JobStatus.UNCONFIRMED
    with pytest.raises(KeyError):
        studio.job("nope")


def test_the_table_never_parses_a_payload(offline) -> None:
    """Its columns come from the ledger's plain columns: a row whose stored payload, request
    and outputs list no longer parse (or were never read) still shows all it has."""
    studio, _ = offline
    db = sqlite3.connect(studio.ledger.path)
    with db:
        db.execute(
            "UPDATE jobs SET raw='<html>502', request='{', outputs='[' WHERE local_id='nbm_done'"
        )
    db.close()
    row = studio.jobs().set_index("id").loc["md_1"]
    assert row["output_path"] == str(Path("media/mercadream/md_1.mp4")) and row["cost"] == 1.25
