"""Render once per distinct request: a job whose output would be byte for byte an earlier job's
gets hard links to that job's files (under its own names) instead of a new render. Rendering
real media for every job is what a thousand-job benchmark on two cores cannot afford.

The provider module that knows its renderer builds the key: the provider, the kind, every
request field the renderer reads, the seed, and the digests of the input files
(``file_digest``). A field left out would let two different requests share media, so a key
errs on the side of including one (at worst, two requests that could share do not).
Identical keys rendering at the same time render once: the others wait on the key's lock.

Kept files live in a hidden folder of the store (never served), linked, so a job's own files
can be deleted without losing the cache; everything goes when the store is closed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("nbmedia.sandbox.rendercache")

Meta = dict[str, Any]
"""JSON-able facts a render learns and a job reports (e.g. the tempo music was composed at)."""

_CHUNK = 1 << 20


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes (an input's identity in a key)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def key_digest(key: Any) -> str:
    """SHA-256 of the key as canonical JSON (sorted keys): equal keys, equal digests."""
    text = json.dumps(key, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class _Entry:
    files: dict[str, Path]
    meta: str
    """The render's ``Meta`` as JSON (each hit gets its own copy)."""


class RenderCache:
    """Rendered outputs by key; thread-safe (the render pool calls it from several threads)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._key_locks: dict[str, threading.Lock] = {}
        self.renders = 0
        """Renders made (cache misses)."""
        self.hits = 0
        """Jobs served from an earlier render."""

    def render(
        self, key: Any, outputs: Mapping[str, Path], make: Callable[[], Meta | None]
    ) -> Meta:
        """Fill ``outputs`` (role -> this job's path): with links to an identical earlier
        render's files, else by calling ``make``, which must write every one of them. Returns
        what ``make`` returned (``{}`` for ``None``)."""
        digest = key_digest({"key": key, "outputs": sorted(outputs)})
        with self._lock:
            key_lock = self._key_locks.setdefault(digest, threading.Lock())
        with key_lock:
            with self._lock:
                entry = self._entries.get(digest)
            if entry is not None:
                try:
                    for role, path in outputs.items():
                        _link(entry.files[role], Path(path))
                except OSError:
                    log.warning("render cache: reusing %s failed; rendering again", digest[:12])
                else:
                    with self._lock:
                        self.hits += 1
                    return json.loads(entry.meta)
            meta = make() or {}
            kept: dict[str, Path] = {}
            for role, path in outputs.items():
                if not Path(path).is_file():
                    raise RuntimeError(f"the render wrote no {role} file ({Path(path).name})")
                kept[role] = self.root / f"{digest}.{role}"
                _link(Path(path), kept[role])
            with self._lock:
                self.renders += 1
                self._entries[digest] = _Entry(kept, json.dumps(meta))
            return meta

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"renders": self.renders, "hits": self.hits, "entries": len(self._entries)}

    def __repr__(self) -> str:
        s = self.stats()
        return f"<RenderCache {s['entries']} entries, {s['renders']} renders, {s['hits']} hits>"


def _link(source: Path, target: Path) -> None:
    """``target`` becomes the same file as ``source`` (a hard link, else a copy), atomically:
    a reader never sees half a file."""
    part = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        try:
            os.link(source, part)
        except OSError:  # another filesystem, or no hard links here
            shutil.copyfile(source, part)
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
