"""MercaDream's outputs, made for real: video (with an optional narration), speech, music.
Every output is a 16:9 preview; identical requests share one render (the render cache)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..kit.env import Env
from .contract import NAME, PREVIEW_ASPECT, PREVIEW_MAX_WIDTH
from .job import Job

log = logging.getLogger("nbmedia.sandbox.mercadream")


def render(job: Job, env: Env) -> None:
    """Make the real output (in the render pool); the job completes only after this."""
    try:
        RENDERERS[job.kind](job, env)
    except Exception as exc:
        log.exception("rendering %s failed", job.id)
        job.lifecycle.fail("internal_error", f"Rendering failed: {exc}")
        return
    job.lifecycle.output_ready()


def _seed(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def _cached(
    job: Job, env: Env, names: dict[str, str], make: Callable[[], dict[str, Any] | None]
) -> dict[str, Any]:
    """Render through the sandbox's render cache: the key is the kind and every request field
    (``webhook_url`` is not one), so identical requests share their files."""
    key = {
        "provider": NAME,
        "kind": job.kind,
        "fields": job.fields,
        "preview": [PREVIEW_ASPECT, PREVIEW_MAX_WIDTH],
    }
    paths = {role: env.files.path(name) for role, name in names.items()}
    return env.rendercache.render(key, paths, make)


def _render_video(job: Job, env: Env) -> None:
    """The prompt on moving frames at the preview size; with ``voice_id``, a narration of it."""
    from ..services.media.video import render_thumbnail, render_video, video_size

    f = job.fields
    width, height = video_size(PREVIEW_ASPECT, max_width=PREVIEW_MAX_WIDTH)
    seed = _seed(f["prompt"])
    name, thumb = f"{job.id}.mp4", f"{job.id}.jpg"

    def make() -> None:
        narration = _narrate(job, env) if f["voice_id"] else None
        try:
            render_video(
                env.files.path(name),
                text=f["prompt"],
                duration=f["duration"],
                fps=f["fps"],
                width=width,
                height=height,
                audio=narration,
                seed=seed,
            )
        finally:
            if narration is not None:
                narration.unlink(missing_ok=True)
        render_thumbnail(
            env.files.path(thumb), text=f["prompt"], width=width, height=height, seed=seed
        )

    _cached(job, env, {"video": name, "thumbnail": thumb}, make)
    job.file_name, job.thumbnail_name = name, thumb
    job.file_size = env.files.path(name).stat().st_size


def _narrate(job: Job, env: Env) -> Path:
    """A WAV of the prompt in the requested voice, to be muxed into the video (then deleted)."""
    from ..services.media.audio import write_audio
    from ..services.media.speech import synthesize, voice_for

    samples, rate = synthesize(
        job.fields["prompt"], voice=voice_for(job.fields["voice_id"]), speed=1.0
    )
    return write_audio(env.files.path(f"{job.id}.narration.wav"), samples, rate, "wav")


def _render_speech(job: Job, env: Env) -> None:
    from ..services.media.audio import write_audio
    from ..services.media.speech import synthesize, voice_for

    f = job.fields
    name = f"{job.id}.{f['format']}"

    def make() -> None:
        samples, rate = synthesize(f["text"], voice=voice_for(f["voice_id"]), speed=f["speed"])
        write_audio(env.files.path(name), samples, rate, f["format"])

    _cached(job, env, {"audio": name}, make)
    job.file_name = name
    job.file_size = env.files.path(name).stat().st_size


def _render_music(job: Job, env: Env) -> None:
    from ..services.media.audio import write_audio
    from ..services.media.music import compose

    f = job.fields
    name = f"{job.id}.{f['format']}"

    def make() -> dict[str, Any]:
        samples, rate, bpm = compose(duration=f["duration"], bpm=f["bpm"], seed=f["prompt"])
        write_audio(env.files.path(name), samples, rate, f["format"])
        return {"bpm": bpm}

    job.result["bpm"] = _cached(job, env, {"audio": name}, make)["bpm"]
    job.file_name = name
    job.file_size = env.files.path(name).stat().st_size


RENDERERS: dict[str, Callable[[Job, Env], None]] = {
    "video": _render_video,
    "speech": _render_speech,
    "music": _render_music,
}
