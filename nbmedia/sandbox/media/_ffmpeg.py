"""The one way this package runs ffmpeg: the binary the imageio-ffmpeg wheel ships.

No system ffmpeg is assumed (Binder, CI and laptops differ); the path is looked up lazily so
importing the sandbox costs nothing.
"""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path


class FFmpegError(RuntimeError):
    """ffmpeg exited non-zero; carries the tail of its stderr, which names the real cause."""


@functools.cache
def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def run(
    args: Sequence[str | Path],
    *,
    stdin: bytes | None = None,
    cwd: Path | None = None,
    check: bool = True,
    timeout: float | None = 600,
) -> subprocess.CompletedProcess[bytes]:
    """Run ffmpeg with `args` (no binary name), quiet banner, never interactive."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-y"] + (["-nostdin"] if stdin is None else [])
    cmd += [str(a) for a in args]
    proc = subprocess.run(
        cmd,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        cwd=cwd,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-8:]
        raise FFmpegError(f"ffmpeg failed ({proc.returncode}): " + "\n".join(tail))
    return proc


def stderr_text(proc: subprocess.CompletedProcess[bytes]) -> str:
    return proc.stderr.decode(errors="replace")


@contextlib.contextmanager
def atomic(path: Path) -> Iterator[Path]:
    """A temporary sibling of `path` to write to, renamed onto `path` only on success.

    The sandbox serves files while other jobs render; a reader must never see half a file.
    """
    path = Path(path).absolute()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
