"""Duration and streams of a local audio/video file, to check documented input limits before
sending.

Uses the ffmpeg binary the imageio-ffmpeg wheel ships (already a dependency); WAV needs nothing.
"""

from __future__ import annotations

import functools
import re
import subprocess
import wave
from pathlib import Path

_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_STREAM = re.compile(r"Stream #\d+:\d+\S*: (Video|Audio):")


def duration(path: Path) -> float | None:
    """Seconds of media in `path`, or None if it cannot be read."""
    path = Path(path)
    if path.suffix.lower() == ".wav":
        try:
            with wave.open(str(path)) as w:
                return w.getnframes() / float(w.getframerate())
        except (wave.Error, EOFError, OSError):
            pass
    m = _DURATION.search(_ffmpeg_info(path))
    if not m:
        return None
    h, mnt, s = m.groups()
    return int(h) * 3600 + int(mnt) * 60 + float(s)


def streams(path: Path) -> set[str] | None:
    """The kinds of streams in `path` ("video", "audio"), or None if it cannot be read."""
    path = Path(path)
    if path.suffix.lower() == ".wav":
        try:
            with wave.open(str(path)):
                return {"audio"}
        except (wave.Error, EOFError, OSError):
            pass
    info = _ffmpeg_info(path)
    if "Input #0" not in info:
        return None
    return {kind.lower() for kind in _STREAM.findall(info)}


def _ffmpeg_info(path: Path) -> str:
    """What `ffmpeg -i` says of a file (on stderr): its container, duration and streams; asked
    once per version of the file (a form validates as the user types)."""
    try:
        stat = path.stat()
    except OSError:
        return ""
    return _ask_ffmpeg(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=64)
def _ask_ffmpeg(path: str, _mtime_ns: int, _size: int) -> str:
    import imageio_ffmpeg

    proc = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", path],
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
    )
    return proc.stderr
