"""A job's outputs, made for real in the render pool: the description in its format, the
narration track, the described MP4; an identical earlier job's files when there is one."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from ..kit.env import Env
from .analysis import Analysis, analyze
from .catalog import FORMATS, VOLUME_DB_DEFAULT
from .contract import JOB_FAILURE_CODE, NAME
from .describe import Segment, describe
from .formats import to_edl, to_srt, to_vtt
from .job import Job
from .media import Media
from .speech import ORIGINAL_AUDIO_GAIN, described_video, speak_track

log = logging.getLogger("nbmedia.sandbox.viddyscribe")


def render(job: Job, env: Env) -> None:
    """Make the job's outputs (in the render pool); it is done only after this."""
    try:
        _render_outputs(job, env)
    except Exception as exc:
        log.exception("rendering %s failed", job.id)
        job.lifecycle.fail(JOB_FAILURE_CODE, f"Generating the description failed: {exc}")
        return
    job.lifecycle.output_ready()


def _analysis(media: Media) -> Analysis:
    with media.lock:
        if media.analysis is None:
            assert media.info is not None
            media.analysis = analyze(media.path, media.info)
        return media.analysis


def _digest(media: Media) -> str:
    from ..services.rendercache import file_digest

    with media.lock:
        if media.digest is None:
            media.digest = file_digest(media.path)
        return media.digest


def _render_outputs(job: Job, env: Env) -> None:
    """The job's outputs, or an identical earlier job's: the same file (by digest), file
    name (the EDL's title), kind and generation_config make the same bytes."""
    key = {
        "provider": NAME,
        "kind": job.kind,
        "media": _digest(job.media),
        "filename": job.title,
        "config": job.config,
    }
    outputs: dict[str, Path] = {}
    if job.kind in ("audio", "video"):
        outputs["audio"] = env.files.path(f"{job.id}-description.wav")
    if job.kind == "video":
        outputs["video"] = env.files.path(f"{job.id}-described.mp4")
    meta = env.rendercache.render(key, outputs, lambda: make(job, outputs))
    job.audio_name = outputs["audio"].name if "audio" in outputs else None
    job.video_name = outputs["video"].name if "video" in outputs else None
    job.output = meta["output"]


def make(job: Job, outputs: dict[str, Path]) -> dict[str, Any]:
    """Render the job's files into ``outputs``; returns what the cache keeps beside them
    (the ``output`` object). Runs once per distinct render (``_render_outputs``'s key)."""
    an = _analysis(job.media)
    config = job.config
    segments, note = describe(an, config)
    fmt = config["format"] if config["format"] in FORMATS else "json"
    output: dict[str, Any] = {
        "format": fmt,
        "language": config["language"],
        "ad_type": config["ad_type"],
    }
    if fmt == "json":
        output["segments"] = [
            {"start": round(s.start, 3), "end": round(s.end, 3), "text": s.text} for s in segments
        ]
    elif fmt == "vtt":
        output["content"] = to_vtt(segments)
    elif fmt == "srt":
        output["content"] = to_srt(segments)
    else:
        title = f"{job.title} audio description"
        output["content"] = to_edl(segments, title, an.fps, job.title)
    if note:
        output["note"] = note
    if "audio" in outputs:
        _narrate(job, segments, note, an.duration, outputs["audio"])
    if "video" in outputs:
        assert job.media.info is not None
        described_video(
            job.media.path,
            outputs["audio"],
            job.media.info["audio"] is not None,
            an.duration,
            outputs["video"],
        )
    return {"output": output}


def _narrate(
    job: Job, segments: list[Segment], note: str | None, duration: float, out: Path
) -> None:
    """The AD track at its volume; an audio job's ``mixed`` track adds the source's sound."""
    from ..services.media.audio import mix_tracks

    config = job.config
    peak_db = None
    if config["volume_option"] == "max":
        level = config["volume_level_db"]
        peak_db = VOLUME_DB_DEFAULT if level is None else level
    speak = {
        "language": config["language"] if note is None else "en-US",
        "voice": config["voice"],
        "duration": duration,
        "peak_db": peak_db,
    }
    assert job.media.info is not None
    source_sound = job.media.info["audio"] is not None
    if job.kind != "audio" or config["audio_track_type"] != "mixed" or not source_sound:
        speak_track(segments, out=out, **speak)
        return
    with tempfile.TemporaryDirectory(prefix="nbmedia-viddy-") as tmp:
        narration = speak_track(segments, out=Path(tmp) / "ad.wav", **speak)
        mix_tracks(
            out,
            speech=narration,
            music=job.media.path,
            duration=duration,
            music_gain=ORIGINAL_AUDIO_GAIN,
        )
