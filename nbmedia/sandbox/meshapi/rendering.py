"""A task's outputs, made for real: the MP4 from its pictures, sound and prompt, and the last
frame as PNG when asked; identical requests with the same seed render once."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ..kit.env import Env
from .contract import FPS, NAME, PREVIEW_MAX_WIDTH
from .task import Task

log = logging.getLogger("nbmedia.sandbox.meshapi")


def render(task: Task, env: Env) -> None:
    """Make the real output (in the render pool); the task succeeds only after this."""
    try:
        _render_task(task, env)
    except Exception as exc:
        log.exception("rendering %s failed", task.id)
        task.lifecycle.fail("internal_error", f"Rendering failed: {exc}")
        return
    finally:
        shutil.rmtree(task.scratch, ignore_errors=True)
    task.lifecycle.output_ready()


def render_key(task: Task) -> dict[str, Any]:
    """Everything that decides a task's output bytes, for the render cache: the model, every
    option but ``callback_url``, the resolved ratio, frames and seed, each content item with
    its file's digest, and the task id where it seeds the score (no prompt to seed it)."""
    from ..services.rendercache import file_digest

    items = [
        {
            "type": i.type,
            "role": i.role,
            "text": i.text,
            "file": file_digest(i.path) if i.path else None,
        }
        for i in task.items
    ]
    clips = any(i.type == "audio_url" for i in task.items)
    own_score = task.opts["generate_audio"] and not clips and not task.prompt
    return {
        "provider": NAME,
        "model": task.model,
        "opts": {k: v for k, v in task.opts.items() if k != "callback_url"},
        "ratio": task.ratio,
        "frames": task.frames,
        "seed": task.seed,
        "items": items,
        "score_seed": task.id if own_score else None,
        "preview": PREVIEW_MAX_WIDTH,
    }


def _render_task(task: Task, env: Env) -> None:
    """The MP4 (and the last frame as PNG when asked) of one task, from its inputs; an
    identical earlier task's files when there is one (``render_key``)."""
    from ..services.media.video import render_video, video_size

    width, height = video_size(task.ratio, max_width=PREVIEW_MAX_WIDTH)
    name = f"{task.id}.mp4"
    last = f"{task.id}-last-frame.png" if task.opts["return_last_frame"] else None

    def make() -> None:
        with tempfile.TemporaryDirectory(prefix="nbmedia-mesh-") as tmp:
            work = Path(tmp)
            render_video(
                env.files.path(name),
                text=task.prompt,
                duration=task.seconds,
                fps=FPS,
                width=width,
                height=height,
                images=_pictures(task, work),
                audio=_soundtrack(task, work),
                seed=task.seed,
            )
        if last is not None:
            _last_frame(env.files.path(name), env.files.path(last), task.seconds)

    outputs = {"video": env.files.path(name)}
    if last is not None:
        outputs["last_frame"] = env.files.path(last)
    env.rendercache.render(render_key(task), outputs, make)
    task.last_frame_name = last
    task.video_name = name


def _pictures(task: Task, work: Path) -> list[Path]:
    """Images in order (first_frame first, last_frame last), then a frame of each video."""
    from PIL import Image

    from ..services.media.probe import frame_at, probe

    order = {"first_frame": 0, "last_frame": 2}
    images = [i for i in task.items if i.type == "image_url" and i.path]
    images.sort(key=lambda i: order.get(i.role or "", 1))
    out = [i.path for i in images if i.path]
    for n, item in enumerate(i for i in task.items if i.type in ("video_url", "draft_task")):
        if item.path is None:
            continue
        still = work / f"video-frame-{n}.png"
        middle = probe(item.path)["duration"] / 2
        Image.fromarray(frame_at(item.path, middle)).save(still)
        out.append(still)
    return out


def _soundtrack(task: Task, work: Path) -> Path | None:
    """The audio clips joined; else a composed score when ``generate_audio``; else none."""
    import numpy as np

    from ..services.media.audio import write_audio
    from ..services.media.music import compose
    from ..services.media.probe import decode_audio

    clips = [i.path for i in task.items if i.type == "audio_url" and i.path]
    if clips:
        rate = 44_100
        samples = np.concatenate([decode_audio(p, rate)[0] for p in clips])
        return write_audio(work / "clips.wav", samples, rate, "wav")
    if task.opts["generate_audio"]:
        samples, rate, _bpm = compose(duration=task.seconds, seed=task.prompt or task.id)
        return write_audio(work / "score.wav", samples, rate, "wav")
    return None


def _last_frame(video: Path, out: Path, seconds: float) -> None:
    from PIL import Image

    from ..services.media._ffmpeg import atomic
    from ..services.media.probe import frame_at

    with atomic(out) as part:
        Image.fromarray(frame_at(video, max(0.0, seconds - 1.5 / FPS))).save(part, format="PNG")
