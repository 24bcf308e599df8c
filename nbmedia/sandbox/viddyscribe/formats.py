"""The text outputs other than JSON: WebVTT, SRT and a CMX3600 EDL of the segments."""

from __future__ import annotations

from .describe import Segment


def _clock(t: float, sep: str = ".") -> str:
    ms = max(0, round(t * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _timecode(t: float, fps: int) -> str:
    frames = max(0, round(t * fps))
    s, f = divmod(frames, fps)
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h:02d}:{m:02d}:{s:02d}:{f:02d}"


def to_vtt(segments: list[Segment]) -> str:
    cues = [
        f"{i}\n{_clock(s.start)} --> {_clock(s.end)}\n{s.text}\n" for i, s in enumerate(segments, 1)
    ]
    return "WEBVTT\n\n" + "\n".join(cues)


def to_srt(segments: list[Segment]) -> str:
    return "\n".join(
        f"{i}\n{_clock(s.start, ',')} --> {_clock(s.end, ',')}\n{s.text}\n"
        for i, s in enumerate(segments, 1)
    )


def to_edl(segments: list[Segment], title: str, fps: float, clip: str) -> str:
    """CMX3600: one audio event per description, its text as a comment."""
    rate = max(1, round(fps))
    lines = [f"TITLE: {title}", "FCM: NON-DROP FRAME", ""]
    for i, s in enumerate(segments, 1):
        a, b = _timecode(s.start, rate), _timecode(s.end, rate)
        lines.append(f"{i:03d}  {'AX':<8} {'A':<5} {'C':<8} {a} {b} {a} {b}")
        lines.append(f"* FROM CLIP NAME: {clip}")
        lines.append(f"* COMMENT: {s.text}")
        lines.append("")
    return "\n".join(lines)
