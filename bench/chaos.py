"""`python -m bench chaos --n 1000`: nothing the user paid for is lost, under faults and a kill.

N jobs across all five providers and their kinds go out as one `studio.batch` from a worker
process, against the sandbox in its own process with a fault mix (5xx, dropped connections,
429 with Retry-After, malformed bodies, truncated and HTML downloads, dropped and duplicated
webhooks). At about half way the worker is SIGKILLed; a new worker on the same folder resumes.
Then the ledger and the media folder are compared with the sandbox's own records (its audit of
every job created and every file served) and one line of figures is printed:

- lost: the provider made it (and bills it) but no ledger row holds it and no row says
  `unconfirmed` (the honest "it may exist") for it
- double: one ledger row, two jobs made at the provider
- wrong: a terminal status in the ledger that the provider contradicts
- unverified: `succeeded` without its main files whole on disk
- twice: a file downloaded whole more than once (one served whole before the kill whose job
  had no file on disk when the worker died was in a socket or in memory: fetched again after
  the kill, it counts as `cut`, not twice)
- open: never terminal by the end

Scenarios (`--scenario`) each print their own line: `kill` (the default run above), `full-disk`
and `read-only` (the media folder on a tiny or read-only tmpfs, freed half way; needs root),
`malformed` (a third of all answers garbled), `two-studios` (two workers on one folder at once).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SPEED = 20.0
"""Sandbox clock speed: a 15 s video is done in under a second, plus its rendering."""
FAULTS = {
    "error_rate": 0.10,
    "drop_rate": 0.05,
    "rate_limit_rate": 0.10,
    "rate_limit_retry_after": 1,
    "malformed_rate": 0.02,
    "truncated_download_rate": 0.05,
    "html_download_rate": 0.02,
    "webhook_drop": 0.10,
    "webhook_duplicate": 0.05,
}
"""The issue's mix (10% 5xx, 5% drops, 10% 429, webhooks) plus the body and download faults."""
LIMITS = {"mercadream": 8, "vimmerse": 4, "meshapi": 6, "viddyscribe": 4, "syncso": 6}
"""Jobs in flight per provider (within the sandbox key's plans)."""
DEADLINE = 900.0
"""Seconds a run may take before whatever is still open counts as never terminal."""


def specs(n: int, inputs: dict[str, str]) -> list[dict[str, Any]]:
    """N request rows cycling through every provider and kind; each row's text is unique."""
    kinds = [
        {"provider": "mercadream", "kind": "speech", "format": "wav"},
        {"provider": "mercadream", "kind": "music", "duration": 15, "format": "mp3"},
        {"provider": "mercadream", "kind": "video", "duration": 15, "resolution": "720p"},
        {"provider": "vimmerse", "kind": "video", "duration": 2},
        {"provider": "meshapi", "kind": "video", "duration": 4, "resolution": "480p"},
        {"provider": "viddyscribe", "kind": "describe", "video": inputs["video"]},
        {"provider": "syncso", "kind": "lipsync", "video": inputs["video"],
         "audio": inputs["audio"]},
    ]  # fmt: skip
    rows = []
    for i in range(n):
        row = dict(kinds[i % len(kinds)])
        label = f"chaos {i:05d}"
        if row["provider"] == "viddyscribe":
            row["custom_instructions"] = f"Mention {label}."
        elif row["provider"] == "syncso":
            row["output_file_name"] = label.replace(" ", "_")
        else:
            row["text"] = f"{label}: a lighthouse keeper counts the waves"
        rows.append(row)
    return rows


# ---- the worker: one Studio process --------------------------------------------------------
def worker(root: str, url: str, plan: str, mode: str) -> None:
    """`submit`: plan the batch, then follow until killed or done; `resume`: follow what is
    left until every row is terminal."""
    import asyncio

    import pandas as pd

    import nbmedia as nm
    from nbmedia.sandbox import Sandbox

    studio = nm.Studio(root=root, sandbox=Sandbox.attach(url))
    if mode == "submit":
        rows = json.loads(Path(plan).read_text())
        studio.batch(pd.DataFrame(rows), limits=LIMITS)
        print("planned", len(rows), flush=True)
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        studio.engine.runner.run(asyncio.sleep(0.5))
        if not studio.ledger.open_rows():
            break
    studio.close()
    print("done", flush=True)


# ---- the driver ------------------------------------------------------------------------------
@dataclass
class Figures:
    scenario: str
    n: int
    lost: int = 0
    double: int = 0
    wrong: int = 0
    unverified: int = 0
    twice: int = 0
    open: int = 0
    cut: int = 0
    killed_at: float | None = None
    resumed_at: float | None = None
    """When the second worker started: a file served before it went to the killed one."""
    on_disk: set[str] = field(default_factory=set)
    """The media folder's file names when the worker was killed."""
    unconfirmed: int = 0
    failed: int = 0
    seconds: float = 0.0
    requests: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.lost or self.double or self.wrong or self.unverified or self.twice
                    or self.open)  # fmt: skip

    def line(self) -> str:
        return (
            f"{self.scenario:<12} n={self.n:<5} lost={self.lost} double={self.double} "
            f"wrong={self.wrong} unverified={self.unverified} twice={self.twice} "
            f"open={self.open} | unconfirmed={self.unconfirmed} failed={self.failed} "
            f"cut={self.cut} "
            f"requests/job={self.requests / max(1, self.n):.1f} time={self.seconds:.0f}s"
        )


class SandboxProcess:
    """The sandbox in its own process (its CPU is not the Studio's)."""

    def __init__(self, seed: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nbmedia.sandbox", "--port", "0", "--speed", str(SPEED),
             "--seed", str(seed)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
        )  # fmt: skip
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline()
        self.url = next(w for w in first.split() if w.startswith("http://"))
        from nbmedia.sandbox import Sandbox

        self.box = Sandbox.attach(self.url)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _spawn(root: Path, url: str, plan: Path, mode: str, log: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.chaos", "--worker", mode, "--root", str(root), "--url", url,
         "--plan", str(plan)],
        stdout=log.open("a"), stderr=subprocess.STDOUT, text=True, cwd=ROOT,
    )  # fmt: skip


def _ledger_rows(root: Path) -> list[sqlite3.Row]:
    path = root / ".nbmedia" / "ledger.sqlite"
    if not path.exists():
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    db.row_factory = sqlite3.Row
    try:
        return list(db.execute("SELECT * FROM job_rows"))
    except sqlite3.OperationalError:
        return []
    finally:
        db.close()


def _sent(root: Path) -> int:
    return sum(r["phase"] in ("following", "downloading", "done") for r in _ledger_rows(root))


def inputs_for(folder: Path) -> dict[str, str]:
    """A 2 s video and a 2 s voice-like tone, made once with ffmpeg."""
    import imageio_ffmpeg

    folder.mkdir(parents=True, exist_ok=True)
    video, audio = folder / "talk.mp4", folder / "voice.wav"
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    if not video.exists():
        subprocess.run(
            [ffmpeg, "-y", "-loglevel", "error", "-f", "lavfi", "-i",
             "testsrc=size=320x240:rate=24:duration=2", "-f", "lavfi", "-i",
             "sine=frequency=220:duration=2", "-shortest", "-pix_fmt", "yuv420p",
             "-c:v", "libx264", "-c:a", "aac", str(video)],
            check=True,
        )  # fmt: skip
    if not audio.exists():
        subprocess.run(
            [ffmpeg, "-y", "-loglevel", "error", "-f", "lavfi", "-i",
             "sine=frequency=180:duration=2", str(audio)],
            check=True,
        )  # fmt: skip
    return {"video": str(video), "audio": str(audio)}


def run(
    n: int,
    scenario: str = "kill",
    *,
    seed: int = 1,
    workdir: Path | None = None,
    faults: dict[str, Any] | None = None,
) -> Figures:
    """One chaos run; returns its figures (also used by the test suite with a small N)."""
    tmp = tempfile.TemporaryDirectory(prefix="nbmedia-chaos-") if workdir is None else None
    base = Path(tmp.name) if tmp else Path(workdir)  # type: ignore[arg-type]
    root = base / "studio"
    root.mkdir(parents=True, exist_ok=True)
    plan = base / "plan.json"
    plan.write_text(json.dumps(specs(n, inputs_for(base / "inputs"))))
    log = base / "workers.log"
    box = SandboxProcess(seed)
    mounted = False
    figures = Figures(scenario, n)
    started = time.monotonic()
    try:
        mix = dict(FAULTS if faults is None else faults)
        if scenario == "malformed":
            mix["malformed_rate"] = 0.3
        for knob, value in mix.items():
            setattr(box.box.faults, knob, value)
        if scenario in ("full-disk", "read-only"):
            mounted = _mount_media(root, scenario)
        first = _spawn(root, box.url, plan, "submit", log)
        if scenario == "two-studios":
            time.sleep(2.0)
            second = _spawn(root, box.url, plan, "resume", log)
            _wait_all(started, [first, second])
        else:
            freed = False
            while first.poll() is None and time.monotonic() - started < DEADLINE:
                sent = _sent(root)
                if scenario == "kill" and sent >= n // 2:
                    figures.killed_at = time.time()
                    first.send_signal(signal.SIGKILL)
                    first.wait()
                    figures.on_disk = _saved_names(root)
                    figures.notes.append(f"killed after {sent} of {n} were sent")
                    break
                if mounted and not freed and sent >= n // 2:
                    _unmount_fault(root, scenario)
                    freed = True
                time.sleep(0.2)
            if mounted and not freed:
                _unmount_fault(root, scenario)
            if scenario == "kill":
                figures.resumed_at = time.time()
                second = _spawn(root, box.url, plan, "resume", log)
                _wait_all(started, [second])
            else:
                _wait_all(started, [first])
        figures.seconds = time.monotonic() - started
        for knob in mix:
            default = [] if knob == "malformed_kinds" else 0
            with contextlib.suppress(Exception):
                setattr(box.box.faults, knob, 1 if knob == "rate_limit_retry_after" else default)
        audit = box.box.audit()
        figures.requests = len(box.box.request_log)
        compare(figures, _ledger_rows(root), audit, root)
    finally:
        box.stop()
        if mounted:
            subprocess.run(["umount", str(root / "media")], capture_output=True, check=False)
        if tmp is not None:
            tmp.cleanup()
    return figures


def _wait_all(started: float, workers: list[subprocess.Popen[str]]) -> None:
    while time.monotonic() - started < DEADLINE + 60:
        if all(w.poll() is not None for w in workers):
            return
        time.sleep(0.5)
    for w in workers:
        w.kill()


def _mount_media(root: Path, scenario: str) -> bool:
    media = root / "media"
    media.mkdir(parents=True, exist_ok=True)
    opts = "size=64k" if scenario == "full-disk" else "ro,size=64m"
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(media)], capture_output=True
    )
    if done.returncode:
        raise SystemExit(f"{scenario} needs root to mount a tmpfs: {done.stderr.decode()}")
    return True


def _unmount_fault(root: Path, scenario: str) -> None:
    opts = "remount,size=512m" if scenario == "full-disk" else "remount,rw"
    subprocess.run(["mount", "-o", opts, str(root / "media")], capture_output=True, check=False)


def compare(figures: Figures, rows: list[sqlite3.Row], audit: dict[str, Any], root: Path) -> None:
    """The ledger and media folder against the sandbox's records."""
    from nbmedia.engine.downloads import _looks_like
    from nbmedia.models import Output
    from nbmedia.providers import REGISTRY

    made: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in audit["created"]:
        made[_norm(c.get("label")) or f"{c['provider']}:{c['id']}"].append(c)
    by_id = {(c["provider"], c["id"]): c for c in audit["created"]}
    labels = [_label(r) for r in rows]
    for row, label in zip(rows, labels, strict=True):
        jobs = made.get(label, [])
        status = row["status"]
        if len(jobs) > 1:
            figures.double += 1
        if jobs and row["id"] not in {j["id"] for j in jobs} and status != "unconfirmed":
            figures.lost += 1
            figures.notes.append(f"lost: {row['provider']} {label} ({status})")
        if row["phase"] != "done":
            figures.open += 1
            continue
        figures.unconfirmed += status == "unconfirmed"
        figures.failed += status == "failed"
        theirs = by_id.get((row["provider"], row["id"])) if row["id"] else None
        if theirs is not None and theirs.get("status") is not None:
            mapped = REGISTRY[row["provider"]].statuses.get(theirs["status"])
            if mapped is not None and mapped.value != status and mapped.terminal:
                figures.wrong += 1
                figures.notes.append(f"wrong: {row['id']} ours {status}, theirs {theirs['status']}")
        if status == "succeeded":
            for out in json.loads(row["outputs"]):
                if out.get("role") != "main":
                    continue
                path = root / out["path"] if out.get("path") else None
                if path is not None and not path.is_absolute():
                    path = Path(os.getcwd()) / path
                ok = path is not None and path.is_file() and path.stat().st_size > 0
                if ok:
                    head = path.read_bytes()[:64]
                    ok = _looks_like(head, Output(out["kind"], out.get("url"), out.get("mime")))
                if not ok:
                    figures.unverified += 1
                    figures.notes.append(f"unverified: {row['id']} {out.get('path')}")
    owner = {name: c["id"] for c in audit["created"] for name in c.get("outputs") or ()}
    whole: dict[str, list[float]] = defaultdict(list)
    for s in audit["served"]:
        if s["complete"] and s["method"] == "GET":
            whole[s["name"]].append(_epoch(s["at"]))
    for name, times in whole.items():
        if len(times) < 2:
            continue
        if figures.resumed_at is not None and len(times) == 2:
            first, again = sorted(times)
            saved = _saved_at_kill(figures.on_disk, owner.get(name), name)
            if first <= figures.resumed_at < again and not saved:
                figures.cut += 1  # not on disk at the kill: fetched again, as it must be
                continue
        figures.twice += 1
        when = ", ".join(
            f"{t - figures.killed_at:+.1f} s" if figures.killed_at else f"{t - times[0]:+.1f} s"
            for t in sorted(times)
        )
        figures.notes.append(
            f"twice: {name} (served whole at {when}"
            + (" from the kill)" if figures.killed_at else " from the first)")
        )
    figures.notes.extend(f"unmatched created: {k}" for k in made if k not in set(labels))


def _saved_names(root: Path) -> set[str]:
    media = root / "media"
    return {p.name for p in media.rglob("*") if p.is_file()} if media.is_dir() else set()


def _saved_at_kill(on_disk: set[str], job_id: str | None, served: str) -> bool:
    """Whether a file of the job's, of the served file's type, was saved when the worker died
    (media/<provider>/<id>[.<role>].<ext>; `.part` files are not saved ones)."""
    from nbmedia.engine.downloads import _safe

    if job_id is None:
        return True  # not the sandbox's: no excuse
    stem, ext = _safe(job_id) + ".", "." + served.rsplit(".", 1)[-1]
    return any(n.startswith(stem) and n.endswith(ext) for n in on_disk)


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _label(row: sqlite3.Row) -> str:
    """The unique `chaos NNNNN` a row's request carries (in its text, instructions or name)."""
    return _norm(f"{row['prompt']} {row['request']}")


def _norm(text: str | None) -> str:
    found = LABEL.search(text or "")
    return f"chaos {found.group(1)}" if found else ""


LABEL = re.compile(r"chaos[ _](\d{5})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench chaos", description=__doc__)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--scenario",
        action="append",
        choices=["kill", "full-disk", "read-only", "malformed", "two-studios"],
    )
    parser.add_argument("--worker", choices=["submit", "resume"])
    parser.add_argument("--root")
    parser.add_argument("--url")
    parser.add_argument("--plan")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.root, args.url, args.plan, args.worker)
        return 0
    clean = True
    for scenario in args.scenario or ["kill"]:
        figures = run(args.n, scenario, seed=args.seed)
        print(figures.line(), flush=True)
        for note in figures.notes if args.verbose else figures.notes[:10]:
            print("   ", note)
        clean = clean and figures.clean
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
