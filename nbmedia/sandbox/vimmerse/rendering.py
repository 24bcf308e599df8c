"""A generation's videos, made for real: ``quantity`` MP4s over one soundtrack (narration,
music, audio items or room tone), seeded from the request so identical requests render once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..kit.env import Env
from .contract import (
    AMBIENT_RMS,
    FPS,
    MUSIC_ALONE_GAIN,
    MUSIC_GAIN,
    NAME,
    NARRATORS,
    PREVIEW_MAX_WIDTH,
)
from .fetching import Inputs


@dataclass
class Rendered:
    names: list[str]
    length: float
    size: int


def render_key(number: int, params: dict[str, Any], got: Inputs) -> dict[str, Any]:
    """Everything that decides a generation's output bytes, for the render cache and the seed:
    its number (a regeneration differs from the first take), every generation field, and the
    digests of the fetched inputs."""
    from ..services.rendercache import file_digest

    def digests(paths: list[Path]) -> list[str]:
        return [file_digest(p) for p in paths]

    return {
        "provider": NAME,
        "number": number,
        "params": params,
        "images": digests(got.images),
        "soundtrack": digests(got.soundtrack),
        "narration": digests([got.narration] if got.narration else []),
        "music": digests([got.music] if got.music else []),
        "preview": [PREVIEW_MAX_WIDTH, FPS],
    }


def render_generation(
    media_id: str, number: int, params: dict[str, Any], got: Inputs, env: Env
) -> Rendered:
    """``quantity`` MP4s sharing one soundtrack, each with its own seed (so they differ). The
    seed comes from the request, so identical requests share one render (``render_key``)."""
    from ..services.rendercache import key_digest

    key = render_key(number, params, got)
    seed = int(key_digest(key)[:8], 16)
    names = [f"{media_id}-g{number}-{i + 1}.mp4" for i in range(params["quantity"])]
    paths = [env.files.path(name) for name in names]

    def make() -> dict[str, Any]:
        return {"length": _render_all(paths, params, got, seed)}

    meta = env.rendercache.render(key, {f"video{i}": p for i, p in enumerate(paths)}, make)
    size = sum(p.stat().st_size for p in paths)
    return Rendered(names, meta["length"], size)


def _render_all(paths: list[Path], params: dict[str, Any], got: Inputs, seed: int) -> float:
    """Render the generation's videos to ``paths``; returns their length in seconds."""
    from ..services.media.probe import probe
    from ..services.media.video import video_size

    width, height = video_size(params["aspect_ratio"], max_width=PREVIEW_MAX_WIDTH)
    speech = _speech_track(params, got)
    if speech is not None:  # the video lasts as long as the narration; loop is ignored
        length, loops = max(float(params["duration"]), probe(speech)["duration"]), 1
    else:
        length, loops = float(params["duration"] * params["loop"]), params["loop"]
    music = _music_track(params, got, length)
    soundtrack = _mix(got.scratch, speech, music, length)
    for i, path in enumerate(paths):
        text = (params["prompt"] or "").strip()
        if params["quantity"] > 1:
            text = f"{text} ({i + 1}/{params['quantity']})".strip()
        _render_one(path, text, length, loops, width, height, got, soundtrack, seed + i)
    return length


def _speech_track(params: dict[str, Any], got: Inputs) -> Path | None:
    """Audio items (joined), else ``narration_url``, else ``narration`` in the narrator's voice."""
    from ..services.media.audio import write_audio
    from ..services.media.probe import decode_audio
    from ..services.media.speech import synthesize

    if len(got.soundtrack) == 1:
        return got.soundtrack[0]
    if got.soundtrack:
        import numpy as np

        parts = [decode_audio(p, 44100)[0] for p in got.soundtrack]
        return write_audio(got.scratch / "soundtrack.wav", np.concatenate(parts), 44100, "wav")
    if got.narration is not None:
        return got.narration
    audio = params["audio_option"]
    if not (audio["narration"] or "").strip():
        return None
    samples, rate = synthesize(audio["narration"], voice=NARRATORS[audio["narrator"]])
    return write_audio(got.scratch / "narration.wav", samples, rate, "wav")


def _music_track(params: dict[str, Any], got: Inputs, length: float) -> Path | None:
    """``bg_music_url``, else music composed from ``bg_music_prompt``; none with audio items."""
    from ..services.media.audio import write_audio
    from ..services.media.music import compose

    if got.soundtrack:
        return None
    if got.music is not None:
        return got.music
    audio = params["audio_option"]
    if (audio["bg_music_prompt"] or "").strip():
        samples, rate, _ = compose(duration=length, seed=audio["bg_music_prompt"])
        return write_audio(got.scratch / "music.wav", samples, rate, "wav")
    if audio["native_audio"]:
        return _ambient(got.scratch / "ambient.wav", length)
    return None


def _ambient(path: Path, length: float) -> Path:
    """Native audio stand-in: quiet stereo brown noise (a room tone), ``AMBIENT_RMS`` loud."""
    import numpy as np

    from ..services.media.audio import write_audio

    rate = 44100
    rng = np.random.default_rng(len(path.name))
    noise = rng.standard_normal((max(1, round(length * rate)), 2))
    brown = np.cumsum(noise, axis=0)
    brown -= np.linspace(brown[0], brown[-1], len(brown))  # no drift, so no clicks at the ends
    brown *= AMBIENT_RMS / (float(np.sqrt(np.mean(brown**2))) or 1.0)
    return write_audio(path, brown.astype(np.float32), rate, "wav")


def _mix(scratch: Path, speech: Path | None, music: Path | None, length: float) -> Path | None:
    from ..services.media.audio import mix_tracks

    if speech is None and music is None:
        return None
    gain = MUSIC_GAIN if speech is not None else MUSIC_ALONE_GAIN
    return mix_tracks(
        scratch / "mix.wav", speech=speech, music=music, duration=length, music_gain=gain
    )


def _render_one(
    out: Path,
    text: str,
    length: float,
    loops: int,
    width: int,
    height: int,
    got: Inputs,
    soundtrack: Path | None,
    seed: int,
) -> None:
    """One output: a scene of ``length / loops`` s repeated ``loops`` times, then the sound."""
    from ..services.media import _ffmpeg
    from ..services.media.audio import AAC
    from ..services.media.video import render_video

    common = {
        "text": text,
        "fps": FPS,
        "width": width,
        "height": height,
        "images": got.images,
        "seed": seed,
    }
    if loops == 1:
        render_video(out, duration=length, audio=soundtrack, **common)
        return
    scene = render_video(got.scratch / f"scene-{seed}.mp4", duration=length / loops, **common)
    args: list[str | Path] = ["-stream_loop", str(loops - 1), "-i", scene]
    maps: list[str | Path] = ["-map", "0:v:0", "-c:v", "copy"]
    if soundtrack is not None:
        args += ["-i", soundtrack]
        maps += ["-map", "1:a:0", *AAC]
    _ffmpeg.run([*args, *maps, "-t", f"{length:.6f}", "-movflags", "+faststart", out])


def voice_spec(narrator: str) -> str:
    """The eSpeak NG voice a narrator speaks with (voice samples use the same)."""
    from ..services.media.speech import voice_for

    return NARRATORS.get(narrator) or voice_for(narrator)
