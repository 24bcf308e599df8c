"""`python -m bench jobs-table [--n 100000]`: what reading a big ledger as a table costs.

A ledger of N finished jobs is built in a temporary folder through the engine's own write path
(`Ledger.record`): five providers and their kinds, main files and thumbnails with their links,
provider payloads of a few hundred bytes, failures with the provider's error code, jobs whose
create answer was lost (`unconfirmed`). Then, in this process, best of 3 each (taking turns):

- `studio.jobs()` beside a plain `pandas.read_sql` of the same columns, newest first (the
  ledger's columns that hold what the table shows: the main output's path and link where the
  ledger keeps them, else its outputs list), with the ratio and each one's peak of traced
  memory (tracemalloc, in a run of its own: tracing slows the timed runs);
- `studio.job(id)` by local id and by provider id, for jobs the Studio has not seen yet,
  beside a read of one row by its primary key.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import random
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

KINDS = {
    "mercadream": ["video", "speech", "music"],
    "vimmerse": ["video"],
    "meshapi": ["video"],
    "viddyscribe": ["describe"],
    "syncso": ["lipsync"],
}
FILES = {
    "video": ("video", "mp4"),
    "speech": ("audio", "mp3"),
    "music": ("audio", "wav"),
    "describe": ("captions", "vtt"),
    "lipsync": ("video", "mp4"),
}
"""Job kind → (its main output's kind, file extension)."""
ERRORS = {
    "mercadream": ("content_policy_violation", "The prompt was refused by the content policy."),
    "vimmerse": ("MEDIA_FAILED", "Rendering failed: the source image could not be decoded."),
    "meshapi": ("invalid_request", "duration must be one of 4, 5, 8, 10 for this model"),
    "viddyscribe": ("video_unreadable", "The uploaded video has no decodable video stream."),
    "syncso": ("GENERATION_FAILED", "No face was found in the first 5 seconds of the video."),
}
BEST_OF = 3
LOOKUPS = 20
"""Lookups of each kind for `studio.job(id)`, each of a job not looked up before."""


def _job(i: int, rng: random.Random, start: dt.datetime) -> Any:
    """One finished job of a realistic mix: 85% succeeded with files, 9% failed with the
    provider's error, 3% unconfirmed (no provider id), 3% cancelled or expired."""
    from nbmedia.models import Job, JobStatus, Output

    provider = rng.choice(list(KINDS))
    kind = rng.choice(KINDS[provider])
    created = start + dt.timedelta(seconds=i * 30 + rng.random())
    took = dt.timedelta(seconds=rng.uniform(5, 400))
    roll = rng.random()
    job = Job(
        provider=provider,
        kind=kind,
        id=f"{provider[:3]}_{i:08d}_{rng.getrandbits(32):08x}",
        prompt=f"Take {i}: a drone shot over snowy peaks at dawn, slow push-in, film grain",
        created_at=created,
        updated_at=created + took,
        completed_at=created + took,
        request={"prompt": "a drone shot", "duration": rng.choice([5, 10, 15]), "seed": i},
        local_id=f"nbm_{i:016x}",
        cost=round(rng.uniform(0.01, 2.5), 3),
        progress=1.0,
    )
    job.raw = {
        "id": job.id,
        "status": "completed",
        "model": f"{provider}-v2-turbo",
        "created_at": created.isoformat(),
        "completed_at": (created + took).isoformat(),
        "settings": {"resolution": "1080p", "fps": 24, "aspect_ratio": "16:9", "seed": i},
        "usage": {"credits": job.cost, "gpu_seconds": round(took.total_seconds(), 1)},
        "links": {"self": f"https://api.{provider}.example/v2/jobs/{job.id}"},
    }
    if roll < 0.85:
        job.status = JobStatus.SUCCEEDED
        out_kind, ext = FILES[kind]
        url = f"https://cdn.{provider}.example/{job.id}.{ext}?sig={rng.getrandbits(64):016x}"
        job.outputs = [Output(out_kind, url, path=Path(f"media/{provider}/{job.id}.{ext}"))]
        if out_kind == "video":
            thumb = Path(f"media/{provider}/{job.id}.jpg")
            job.outputs.append(Output("image", url + "&thumb=1", path=thumb, role="thumbnail"))
    elif roll < 0.94:
        job.status = JobStatus.FAILED
        code, message = ERRORS[provider]
        job.error = {"code": code, "message": message}
    elif roll < 0.97:
        job.status = JobStatus.UNCONFIRMED
        job.id, job.raw, job.cost, job.progress = None, None, None, None
        job.error = {
            "code": "create_answer_lost",
            "message": "The create may have reached the provider; attach it by its id.",
        }
    else:
        job.status = rng.choice([JobStatus.CANCELLED, JobStatus.EXPIRED])
        job.outputs = []
    return job


def build_ledger(root: Path, n: int, seed: int) -> None:
    """N finished jobs through `Ledger.record`, a few thousand per transaction."""
    from nbmedia import constants as C
    from nbmedia.engine.ledger import Ledger, Phase

    rng = random.Random(seed)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    ledger = Ledger(root / C.LEDGER_DIR / C.LEDGER_FILE)
    for first in range(0, n, 5000):
        with ledger.batch():
            for i in range(first, min(n, first + 5000)):
                ledger.record(_job(i, rng, start), Phase.DONE)
    ledger.close()


def plain_query(db: sqlite3.Connection) -> str:
    """The table's columns as the ledger stores them, newest first."""
    have = {r[1] for r in db.execute("PRAGMA table_info(jobs)")}
    outputs = "output_path, output_url" if "output_path" in have else "outputs"
    notebook = ", notebook" if "notebook" in have else ""
    return (
        "SELECT provider, id, kind, status, progress, prompt, created_at, updated_at, "
        f"completed_at, {outputs}, cost, error_code, error_message{notebook} FROM jobs "
        "ORDER BY created_at DESC, rowid DESC"
    )


def best(fns: list[Callable[[], Any]], times: int = BEST_OF) -> list[float]:
    """The fastest of `times` runs of each, in seconds; the runs take turns (a machine shared
    with other work slows them alike)."""
    took: list[list[float]] = [[] for _ in fns]
    for _ in range(times):
        for fn, runs in zip(fns, took, strict=True):
            gc.collect()
            t0 = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - t0)
    return [min(runs) for runs in took]


def peak_mb(fn: Callable[[], Any]) -> float:
    """Peak traced memory above the start of one run, in MB."""
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def lookup_ms(find: Callable[[str], Any], ids: list[str]) -> float:
    """Mean milliseconds per lookup, each id looked up once."""
    t0 = time.perf_counter()
    for id_ in ids:
        find(id_)
    return (time.perf_counter() - t0) / len(ids) * 1000


def run(n: int, seed: int) -> None:
    import pandas as pd

    import nbmedia as nm
    from nbmedia import constants as C

    with tempfile.TemporaryDirectory(prefix="nbm-bench-table-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        build_ledger(root, n, seed)
        print(f"ledger: {n} jobs built in {time.perf_counter() - t0:.1f} s", flush=True)
        studio = nm.Studio(root=root, sandbox=False)
        db = sqlite3.connect(root / C.LEDGER_DIR / C.LEDGER_FILE)
        try:
            query = plain_query(db)
            frame = studio.jobs()
            plain = pd.read_sql(query, db)
            assert len(frame) == len(plain) == n, (len(frame), len(plain))
            table_s, plain_s = best([studio.jobs, lambda: pd.read_sql(query, db)])
            table_mb = peak_mb(studio.jobs)
            plain_mb = peak_mb(lambda: pd.read_sql(query, db))
            print(
                f"studio.jobs(): {table_s:.3f} s, peak +{table_mb:.0f} MB | "
                f"pandas.read_sql: {plain_s:.3f} s, peak +{plain_mb:.0f} MB | "
                f"ratio {table_s / plain_s:.2f}x (goal <= 1.20x)"
            )
            rows = db.execute("SELECT local_id, id FROM jobs WHERE id IS NOT NULL").fetchall()
            picked = random.Random(seed).sample(rows, 2 * LOOKUPS)
            by_local = lookup_ms(studio.job, [r[0] for r in picked[:LOOKUPS]])
            by_remote = lookup_ms(studio.job, [r[1] for r in picked[LOOKUPS:]])
            pk_ms = lookup_ms(
                lambda i: db.execute("SELECT * FROM jobs WHERE local_id=?", (i,)).fetchone(),
                [r[0] for r in picked],
            )
            print(
                f"studio.job(id): local id {by_local:.2f} ms, provider id {by_remote:.2f} ms | "
                f"one row by primary key {pk_ms:.3f} ms"
            )
        finally:
            db.close()
            studio.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench jobs-table", description=__doc__)
    parser.add_argument("--n", type=int, default=100_000, help="jobs in the ledger")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    run(args.n, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
