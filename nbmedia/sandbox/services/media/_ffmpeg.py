"""The one way this package runs ffmpeg: the binary the imageio-ffmpeg wheel ships.

No system ffmpeg is assumed (Binder, CI and laptops differ); the path is looked up lazily so
importing the sandbox costs nothing.
"""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

RENDER_NICE = 10
"""How much lower than the sandbox's own threads ffmpeg runs: a provider renders on machines
of its own, so a render must not slow the API's answers (nor a kernel on the same cores)."""


class FFmpegError(RuntimeError):
    """ffmpeg exited non-zero; carries the tail of its stderr, which names the real cause."""


class RenderCancelled(BaseException):  # noqa: N818 (not an error: a stop)
    """The render's sandbox is stopping. A ``BaseException``, so that a provider's ``except
    Exception`` around its render (which logs a failure) lets it through to the pool."""


_local = threading.local()


class CancelScope:
    """The ffmpeg processes started by the threads that entered this scope (one sandbox's
    render threads): ``cancel()`` kills them, and every later ``run`` in the scope raises
    ``RenderCancelled`` instead of starting ffmpeg."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._procs: set[subprocess.Popen[bytes]] = set()
        self.cancelled = False

    @contextlib.contextmanager
    def entered(self) -> Iterator[CancelScope]:
        """The calling thread's ffmpeg runs belong to this scope until the block ends."""
        previous = getattr(_local, "scope", None)
        _local.scope = self
        try:
            yield self
        finally:
            _local.scope = previous

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            procs = list(self._procs)
        for proc in procs:
            with contextlib.suppress(OSError):
                proc.kill()

    def _add(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.add(proc)
            cancelled = self.cancelled
        if cancelled:  # cancelled while it was starting
            with contextlib.suppress(OSError):
                proc.kill()

    def _discard(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.discard(proc)


def check_cancelled() -> None:
    """Raise ``RenderCancelled`` if the calling thread's scope has been cancelled."""
    scope: CancelScope | None = getattr(_local, "scope", None)
    if scope is not None and scope.cancelled:
        raise RenderCancelled


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
    scope: CancelScope | None = getattr(_local, "scope", None)
    check_cancelled()
    popen = subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
    )
    _lower(popen.pid)
    if scope is not None:
        scope._add(popen)
    try:
        out, err = popen.communicate(input=stdin, timeout=timeout)
    except BaseException:  # a timeout (as subprocess.run: kill, reap, re-raise) or a signal
        popen.kill()
        popen.wait()
        raise
    finally:
        if scope is not None:
            scope._discard(popen)
    check_cancelled()  # killed by a stop: its exit status and stderr say nothing of the input
    proc = subprocess.CompletedProcess(cmd, popen.returncode, out, err)
    if check and proc.returncode != 0:
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-8:]
        raise FFmpegError(f"ffmpeg failed ({proc.returncode}): " + "\n".join(tail))
    return proc


def _lower(pid: int) -> None:
    """Lowers a render's CPU priority by RENDER_NICE (where the OS lets a process do so)."""
    if hasattr(os, "setpriority"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, pid, os.getpriority(os.PRIO_PROCESS, 0) + RENDER_NICE)


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
