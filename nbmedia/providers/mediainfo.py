"""Duration of a local audio/video file, for checking documented input limits before sending.

Uses the ffmpeg binary the imageio-ffmpeg wheel ships (already a dependency); WAV needs nothing.
"""

from __future__ import annotations

import re
import subprocess
import wave
from pathlib import Path

_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")


def duration(path: Path) -> float | None:
    """Seconds of media in `path`, or None if it cannot be read."""
    path = Path(path)
    if path.suffix.lower() == ".wav":
        try:
            with wave.open(str(path)) as w:
                return w.getnframes() / float(w.getframerate())
        except (wave.Error, EOFError, OSError):
            pass
    import imageio_ffmpeg

    proc = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    m = _DURATION.search(proc.stderr)
    if not m:
        return None
    h, mnt, s = m.groups()
    return int(h) * 3600 + int(mnt) * 60 + float(s)
