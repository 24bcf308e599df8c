"""The ledger's WAL copied back into the database by a thread of its own.

SQLite checkpoints a WAL from inside whichever commit crosses its threshold (1,000 pages), and
that commit then copies megabytes and syncs the file: on the Studio's loop a write that usually
takes a fraction of a millisecond took 20 ms, and up to hundreds under disk load, every few
hundred status changes. With the automatic checkpoint off, this thread does the same work with
its own connection (PASSIVE: it never blocks a writer) once a second, off the loop.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger("nbmedia.ledger")

EVERY = 1.0
"""Seconds between checkpoints."""
WAL_LIMIT = 4 * 1024 * 1024
"""Bytes a WAL file is cut back to once checkpointed (SQLite's `journal_size_limit`)."""


class Checkpointer:
    """Checkpoints one SQLite file in WAL mode until stopped."""

    def __init__(self, path: Path, every: float | None = None) -> None:
        self.path = Path(path)
        self.every = EVERY if every is None else every
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"nbmedia-checkpoint-{self.path.name}", daemon=True
        )

    def __repr__(self) -> str:
        return f"<Checkpointer {self.path}>"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stops after one last checkpoint (the next Studio opens a short WAL)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            db = sqlite3.connect(self.path, timeout=10)
        except sqlite3.Error:
            log.warning("cannot open %s to checkpoint it", self.path, exc_info=True)
            return
        with contextlib.closing(db):
            while True:
                stopping = self._stop.wait(self.every)
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:  # busy or closed: the next round tries again
                    log.debug("checkpoint of %s skipped", self.path, exc_info=True)
                if stopping:
                    return
