"""Outputs are previews: the input video (scaled to fit 640 pixels, at its own frame rate)
laid on the output's timeline per ``sync_mode``, its audio replaced by the soundtrack, with
the face whose mouth follows it (``face``, ``sound``). Identical requests get the same bytes,
rendered once (``rendercache``)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .contract import NAME
from .face import (
    EMOTION_SKIN,
    MOUTH_LEVELS,
    PREVIEW_MAX_SIDE,
    SKIN,
    Face,
    face_image,
    mouth_sprites,
    preview_size,
)
from .media import (
    VideoInfo,
    check_against_media,
    check_audio_length,
    output_seconds,
    probe_audio,
    probe_video,
)
from .sound import RATE, mouth_openings, samples, soundtrack
from .spec import Spec

if TYPE_CHECKING:
    from ..kit.env import Env
    from .generations import Generation


def _timeline(spec: Spec, video: VideoInfo, seconds: float, frames: int) -> tuple[list[str], str]:
    """Input options for the video and the filter chain that lays it on the output's timeline."""
    fps = f"{video.fps.numerator}/{video.fps.denominator}"
    mode = None if spec.segments else spec.options["sync_mode"]
    longer = seconds > video.seconds + 1 / float(video.fps)
    head = "[0:v]setpts=PTS-STARTPTS,"
    in_opts: list[str] = []
    if mode == "loop" and longer:
        in_opts = ["-stream_loop", "-1"]
    elif mode == "bounce" and longer:
        size = 2 * (video.frames + 8)
        head = (
            "[0:v]setpts=PTS-STARTPTS,split[fw][bw];[bw]reverse[rv];"
            f"[fw][rv]concat=n=2:v=1:a=0,loop=loop=-1:size={size},setpts=N/({fps}*TB),"
        )
    else:
        if mode == "remap":
            head += f"setpts={seconds / video.seconds:.6f}*PTS,"
        # Holds the last frame: silence's rule when the audio is longer, and a guard for videos
        # whose picture ends before the container's stated duration.
        pad = max(0.0, seconds - video.seconds) + 1
        head += f"tpad=stop_mode=clone:stop_duration={pad:.3f},"
    width, height = preview_size(video.width, video.height)
    chain = (
        f"{head}fps={fps},trim=end_frame={frames},setpts=PTS-STARTPTS,"
        f"scale={width}:{height}:flags=bilinear,setsar=1,format=yuv420p[base]"
    )
    return in_opts, chain


def render_key(spec: Spec) -> dict[str, Any]:
    """Everything that decides a generation's output bytes, for the render cache: the model,
    options and segments, and each input as sent with its file's digest in place of its URL
    (the same media under two URLs is the same input)."""
    from ..services.rendercache import file_digest

    items = [
        {
            **{k: v for k, v in spec.input[i.index].items() if k != "url"},
            "file": file_digest(i.path) if i.path else None,
        }
        for i in spec.items
    ]
    return {
        "provider": NAME,
        "model": spec.model,
        "options": spec.options,
        "segments": spec.segments,
        "items": items,
        "preview": PREVIEW_MAX_SIDE,
    }


def render(gen: Generation, env: Env) -> None:
    """The lip-synced MP4 (and the segments' WAV), or an identical earlier generation's."""
    suffix = f"-{gen.spec.output_file_name[:150]}" if gen.spec.output_file_name else ""
    name = f"{gen.id}{suffix}.mp4"
    outputs = {"video": env.files.path(name)}
    if gen.spec.segments:
        outputs["segments"] = env.files.path(f"{gen.id}-segments.wav")
    meta = env.rendercache.render(
        render_key(gen.spec), outputs, lambda: make_output(gen.spec, outputs)
    )
    gen.segment_name = outputs["segments"].name if "segments" in outputs else None
    gen.output_duration = meta["output_duration"]
    gen.output_name = name


def make_output(spec: Spec, outputs: dict[str, Path]) -> dict[str, Any]:
    """Check the media, then write the lip-synced MP4 (and the segments' WAV)."""
    from ..services.media import _ffmpeg
    from ..services.media.audio import AAC, write_audio
    from ..services.media.probe import probe

    assert spec.video is not None
    video = probe_video(spec.video)
    sounds: dict[int, np.ndarray] = {}
    for item in spec.audio:
        if item.script is None:  # before decoding: a too-long file is refused unread
            item.seconds = probe_audio(item)
            check_audio_length(item)
    for item in spec.audio:
        sounds[item.index] = samples(item)
        item.seconds = len(sounds[item.index]) / RATE
        check_audio_length(item)
    check_against_media(spec, video)
    seconds = output_seconds(spec, video.seconds, spec.audio[0].seconds)
    frames = max(1, round(seconds * video.fps))
    exact = frames / float(video.fps)
    track = soundtrack(spec, sounds, round(exact * RATE))

    width, height = preview_size(video.width, video.height)
    face = Face(width, height)
    skin = EMOTION_SKIN.get(spec.options.get("prompt") or "neutral", SKIN)
    sprites = mouth_sprites(face, float(spec.options["temperature"]), skin)
    levels = np.round(mouth_openings(track, frames, video.fps) * (MOUTH_LEVELS - 1)).astype(int)
    fps = f"{video.fps.numerator}/{video.fps.denominator}"
    mw, mh = face.mouth_size
    fx, fy = face.disc_origin
    mx, my = face.mouth_origin
    with tempfile.TemporaryDirectory(prefix="nbmedia-syncso-") as tmp:
        work = Path(tmp)
        write_audio(work / "track.wav", track, RATE, "wav")
        face_image(face, skin).save(work / "face.png")
        np.ascontiguousarray(sprites[levels]).tofile(work / "mouth.rgb")
        in_opts, chain = _timeline(spec, video, seconds, frames)
        graph = (
            f"{chain};[base][1:v]overlay=x={fx}:y={fy}:format=auto[faced];"
            f"[faced][2:v]overlay=x={mx}:y={my}:eof_action=repeat:format=auto,format=yuv420p[v]"
        )
        with _ffmpeg.atomic(outputs["video"]) as part:
            _ffmpeg.run(
                [*in_opts, "-i", video.path.absolute(), "-i", "face.png"]
                + ["-f", "rawvideo", "-pix_fmt", "rgb24", "-video_size", f"{mw}x{mh}"]
                + ["-framerate", fps, "-i", "mouth.rgb", "-i", "track.wav"]
                + ["-filter_complex", graph, "-map", "[v]", "-map", "3:a", *AAC]
                + ["-frames:v", str(frames), "-r", fps, "-c:v", "libx264"]
                + ["-preset", "superfast", "-crf", "26", "-pix_fmt", "yuv420p"]
                + ["-movflags", "+faststart", "-t", f"{exact:.6f}", "-f", "mp4", part],
                cwd=work,
            )
    if "segments" in outputs:
        write_audio(outputs["segments"], track, RATE, "wav")
    return {"output_duration": round(float(probe(outputs["video"])["duration"]), 3)}
