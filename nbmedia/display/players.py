"""Players for outputs on disk, by a path relative to the notebook.

The Jupyter server serves the notebook's folder (also on Binder), so players point at the local
file; large files are never base64-embedded into the notebook.
"""

from __future__ import annotations

import base64
import html
import os
from pathlib import Path

from ..models import MIME_BY_EXT, Job, Output


def thumbnail_for(video: Path) -> Path | None:
    """A JPEG beside `video` (the provider's thumbnail if saved, else one frame grabbed once)."""
    video = Path(video)
    for candidate in (
        video.with_name(video.stem + ".thumbnail.jpg"),
        video.with_suffix(".thumb.jpg"),
    ):
        if candidate.exists():
            return candidate
    if not video.exists():
        return None
    import subprocess

    import imageio_ffmpeg

    dest = video.with_suffix(".thumb.jpg")
    proc = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-ss", "0.5", "-i", str(video),
         "-frames:v", "1", "-vf", "scale=192:-2", "-q:v", "5", str(dest)],
        capture_output=True,
        check=False,
    )  # fmt: skip
    return dest if proc.returncode == 0 and dest.exists() else None


def output_from_path(path: str | Path) -> Output:
    """An Output for a local file (kind and MIME from its extension)."""
    path = Path(path)
    ext = path.suffix.lower().lstrip(".")
    mime = MIME_BY_EXT.get(ext, "application/octet-stream")
    kind = mime.split("/", 1)[0] if mime.split("/", 1)[0] in ("video", "audio", "image") else "text"
    return Output(kind, None, mime, path)


def relative_src(path: Path, base: Path | None = None) -> str:
    """The path of `path` relative to the notebook's folder (the kernel's cwd), URL-style."""
    rel = os.path.relpath(Path(path).resolve(), (base or Path.cwd()).resolve())
    return rel.replace(os.sep, "/")


def player_html(out: Output, *, embed: bool = False, base: Path | None = None) -> str:
    """An HTML5 player (or image/link) for one output; by path relative to `base` (the
    notebook's folder by default) unless `embed`."""
    if out.path is None:
        return f'<a href="{html.escape(out.url or "")}" target="_blank">{html.escape(out.kind)}</a>'
    if embed:
        data = base64.b64encode(Path(out.path).read_bytes()).decode()
        src = f"data:{out.mime};base64,{data}"
    else:
        src = html.escape(relative_src(out.path, base))
    mime = html.escape(out.mime or "")
    if out.kind == "video":
        # no poster attribute: JupyterLab resolves relative src but not poster; with
        # preload="metadata" the browser shows the first frame instead
        return (
            f'<video controls preload="metadata" src="{src}" data-mime="{mime}"'
            f' style="max-width:100%"></video>'
        )
    if out.kind == "audio":
        return f'<audio controls preload="metadata" src="{src}" data-mime="{mime}"></audio>'
    if out.kind == "image":
        return f'<img src="{src}" style="max-width:100%">'
    return f'<a href="{src}" target="_blank">{html.escape(Path(out.path).name)}</a>'


def job_player_html(job: Job, *, embed: bool = False) -> str:
    """Players for a job's main outputs (several videos when a provider made several).

    Captions (VTT) ride on the video as a track the user can switch on: the job's own video,
    or the source video of a description job.
    """
    captions = next((o for o in job.outputs if o.mime == "text/vtt" and o.path is not None), None)
    parts = []
    mains = [o for o in job.outputs if o.role == "main"]
    videos = [o for o in mains if o.kind == "video"]
    source = job.output("video", role="source")
    if captions is not None and not videos and source is not None and source.path is not None:
        videos = [source]
    for out in videos:
        parts.append(_with_track(player_html(out, embed=embed), captions, job))
    for out in mains:
        if out.kind != "video" and not (out is captions and videos):
            parts.append(player_html(out, embed=embed))
    return "".join(f"<div>{p}</div>" for p in parts)


def _with_track(video_html: str, captions: Output | None, job: Job) -> str:
    if captions is None or captions.path is None:
        return video_html
    lang = html.escape(str(job.request.get("language", "en"))[:2])
    track = (
        f'<track kind="captions" label="Audio description" srclang="{lang}"'
        f' src="{html.escape(relative_src(captions.path))}">'
    )
    return video_html.replace("></video>", f">{track}</video>")
