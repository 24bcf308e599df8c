"""Inspect media files in tests, independently of the sandbox's own code.

Deliberately shares nothing with `nbmedia.sandbox.services.media`: a misreading there must not be
confirmed by the same misreading here. Only the imageio-ffmpeg binary is common ground.

    probe(path)      -> {'duration', 'video': {codec, width, height, fps} | None,
                         'audio': {codec, sample_rate, channels} | None}
    decode_audio(p)  -> (mono float32 samples, rate)
    audio_rms(p)     -> float (0 = silence)
    frame(p, t)      -> (h, w, 3) uint8 RGB
    fingerprint(b)   -> '<N bytes, sha256 …, b'first 16'…>' for a failure message
    assert_same_bytes / assert_different_bytes / assert_lacks: byte checks that fail with a
                        fingerprint, never with the body itself
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def _ffmpeg(*args: str | Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [FFMPEG, "-hide_banner", "-nostdin", *map(str, args)],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def info_text(path: Path) -> str:
    """What `ffmpeg -i` says about the file (it exits 1: no output was given)."""
    assert Path(path).is_file(), f"missing file {path}"
    text = _ffmpeg("-i", path).stderr.decode(errors="replace")
    assert "Input #0" in text, f"ffmpeg cannot read {path}: {text[-300:]}"
    return text


def probe(path: Path) -> dict:
    text = info_text(path)
    m = re.search(r"Duration: (\d+):(\d\d):(\d\d\.\d+)", text)
    duration = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3]) if m else None
    video = audio = None
    for line in text.splitlines():
        v = re.search(r"Stream #.*?Video: (\w+).*?, (\d+)x(\d+)\b", line)
        if v and video is None and "attached pic" not in line:
            fps = re.search(r"([\d.]+) fps", line) or re.search(r"([\d.]+) tbr", line)
            sar = re.search(r"SAR (\d+):(\d+)", line)
            video = {
                "codec": v[1],
                "width": int(v[2]),
                "height": int(v[3]),
                "fps": float(fps[1]) if fps else None,
                "sar": (int(sar[1]), int(sar[2])) if sar else (1, 1),
            }
        a = re.search(r"Stream #.*?Audio: (\w+).*?(\d+) Hz, ([^,]+)", line)
        if a and audio is None:
            layout = a[3].strip()
            n = re.match(r"(\d+) channels", layout)
            named = {"mono": 1, "stereo": 2, "5.1": 6}.get(layout.split("(")[0])
            channels = int(n[1]) if n else named
            audio = {"codec": a[1], "sample_rate": int(a[2]), "channels": channels}
    return {"duration": duration, "video": video, "audio": audio}


def decode_audio(path: Path, rate: int | None = None) -> tuple[np.ndarray, int]:
    """Mono float32 of the first audio stream, resampled to `rate` if given."""
    if rate is None:
        audio = probe(path)["audio"]
        assert audio is not None, f"{path} has no audio"
        rate = audio["sample_rate"]
    proc = _ffmpeg("-i", path, "-vn", "-ac", "1", "-ar", str(rate), "-f", "f32le", "-")
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-500:]
    return np.frombuffer(proc.stdout, dtype="<f4"), rate


def audio_rms(path: Path) -> float:
    samples, _ = decode_audio(path)
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) if samples.size else 0.0


def frame(path: Path, t: float) -> np.ndarray:
    """The decoded RGB frame at `t` seconds."""
    v = probe(path)["video"]
    assert v is not None, f"{path} has no video"
    w, h = v["width"], v["height"]
    proc = _ffmpeg(
        "-ss", f"{t:.3f}", "-i", path, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"
    )  # fmt: skip
    assert len(proc.stdout) >= w * h * 3, f"no frame at {t}s in {path}"
    return np.frombuffer(proc.stdout[: w * h * 3], dtype=np.uint8).reshape(h, w, 3)


def count_frames(path: Path) -> int:
    """Frames actually decodable (not what the header claims)."""
    frames, _secs = imageio_ffmpeg.count_frames_and_secs(str(path))
    return frames


def tempo(samples: np.ndarray, rate: int, lo: float = 60.0, hi: float = 180.0) -> float:
    """Beats per minute from the autocorrelation of an onset envelope.

    The envelope is the rise in short-time energy below ~200 Hz (kick and bass), hop 5 ms; the
    answer is the shortest lag whose autocorrelation is within 10% of the best in [lo, hi] bpm,
    so a bar-length repeat is not mistaken for the beat.
    """
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)
    spectrum = np.fft.rfft(x)
    spectrum[np.fft.rfftfreq(len(x), 1 / rate) > 200] = 0
    low = np.fft.irfft(spectrum, len(x))
    hop = rate // 200
    n = len(low) // hop
    energy = np.log1p(1e3 * (low[: n * hop].reshape(n, hop) ** 2).mean(axis=1))
    onset = np.maximum(np.diff(energy), 0)
    onset -= onset.mean()
    ac = np.fft.irfft(np.abs(np.fft.rfft(onset, 2 * len(onset))) ** 2)[: len(onset)]
    lags = np.arange(len(ac))
    window = (lags >= 60 / hi * 200) & (lags <= 60 / lo * 200)
    best = ac[window].max()
    lag = int(lags[window & (ac >= 0.9 * best)][0])
    while lag + 1 < len(ac) and ac[lag + 1] > ac[lag]:  # climb to the local peak
        lag += 1
    a, b, c = ac[lag - 1], ac[lag], ac[lag + 1]
    shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) else 0.0
    return 60.0 * 200 / (lag + shift)


def fingerprint(data: bytes) -> str:
    """Bytes as a failure message shows them: size, a SHA-256 prefix and the first 16 bytes.

    A media body in an assertion's message or introspection buries the failure under
    hundreds of kilobytes of escapes.
    """
    digest = hashlib.sha256(data).hexdigest()[:16]
    return f"<{len(data)} bytes, sha256 {digest}, {data[:16]!r}{'…' if len(data) > 16 else ''}>"


# These raise instead of returning a bool: pytest's assertion introspection would print the
# arguments of a bool helper called in an `assert` (`where False = same(b'…', b'…')`).
def assert_same_bytes(actual: bytes, expected: bytes, what: str = "bytes") -> None:
    """`actual == expected`, failing with where they first differ and two fingerprints."""
    if actual != expected:
        at = next(
            (i for i, (a, b) in enumerate(zip(actual, expected, strict=False)) if a != b),
            min(len(actual), len(expected)),
        )
        raise AssertionError(
            f"{what} differ from byte {at}: got {fingerprint(actual)}, "
            f"expected {fingerprint(expected)}"
        )


def assert_different_bytes(a: bytes, b: bytes, what: str = "bytes") -> None:
    """`a != b`, failing with the fingerprint they share."""
    if a == b:
        raise AssertionError(f"{what} are identical: {fingerprint(a)}")


def assert_lacks(data: bytes, needle: bytes, what: str = "bytes") -> None:
    """`needle not in data`, failing with where it is and the data's fingerprint."""
    at = data.find(needle)
    if at >= 0:
        raise AssertionError(f"{what} contain {needle!r} at byte {at}: {fingerprint(data)}")


def tone(path: Path, seconds: float, rate: int = 16000) -> Path:
    """A WAV file of a 440 Hz tone (an audio input with no video stream)."""
    import wave

    import numpy as np

    t = np.arange(int(seconds * rate)) / rate
    samples = (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return path
