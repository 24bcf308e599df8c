"""The engine's lifecycle over real HTTP against the sandbox: nothing the user paid for is lost.

Lost create answers are found (or honestly `unconfirmed`), malformed bodies and failing disks
are contained with backoff, files count only once verified, and a job is in the ledger before
its create leaves.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import nbmedia as nm
from nbmedia import constants as C
from nbmedia.engine.ledger import Ledger, Phase
from nbmedia.providers.base import Swept
from nbmedia.sandbox import Sandbox
from tests import mediacheck
from tests.conftest import wait_until


def until(
    studio: nm.Studio, check: Callable[[], object], timeout: float = 30.0, every: float = 0.05
) -> object:
    """Runs the Studio's loop (its tracker) until `check` returns something truthy."""
    return wait_until(check, timeout=timeout, every=every, sleep=lambda s: idle(studio, s))


def idle(studio: nm.Studio, seconds: float) -> None:
    """Lets the Studio's tracker run for `seconds` (a script's loop runs only when asked)."""
    studio.engine.runner.run(asyncio.sleep(seconds))


def settle(studio: nm.Studio, job: nm.Job, timeout: float = 60.0) -> nm.Job:
    """Waits for `job` to end without raising (a failed or unconfirmed job is a result)."""
    try:
        return job.wait(timeout)
    except (nm.JobFailed, nm.JobUnconfirmed):
        return job


def requests_to(sandbox: Sandbox, path_part: str, method: str | None = None) -> int:
    return sum(
        1
        for r in sandbox.request_log
        if path_part in r.path and (method is None or r.method == method)
    )


def test_a_lost_create_answer_is_found_in_the_list_and_downloaded(
    studio: nm.Studio, sandbox: Sandbox
) -> None:
    sandbox.faults.drop_after_receive_next(1, path="/mercadream/v2/speech")
    job = studio.speech("The answer to this create is lost on the way back.", format="wav")
    job.wait(60)
    assert job.id and job.status is nm.JobStatus.SUCCEEDED
    assert studio.ledger.extra(job.local_id).get("reconciled") is True
    assert job.path is not None and job.path.read_bytes()[:4] == b"RIFF"
    assert not studio.engine._unsent  # its request is not kept for a re-send once found


def test_the_same_prompt_twice_is_never_one_provider_job(
    studio: nm.Studio, sandbox: Sandbox
) -> None:
    first = studio.speech("Twice the same words.", format="wav")
    sandbox.faults.drop_after_receive_next(1, path="/mercadream/v2/speech")
    second = studio.speech("Twice the same words.", format="wav")
    first.wait(60)
    second.wait(60)
    assert first.id and second.id and first.id != second.id
    assert studio.ledger.extra(second.local_id).get("reconciled") is True


def test_a_lost_answer_without_a_list_is_unconfirmed_and_can_be_attached(
    studio: nm.Studio, sandbox: Sandbox
) -> None:
    before = {c["id"] for c in sandbox.audit()["created"]}
    sandbox.faults.drop_after_receive_next(1, path="/vimmerse/v2/media")
    job = studio.generate("A lighthouse at dusk", provider="vimmerse")
    assert job.status is nm.JobStatus.UNCONFIRMED  # honest: it may exist and be billed
    with pytest.raises(nm.JobUnconfirmed, match="studio.attach"):
        job.wait(5)
    row = studio.jobs().iloc[0]
    assert row["status"] == "unconfirmed" and "lost" in row["error_message"]
    made = [c["id"] for c in sandbox.audit()["created"] if c["id"] not in before]
    assert len(made) == 1  # the sandbox did create it
    studio.attach(job, made[0])
    job.wait(120)
    assert job.id == made[0] and job.path is not None and job.path.stat().st_size > 1000


def test_a_refused_create_is_failed_with_the_providers_code(
    studio: nm.Studio, sandbox: Sandbox
) -> None:
    sandbox.faults.rate_limit_next(C.MAX_RETRIES + 1, retry_after=0, path="/mercadream/v2/speech")
    with pytest.raises(nm.RateLimited) as err:  # refused before it was made: nothing billed
        studio.speech("Never made.")
    row = studio.jobs().iloc[0]
    assert row["status"] == "failed" and row["error_code"] == err.value.code
    assert studio.ledger.phase(row_local_id(studio)) == Phase.DONE


def row_local_id(studio: nm.Studio) -> str:
    return studio.ledger.rows()[0]["local_id"]


def test_a_create_answered_with_a_malformed_body_is_reconciled(
    studio: nm.Studio, sandbox: Sandbox
) -> None:
    sandbox.faults.malformed_rate = 1.0
    sandbox.faults.malformed_kinds = ["truncated"]
    try:
        job = studio.speech("A garbled answer to a create.", format="wav")
    finally:
        sandbox.faults.malformed_rate = 0.0
    assert job.status is nm.JobStatus.QUEUED and job.note and "lost" in job.note
    job.wait(60)
    assert job.id and studio.ledger.extra(job.local_id).get("reconciled") is True


@pytest.mark.parametrize("kind", ["empty", "truncated", "non_json", "json_list"])
def test_malformed_polls_back_off_instead_of_storming(
    studio: nm.Studio, sandbox: Sandbox, kind: str
) -> None:
    job = studio.generate("Polled through garbage", duration=15, resolution="720p")
    sandbox.speed = 1.0  # the job outlives the garbage
    gets_before = requests_to(sandbox, f"/{job.id}", "GET")
    sandbox.faults.malformed_kinds = [kind]
    sandbox.faults.malformed_rate = 1.0
    idle(studio, 6.0)
    sandbox.faults.malformed_rate = 0.0
    polls = requests_to(sandbox, f"/{job.id}", "GET") - gets_before
    # backoff 0.5, 1, 2, 4 s (jittered): a handful of polls, never a storm
    assert 1 <= polls <= 6, polls
    assert job.note and "status check failed" in job.note and "malformed" in job.note
    sandbox.speed = 20.0
    job.wait(120)
    assert job.status is nm.JobStatus.SUCCEEDED


def test_an_html_page_served_as_the_file_is_not_a_result(
    studio: nm.Studio, sandbox: Sandbox
) -> None:
    sandbox.faults.html_download_rate = 1.0
    job = studio.speech("Served as a web page.", format="wav")
    with pytest.raises(nm.DownloadError, match="is not a audio/wav file"):
        job.wait(60)
    assert job.status is nm.JobStatus.RUNNING and not job.done  # still trying
    assert studio.ledger.phase(job.local_id) == Phase.DOWNLOADING
    sandbox.faults.html_download_rate = 0.0
    until(studio, lambda: job.status is nm.JobStatus.SUCCEEDED, 60)
    assert job.path.read_bytes()[:4] == b"RIFF" and job.path.read_bytes()[8:12] == b"WAVE"
    assert not list(job.path.parent.glob("*.part"))


def test_a_quick_download_is_not_written_as_downloading_a_slow_one_is(
    studio: nm.Studio, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One ledger write less per job: a kill during a quick download loses nothing (the job
    is read again and found finished); a download that lasts is written, so tables show it."""
    written: list[tuple[str, str]] = []
    record = Ledger.record

    def spy(self: Ledger, job: nm.Job, phase: str, **kw: object) -> None:
        written.append((job.local_id, phase))
        record(self, job, phase, **kw)

    monkeypatch.setattr(Ledger, "record", spy)
    quick = studio.speech("Fetched at once.", format="wav").wait(60)
    phases = [phase for local_id, phase in written if local_id == quick.local_id]
    assert Phase.DOWNLOADING not in phases and phases[-1] == Phase.DONE, phases
    assert quick.path.read_bytes()[8:12] == b"WAVE"

    sandbox.faults.download_delay = C.DOWNLOAD_NOTED_AFTER + 2.0
    slow = studio.speech("Fetched slowly.", format="wav")
    until(studio, lambda: studio.ledger.phase(slow.local_id) == Phase.DOWNLOADING, 30)
    assert slow.status is nm.JobStatus.RUNNING and slow.progress == 1.0
    row = studio.jobs().set_index("id").loc[slow.id]  # what the table shows meanwhile
    assert (row.status, row.progress) == ("running", 1.0)
    sandbox.faults.download_delay = 0.0
    slow.wait(60)
    assert studio.ledger.phase(slow.local_id) == Phase.DONE
    assert slow.path.read_bytes()[8:12] == b"WAVE"


def test_a_truncated_download_is_fetched_again(studio: nm.Studio, sandbox: Sandbox) -> None:
    sandbox.faults.truncated_download_rate = 0.6
    jobs = [studio.speech(f"Cut short {i}.", format="wav") for i in range(4)]
    for job in jobs:
        job.wait(120)
    sandbox.faults.truncated_download_rate = 0.0
    served = [s for s in sandbox.audit()["served"] if s["fault"] == "truncated"]
    assert served, "the knob cut no download short"
    for job in jobs:
        data = job.path.read_bytes()
        assert data[:4] == b"RIFF"
        assert len(data) == int.from_bytes(data[4:8], "little") + 8  # whole, as RIFF says


def test_a_full_disk_is_named_and_resumes_when_space_is_freed(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    media = tmp_path / "media"
    media.mkdir()
    if os.geteuid() != 0 or _mount(["-t", "tmpfs", "-o", "size=16k", "tmpfs", str(media)]):
        pytest.fail("this test needs root to mount a small tmpfs (CI runs as root)")
    studio = nm.Studio(root=tmp_path, sandbox=sandbox)
    try:
        job = studio.speech("No room for this one. " * 4, format="wav")
        with pytest.raises(nm.DownloadError, match="disk full writing media/mercadream/"):
            job.wait(60)
        assert "free space" in job.note
        gets = requests_to(sandbox, "/mercadream/files/")
        idle(studio, 3)
        assert requests_to(sandbox, "/mercadream/files/") - gets <= 3  # backing off
        assert not _mount(["-o", "remount,size=10m", str(media)])
        until(studio, lambda: job.status is nm.JobStatus.SUCCEEDED, 120)
        assert job.path.read_bytes()[:4] == b"RIFF"
    finally:
        studio.close()
        _mount(["-u", str(media)], umount=True)


def _mount(args: list[str], *, umount: bool = False) -> int:
    cmd = ["umount", *args[1:]] if umount else ["mount", *args]
    return subprocess.run(cmd, capture_output=True, check=False).returncode


def test_a_job_learned_finished_is_downloaded(tmp_path: Path, sandbox: Sandbox) -> None:
    """Found only after it finished (its list search was rate-limited meanwhile)."""
    studio = nm.Studio(root=tmp_path, sandbox=sandbox)
    try:
        sandbox.faults.drop_after_receive_next(1, path="/mercadream/v2/speech")
        sandbox.faults.rate_limit_next(3, retry_after=1, path="/mercadream/v2/jobs")
        job = studio.speech("Finished before it was found.", format="wav")
        job.wait(60)
        assert job.path is not None and job.path.read_bytes()[:4] == b"RIFF"
    finally:
        studio.close()


def test_a_new_studio_resumes_jobs_and_downloads(tmp_path: Path, sandbox: Sandbox) -> None:
    first = nm.Studio(root=tmp_path, sandbox=sandbox)
    job = first.speech("Left running by a closed Studio.", format="wav")
    first.close()  # hands its leases back
    time.sleep(1.0)  # it finishes at the provider meanwhile (no Studio is following it)
    second = nm.Studio(root=tmp_path, sandbox=sandbox)
    try:
        resumed = second.job(job.id)
        resumed.wait(60)
        assert resumed.path is not None and resumed.path.read_bytes()[:4] == b"RIFF"
    finally:
        second.close()


def test_two_studios_on_one_folder_download_each_file_once(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    a = nm.Studio(root=tmp_path, sandbox=sandbox)
    jobs = [a.speech(f"Shared folder {i}.", format="wav") for i in range(3)]
    b = nm.Studio(root=tmp_path, sandbox=sandbox)
    try:
        seen = [b.job(j.local_id) for j in jobs]
        for job in jobs:
            job.wait(60)
        until(b, lambda: all(j.status is nm.JobStatus.SUCCEEDED for j in seen), 30)
        assert [j.path for j in seen] == [j.path for j in jobs]
        names = {j.path.name for j in jobs}
        served = [s for s in sandbox.audit()["served"] if s["name"] in names and s["complete"]]
        assert len(served) == 3, served  # once each, by whichever Studio held the lease
    finally:
        a.close()
        b.close()


def test_a_killed_studios_jobs_are_taken_over_when_its_lease_lapses(
    tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = (
        "import os, sys, nbmedia as nm\n"
        "from nbmedia.sandbox import Sandbox\n"
        f"s = nm.Studio(root={str(tmp_path)!r}, sandbox=Sandbox.attach({sandbox.url!r}))\n"
        "j = s.generate('Orphaned by a kill', duration=15, resolution='720p')\n"
        "print(j.local_id, flush=True)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    out = subprocess.run(
        [os.sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    local_id = out.stdout.strip()
    assert local_id.startswith("nbm_"), out.stderr[-2000:]
    monkeypatch.setattr(C, "LEASE_TTL", 2.0)  # a dead heartbeat lapses after 2 s here
    studio = nm.Studio(root=tmp_path, sandbox=sandbox)
    try:
        job = studio.job(local_id)
        job.wait(120)
        assert job.path is not None and job.path.stat().st_size > 1000
    finally:
        studio.close()


def test_a_batch_is_in_the_ledger_before_its_first_row_is_sent(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    import pandas as pd

    studio = nm.Studio(root=tmp_path, sandbox=sandbox)
    try:
        rows = pd.DataFrame({"kind": ["speech"] * 6, "text": [f"row {i}" for i in range(6)]})
        batch = studio.batch(rows, limits={"mercadream": 1})
        phases = [studio.ledger.phase(j.local_id) for j in batch.jobs]
        assert all(p is not None for p in phases)  # all six, before the batch got anywhere
        studio.close()  # interrupted: most rows never sent
        ledger = Ledger(tmp_path / C.LEDGER_DIR / C.LEDGER_FILE)
        left = [j for j in batch.jobs if ledger.phase(j.local_id) == Phase.PLANNED]
        ledger.close()
        assert left
        again = nm.Studio(root=tmp_path, sandbox=sandbox)
        try:
            assert again.resumed_batch is not None
            again.resumed_batch.wait(180)
            table = again.jobs()
            assert len(table) == 6 and set(table["status"]) == {"succeeded"}
        finally:
            again.close()
    finally:
        studio.close()


def test_an_idempotent_create_is_sent_again_with_its_key(
    studio: nm.Studio, sandbox: Sandbox, tmp_path: Path
) -> None:
    """sync.so deduplicates by Idempotency-Key: an unreadable answer is cured by asking again
    (the same key), which names the one generation made; nothing is made twice."""
    from bench.chaos import inputs_for

    media = inputs_for(tmp_path / "inputs")
    # the local files go to the asset library first (once per content): upload them before
    # the fault, so the only answer made unreadable is the create's
    studio.estimate("syncso", video=media["video"], audio=media["audio"])
    before = len(sandbox.audit()["created"])
    posts = requests_to(sandbox, "/syncso/v2/generate", "POST")
    sandbox.faults.malformed_kinds = ["empty"]
    sandbox.faults.malformed_rate = 1.0
    try:
        task = studio.engine.runner.create_task(_lipsync(studio, media))
        until(studio, lambda: requests_to(sandbox, "/syncso/v2/generate", "POST") > posts, 30)
    finally:
        sandbox.faults.malformed_rate = 0.0
    job = studio.engine.runner.run(task)
    job.wait(120)
    made = sandbox.audit()["created"][before:]
    assert len(made) == 1 and made[0]["id"] == job.id and made[0]["replays"] >= 1
    assert studio.ledger.extra(job.local_id).get("replayed") is True


def test_look_alike_creates_left_by_a_killed_studio_each_get_their_own_generation(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """Two sync.so rows with the same files and options, differing only in the output's name
    (which no generation echoes), left `sending` by a Studio that died: the older never
    reached sync.so, the newer did. The list cannot tell them apart (the older would take
    the newer's generation, and the newer end `not_created`); the next Studio re-sends each
    with its own Idempotency-Key and body, so each row gets the generation its key made."""
    from bench.chaos import inputs_for
    from nbmedia.models import private_copy

    media = inputs_for(tmp_path / "inputs")
    first = nm.Studio(root=tmp_path / "studio", sandbox=sandbox)
    engine = first.engine
    rows = [
        first.prepare("syncso", "lipsync", None, **media, output_file_name=name)
        for name in ("older_never_sent", "newer_made")
    ]
    before = len(sandbox.audit()["created"])

    async def die_mid_create() -> str:
        for job, request in rows:  # what `send` writes before a create leaves
            engine._recorded_sending(engine.adopt(job), request)
            await asyncio.sleep(0.01)
        job, request = rows[1]
        shadow = private_copy(job)
        await engine._provider("syncso").submit(shadow, request)  # its answer never recorded
        return shadow.id

    made_before = engine.runner.run(die_mid_create())
    first.engine.ledger.flush()
    first.close()
    second = nm.Studio(root=tmp_path / "studio", sandbox=sandbox)
    try:
        older, newer = (second.job(job.local_id) for job, _ in rows)
        for job in (older, newer):
            settle(second, job, 180)
        made = sandbox.audit()["created"][before:]
        label = {c["id"]: c["label"] for c in made}
        assert newer.status is nm.JobStatus.SUCCEEDED and newer.id == made_before
        assert older.status is nm.JobStatus.SUCCEEDED and older.id != made_before
        assert label[newer.id] == "newer_made" and label[older.id] == "older_never_sent"
        assert len(made) == 2  # the older made once now, the newer never twice
        for job in (older, newer):
            assert second.ledger.extra(job.local_id).get("replayed") is True
            assert mediacheck.probe(job.path)["video"] is not None
    finally:
        second.close()


async def _lipsync(studio: nm.Studio, media: dict[str, str]) -> nm.Job:
    job, request = studio.prepare(
        "syncso", "lipsync", None, video=media["video"], audio=media["audio"]
    )
    return await studio.engine.send(job, request)


@pytest.mark.parametrize("row", ["as written", "without the inline text"])
def test_inline_text_of_a_finished_job_survives_a_restart_before_it_is_saved(
    tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, row: str
) -> None:
    """A description returned inline (no link) is in the ledger until its file is written;
    a row that lost it (written by an older build) has the job read again for it."""
    import json
    import sqlite3

    from nbmedia.engine.downloads import Downloads
    from nbmedia.sandbox.services.media.video import render_video

    clip = render_video(
        tmp_path / "clip.mp4", text="A kite", duration=2, fps=12, width=160, height=90
    )

    async def no_room(*_args: object, **_kw: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Downloads, "_save", no_room)
    first = nm.Studio(root=tmp_path / "studio", sandbox=sandbox)
    job = first.describe(clip, format="json")
    until(first, lambda: job.note and "disk full" in job.note, 120)
    assert first.ledger.phase(job.local_id) == Phase.DOWNLOADING
    first.close()  # as a killed kernel would leave it: succeeded at the provider, no file
    ledger = tmp_path / "studio" / C.LEDGER_DIR / C.LEDGER_FILE
    if row == "without the inline text":
        with sqlite3.connect(ledger) as db:
            (outputs,) = db.execute(
                "SELECT outputs FROM jobs WHERE local_id = ?", (job.local_id,)
            ).fetchone()
            stripped = [{k: v for k, v in o.items() if k != "content"} for o in json.loads(outputs)]
            db.execute(
                "UPDATE jobs SET outputs = ? WHERE local_id = ?",
                (json.dumps(stripped), job.local_id),
            )
    monkeypatch.undo()
    reads = requests_to(sandbox, "/get_results")
    second = nm.Studio(root=tmp_path / "studio", sandbox=sandbox)
    try:
        again = second.job(job.local_id)
        again.wait(60)
        assert again.path is not None and again.path.suffix == ".json"
        segments = json.loads(again.path.read_text(encoding="utf-8"))
        assert segments and second.segments(again)["text"].str.len().gt(0).all()
        reread = requests_to(sandbox, "/get_results") - reads
        assert reread == (0 if row == "as written" else 1)
    finally:
        second.close()


def test_a_create_proven_not_made_is_sent_again_after_answered_searches(
    studio: nm.Studio, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Searches whose list call failed prove nothing: three answered ones must agree that the
    create was not made; then the Studio that holds its request sends it again (a 5xx before
    the provider made the job must not cost the user the job), at most NOT_CREATED_RESENDS
    times, after which the job is `not_created`."""
    monkeypatch.setattr(C, "FIND_CREATED_WINDOW", 0.0)
    studio.provider("mercadream").api.max_retries = 0  # a failed list call fails the search
    start = len(sandbox.request_log)
    sandbox.faults.fail_next_requests(1, path="/mercadream/v2/speech")  # refused before made
    sandbox.faults.fail_next_requests(2, path="/mercadream/v2/jobs")  # the first two searches
    prompt = "Refused with a 503 before it was made."
    job = settle(studio, studio.speech(prompt, format="wav"))
    assert job.status is nm.JobStatus.SUCCEEDED and job.path is not None
    log = list(sandbox.request_log)[start:]
    creates = [r.status for r in log if r.method == "POST" and r.path.endswith("/v2/speech")]
    searches = [r.status for r in log if r.method == "GET" and r.path.endswith("/v2/jobs")]
    assert creates == [503, 201]  # sent again once proven not made
    assert searches[:2] == [503, 503] and searches.count(200) >= C.FIND_CREATED_TRIES
    made = [c for c in sandbox.audit()["created"] if c["id"] == job.id]
    assert len(made) == 1 and studio.ledger.get(job.local_id).id == job.id

    monkeypatch.setattr(C, "NOT_CREATED_RESENDS", 1)
    sandbox.faults.fail_next_requests(2, path="/mercadream/v2/speech")  # refused both times
    job = settle(studio, studio.speech("Refused twice.", format="wav"))
    assert job.status is nm.JobStatus.FAILED and job.error["code"] == "not_created"
    assert not studio.engine._unsent  # nothing kept for a job that ended


def test_a_create_left_unsent_by_a_stopped_studio_is_sent_by_the_next(
    tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row `sending` when its Studio died, whose create never reached the provider: the next
    Studio searches the list, finds it absent, and sends it from the ledger's record of the
    request (the old Studio's memory of it is gone), counting the re-sends in the ledger."""
    monkeypatch.setattr(C, "FIND_CREATED_WINDOW", 0.0)
    first = nm.Studio(root=tmp_path, sandbox=sandbox)
    job, request = first.prepare("mercadream", "speech", "Sent by the next Studio.", format="wav")
    first.engine._recorded_sending(first.engine.adopt(job), request)  # then the kernel died
    first.close()
    creates = requests_to(sandbox, "/mercadream/v2/speech", "POST")
    second = nm.Studio(root=tmp_path, sandbox=sandbox)
    try:
        again = settle(second, second.job(job.local_id), 120)
        assert again.status is nm.JobStatus.SUCCEEDED and again.path is not None
        assert again.path.read_bytes()[:4] == b"RIFF"
        assert requests_to(sandbox, "/mercadream/v2/speech", "POST") == creates + 1
        assert second.ledger.extra(job.local_id).get("resent") == 1
        made = [c for c in sandbox.audit()["created"] if c["id"] == again.id]
        assert len(made) == 1 and made[0]["label"] == "Sent by the next Studio."
    finally:
        second.close()


def test_a_new_studio_resumes_open_jobs_without_a_burst_of_requests(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """Notebook 07's restart: the jobs a Studio leaves (open, or finished meanwhile) are taken
    up by the next one on the folder with a few requests (the first build sometimes sent a
    thousand in seconds and ran into the plan's rate limit)."""
    first = nm.Studio(root=tmp_path, sandbox=sandbox)
    voice = first.speech("Made before the restart.", format="mp3")
    video = first.generate("A harbour at dawn", duration=15, resolution="720p")
    long_one = first.generate("A misty pine forest", provider="vimmerse", duration=10)
    voice.wait(60)
    ids = [video.id, long_one.id]
    first.close()
    start = time.time()
    second = nm.Studio(root=tmp_path, sandbox=sandbox)
    try:
        for id_ in ids:
            assert second.job(id_).wait(120).path.is_file()
    finally:
        second.close()
    made = [
        r.timestamp
        for r in sandbox.request_log
        if r.timestamp >= start and r.provider in ("mercadream", "vimmerse")
    ]
    busiest = max(sum(1 for u in made if t <= u < t + 1.0) for t in made)
    assert len(made) <= 40 and busiest <= 12, (len(made), busiest)


def test_a_new_job_expects_the_time_such_jobs_took_here(studio: nm.Studio) -> None:
    assert studio.engine.new_job("mercadream", "speech").expected_s is None  # no history yet
    first = studio.speech("How long does this take?", format="wav").wait(timeout=60)
    took = (first.completed_at - first.created_at).total_seconds()
    job = studio.speech("And this one?", format="wav")  # after a success: read again
    assert job.expected_s == pytest.approx(took) and not job.done
    assert studio.engine.new_job("mercadream", "music").expected_s is None  # another kind
    job.wait(timeout=60)


def test_a_create_after_the_studio_closed_is_refused_without_touching_the_ledger(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """A batch still sending when its Studio closes: the rows it had not sent stay planned (a
    new Studio sends them), and none fails on the closed ledger."""
    import asyncio

    studio = nm.Studio(root=tmp_path, sandbox=sandbox)
    job, request = studio.prepare("mercadream", "speech", "Too late.")
    studio.close()
    with pytest.raises(nm.NbmediaError, match="closed"):
        asyncio.run(studio.engine.send(job, request))


def test_a_sweep_takes_only_the_riders_it_has_news_of(
    studio: nm.Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Riders ride every sweep of their list where they are: the engine takes those the
    sweep read an answer or an error for, and leaves the quiet ones with no look at all (no
    listener call, no schedule moved: a thousand of them cost nothing each)."""
    from nbmedia.errors import ProviderError

    engine, tracker = studio.engine, studio.engine.tracker
    provider = studio.provider("meshapi")
    entries = []
    for i in range(5):
        job = engine.adopt(engine.new_job("meshapi", "video", prompt=f"ride {i}", request={}))
        provider.apply(job, {"id": f"cgt-r{i}", "status": "running", "created_at": 1})
        engine._record(job, Phase.FOLLOWING)
        tracker.follow(job, Phase.FOLLOWING, delay=3600, owned=True)
        entries.append(tracker.entry(job))
    tracker._stopped = True  # its own turns would sweep them: the test does
    for e in entries:
        e.riding = True
        tracker._riders.setdefault("meshapi", {})[e] = None
    schedules = [(e.next_at, e.interval, e.token) for e in entries]
    heard: list[nm.Job] = []
    engine.listeners.append(heard.append)
    jobs = [e.job for e in entries]

    async def two_of_five(swept_jobs: list[nm.Job], ended: object = None) -> Swept:
        assert swept_jobs == jobs  # the riders are swept, where they are
        swept = Swept()
        failed = {"status": "failed", "error": {"code": "content_policy_violation"}}
        provider.apply(swept.copy(jobs[1]), {**jobs[1].raw, **failed})
        swept.fail(jobs[3], ProviderError("meshapi", 502, "upstream_error", "upstream down"))
        return swept

    monkeypatch.setattr(provider, "sweep", two_of_five)
    engine.runner.run(engine.poll("meshapi", [], entries))
    assert jobs[1].status is nm.JobStatus.FAILED and tracker.entry(jobs[1]) is None
    assert entries[3].failures == 1 and "status check failed" in (jobs[3].note or "")
    assert [j.local_id for j in heard] == [jobs[1].local_id, jobs[3].local_id]
    quiet = [0, 2, 4]
    assert [(entries[i].next_at, entries[i].interval, entries[i].token) for i in quiet] == [
        schedules[i] for i in quiet
    ]
    assert all(entries[i].riding and not entries[i].failures for i in quiet)


def test_a_sweep_that_fails_leaves_be_a_job_it_took_before_failing(studio: nm.Studio) -> None:
    """A sweep can hand an ended job over at once (its download starts) and then fail on a
    later page: the failure backs off the jobs still followed, not that one."""
    from nbmedia.errors import ProviderError

    engine, tracker = studio.engine, studio.engine.tracker
    job = engine.adopt(engine.new_job("meshapi", "video", prompt="taken", request={}))
    studio.provider("meshapi").apply(job, {"id": "cgt-t", "status": "running", "created_at": 1})
    engine._record(job, Phase.FOLLOWING)
    tracker.follow(job, Phase.DOWNLOADING, delay=3600, owned=True)  # taken by the sweep
    entry = tracker.entry(job)
    down = ProviderError("meshapi", 502, "upstream_error", "upstream down")
    engine.poll_failed("meshapi", [entry], down)
    assert entry.failures == 0 and job.note is None and entry.phase == Phase.DOWNLOADING
    tracker.follow(job, Phase.FOLLOWING, delay=3600, owned=True)  # followed: it backs off
    engine.poll_failed("meshapi", [entry], down)
    assert entry.failures == 1 and "status check failed" in (job.note or "")


def test_a_sweep_that_read_nothing_new_moves_only_the_schedule(
    studio: nm.Studio, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A list row as it was last read changes nothing: the provider applies no answer, and the
    engine then only reschedules the job (no merge, no ledger write, no listener call: a
    sweep reads hundreds of unchanged jobs a second). A row that moved is absorbed."""
    from nbmedia.engine.jobs import Engine

    engine = studio.engine
    provider = studio.provider("meshapi")
    job = engine.adopt(engine.new_job("meshapi", "video", prompt="waves", request={}))
    provider.apply(job, {"id": "cgt-1", "status": "running", "created_at": 1, "updated_at": 0})
    engine._record(job, Phase.FOLLOWING)
    engine.tracker.follow(job, Phase.FOLLOWING, delay=3600, owned=True)  # swept by the test
    entry = engine.tracker.entry(job)
    absorbed: list[str] = []
    real_absorb = Engine._absorb

    def absorb(self: Engine, job: nm.Job, shadow: nm.Job, **kw: object) -> None:
        absorbed.append(job.local_id)
        real_absorb(self, job, shadow, **kw)

    monkeypatch.setattr(Engine, "_absorb", absorb)
    heard: list[nm.Job] = []
    engine.listeners.append(heard.append)

    async def as_last_read(jobs: list[nm.Job], ended: object = None) -> Swept:
        return Swept()  # every row was as last read: nothing copied

    monkeypatch.setattr(provider, "sweep", as_last_read)
    entry.interval = 3.0
    engine.runner.run(engine.poll("meshapi", [entry]))
    assert absorbed == [] and heard == []
    assert entry.next_at < time.monotonic() + 3600  # rescheduled from the sweep

    async def moved(jobs: list[nm.Job], ended: object = None) -> Swept:
        swept = Swept()
        for j in jobs:
            provider.apply(swept.copy(j), {**j.raw, "status": "running", "updated_at": 1})
        return swept

    monkeypatch.setattr(provider, "sweep", moved)
    engine.runner.run(engine.poll("meshapi", [entry]))
    assert absorbed == [job.local_id]
