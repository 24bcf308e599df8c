"""What is in a media file, read with the wheel's ffmpeg (there is no ffprobe in the wheel).

The sandbox uses this to validate uploads and to answer with real durations and sizes.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from . import _ffmpeg

_DURATION = re.compile(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)")
_STREAM = re.compile(r"^\s*Stream #\d+:\d+.*?: (Video|Audio): (.*)$", re.M)
_SIZE = re.compile(r"(?<![\dx])(\d{1,5})x(\d{1,5})(?![\dx])")
_FPS = re.compile(r"([\d.]+)(k?) (?:fps|tbr)")
_RATE = re.compile(r"(\d+) Hz")
_LAYOUTS = {"mono": 1, "stereo": 2, "2.1": 3, "quad": 4, "4.0": 4, "5.0": 5, "5.1": 6, "7.1": 8}


def _info_text(path: Path) -> str:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(path)
    # Without an output ffmpeg exits 1 after printing the input's description: expected.
    proc = _ffmpeg.run(["-i", path.absolute()], check=False)
    text = _ffmpeg.stderr_text(proc)
    if "Input #0" not in text:
        tail = text.strip().splitlines()[-1:] or ["no output"]
        raise ValueError(f"{path} is not a media file ffmpeg can read: {tail[0]}")
    return text


def probe(path: Path) -> dict:
    """{'duration': s, 'video': {'codec','width','height','fps'} | None,
    'audio': {'codec','sample_rate','channels'} | None} for the first stream of each kind."""
    text = _info_text(path)
    video = audio = None
    for kind, desc in _STREAM.findall(text):
        codec = desc.split(",")[0].split()[0]
        if kind == "Video" and video is None and "attached pic" not in desc:
            size = _SIZE.search(desc)
            fps = _FPS.search(desc)
            video = {
                "codec": codec,
                "width": int(size[1]) if size else 0,
                "height": int(size[2]) if size else 0,
                "fps": float(fps[1]) * (1000 if fps[2] else 1) if fps else 0.0,
            }
        elif kind == "Audio" and audio is None:
            rate = _RATE.search(desc)
            fields = [f.strip() for f in desc.split(",")]
            channels = 0
            for f in fields[1:]:
                m = re.fullmatch(r"(\d+) channels(?: \(.*\))?", f)
                if m:
                    channels = int(m[1])
                elif f.split("(")[0] in _LAYOUTS:
                    channels = _LAYOUTS[f.split("(")[0]]
                if channels:
                    break
            audio = {
                "codec": codec,
                "sample_rate": int(rate[1]) if rate else 0,
                "channels": channels,
            }
    m = _DURATION.search(text)
    duration = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3]) if m else _decoded_duration(path)
    return {"duration": duration, "video": video, "audio": audio}


def _decoded_duration(path: Path) -> float:
    """Duration by decoding, for streams whose container states none ('Duration: N/A')."""
    proc = _ffmpeg.run(["-i", Path(path).absolute(), "-f", "null", "-"], check=False)
    times = re.findall(r"time=(\d+):(\d+):(\d+(?:\.\d+)?)", _ffmpeg.stderr_text(proc))
    if not times:
        return 0.0
    h, m, s = times[-1]
    return int(h) * 3600 + int(m) * 60 + float(s)


def decode_audio(path: Path, rate: int | None = None) -> tuple[np.ndarray, int]:
    """Mono float32 samples (-1..1) of the first audio stream, at `rate` or the file's own."""
    if rate is None:
        info = probe(path)
        if info["audio"] is None:
            raise ValueError(f"{path} has no audio stream")
        rate = info["audio"]["sample_rate"] or 44100
    proc = _ffmpeg.run(
        ["-i", Path(path).absolute(), "-map", "0:a:0", "-ac", "1", "-ar", str(rate)]
        + ["-f", "f32le", "-c:a", "pcm_f32le", "pipe:1"]
    )
    return np.frombuffer(proc.stdout, dtype="<f4").copy(), rate


def audio_rms(path: Path) -> float:
    """Root mean square of the decoded mono signal (0 = silence, ~0.1 = speech or music)."""
    samples, _ = decode_audio(path)
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if len(samples) else 0.0


def frame_at(path: Path, t: float) -> np.ndarray:
    """The RGB frame (h, w, 3 uint8) shown at `t` seconds."""
    info = probe(path)
    if info["video"] is None:
        raise ValueError(f"{path} has no video stream")
    w, h = info["video"]["width"], info["video"]["height"]
    proc = _ffmpeg.run(
        ["-ss", f"{max(0.0, t):.3f}", "-i", Path(path).absolute(), "-frames:v", "1"]
        + ["-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
    )
    if len(proc.stdout) < w * h * 3:
        raise ValueError(f"no frame at {t} s in {path}")
    return np.frombuffer(proc.stdout[: w * h * 3], dtype=np.uint8).reshape(h, w, 3)


def scene_changes(path: Path, threshold: float = 0.3) -> list[float]:
    """Times (s) where the picture cuts: ffmpeg's scene score above `threshold` (0..1)."""
    proc = _ffmpeg.run(
        ["-i", Path(path).absolute(), "-an", "-sn", "-dn"]
        + ["-vf", f"select='gt(scene,{threshold})',showinfo", "-f", "null", "-"]
    )
    text = _ffmpeg.stderr_text(proc)
    return [float(t) for t in re.findall(r"Parsed_showinfo.*?pts_time:\s*([\d.]+)", text)]
