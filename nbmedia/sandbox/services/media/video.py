"""Real H.264 MP4 previews, made on the spot by one ffmpeg call.

All per-frame work happens inside ffmpeg (a low-resolution `gradients` source scaled up, soft
shapes overlaid on moving paths, a caption drawn once by Pillow, a running timecode by
drawtext); Python only draws the still layers. That keeps a 15 s 640x360 preview at about a
second on two cores.
"""

from __future__ import annotations

import math
import random
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from . import _ffmpeg, layers
from .audio import AAC

# x264 speed: "superfast" up to this many frames x (pixels / 640x360), "ultrafast" above.
# Measured on 2 cores: veryfast costs ~40% more time than superfast for ~25% smaller files,
# and previews are rendered on request, so time wins.
_SUPERFAST_UP_TO = 6000


def video_size(aspect: str, max_width: int = 640) -> tuple[int, int]:
    """Preview size for an aspect ('16:9', '9:16', '2.39:1', '4x3'): the long side is
    `max_width`, both sides even (H.264 4:2:0 needs even sizes)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*[:x/]\s*(\d+(?:\.\d+)?)\s*", aspect)
    if not m or float(m[1]) <= 0 or float(m[2]) <= 0:
        raise ValueError(f"aspect must look like '16:9', got {aspect!r}")
    aw, ah = float(m[1]), float(m[2])
    long_side = max(2, int(max_width) // 2 * 2)

    def even(x: float) -> int:
        return max(2, 2 * round(x / 2))

    if aw >= ah:
        return long_side, min(long_side, even(long_side * ah / aw))
    return min(long_side, even(long_side * aw / ah)), long_side


def render_video(
    path: Path,
    *,
    text: str,
    duration: float,
    fps: int,
    width: int,
    height: int,
    images: Sequence[Path] = (),
    audio: Path | None = None,
    seed: int = 0,
) -> Path:
    """Write an H.264/yuv420p MP4 (+faststart) of round(duration*fps) frames at width x height.

    Without `images` the frames are a drifting seeded gradient with soft moving shapes and
    `text` centred; with `images` they are the images (cycled, slowly panned) with `text` as a
    caption. `audio` (anything ffmpeg reads) becomes an AAC track padded/trimmed to the video.
    """
    duration, fps, width, height = _check(duration, fps, width, height)
    n_frames = max(1, round(duration * fps))
    duration = n_frames / fps
    work = n_frames * width * height / (640 * 360)
    preset = "superfast" if work <= _SUPERFAST_UP_TO else "ultrafast"
    with tempfile.TemporaryDirectory(prefix="nbmedia-video-") as tmp, _ffmpeg.atomic(path) as part:
        args, graph = _scene(
            Path(tmp), text, duration, fps, width, height, [Path(p) for p in images], seed
        )
        maps = ["-map", "[v]"]
        if audio is not None:
            a_idx = args.count("-i")
            args += ["-i", Path(audio).absolute()]
            graph += (
                f";[{a_idx}:a:0]aresample=44100,apad=whole_dur={duration:.6f},"
                f"atrim=end={duration:.6f}[a]"
            )
            maps += ["-map", "[a]", *AAC]
        _ffmpeg.run(
            [*args, "-filter_complex", graph, *maps, "-frames:v", str(n_frames), "-r", str(fps)]
            + ["-c:v", "libx264", "-preset", preset, "-crf", "28", "-g", str(2 * fps)]
            + ["-pix_fmt", "yuv420p", "-movflags", "+faststart", "-t", f"{duration:.6f}"]
            + ["-f", "mp4", part],
            cwd=Path(tmp),
        )
    return Path(path)


def render_thumbnail(path: Path, *, text: str, width: int, height: int, seed: int = 0) -> Path:
    """JPEG of what the first frame of render_video(text=..., seed=...) shows."""
    _, _, width, height = _check(1.0, 24, width, height)
    with tempfile.TemporaryDirectory(prefix="nbmedia-thumb-") as tmp, _ffmpeg.atomic(path) as part:
        args, graph = _scene(Path(tmp), text, 1.0, 24, width, height, [], seed)
        _ffmpeg.run(
            [*args, "-filter_complex", graph, "-map", "[v]", "-frames:v", "1", "-q:v", "3"]
            + ["-update", "1", "-f", "image2", "-c:v", "mjpeg", part],
            cwd=Path(tmp),
        )
    return Path(path)


def _check(duration: float, fps: int, width: int, height: int) -> tuple[float, int, int, int]:
    """Validated (duration, fps, width, height) as plain numbers; integral floats and numpy
    ints are accepted, odd sizes are refused (rounding them would change what was asked)."""
    duration = float(duration)
    if not (duration > 0 and math.isfinite(duration)):
        raise ValueError(f"duration must be > 0 seconds, got {duration!r}")
    if not (float(fps) == int(fps) and 1 <= int(fps) <= 240):
        raise ValueError(f"fps must be a whole number in 1..240, got {fps!r}")
    for name, v in (("width", width), ("height", height)):
        if float(v) != int(v) or not 16 <= int(v) <= 4096 or int(v) % 2:
            raise ValueError(f"{name} must be an even whole number in 16..4096, got {v!r}")
    return duration, int(fps), int(width), int(height)


def _scene(
    tmp: Path,
    text: str,
    duration: float,
    fps: int,
    width: int,
    height: int,
    images: list[Path],
    seed: int,
) -> tuple[list[str | Path], str]:
    """Inputs and a filter graph ending in [v]; every file lives in `tmp` (the cwd of ffmpeg),
    so the graph only names plain relative files and needs no escaping."""
    rnd = random.Random(seed)
    args: list[str | Path] = []
    chains: list[str] = []
    if images:
        args += _slideshow_input(tmp, images, duration, width, height)
        seg = duration / max(len(images), math.ceil(duration / 6))
        phase = (
            f"if(mod(floor(t/{seg:.6f}),2),1-mod(t,{seg:.6f})/{seg:.6f},mod(t,{seg:.6f})/{seg:.6f})"
        )
        chains.append(
            f"[0:v]fps={fps},crop={width}:{height}:x='(iw-ow)*{phase}':y='(ih-oh)*{phase}',"
            f"setsar=1,format=yuv420p[bg]"
        )
        last = "bg"
        cap = layers.caption(text, width, height, max_lines=3, scale=1 / 16)
        cap_y = f"H-h-{max(8, height // 20)}"
    else:
        colors = layers.palette(seed, 3)
        gw, gh = max(16, width // 8 // 2 * 2), max(16, height // 8 // 2 * 2)
        kind = rnd.choice(["linear", "radial"])  # circular and square show seams
        c = ":".join(f"c{i}={layers.hex_color(col)}" for i, col in enumerate(colors))
        args += ["-f", "lavfi", "-i"]
        args.append(
            f"gradients=s={gw}x{gh}:r={fps}:d={duration + 1:.6f}:{c}:n=3:"
            f"seed={seed % 2**32}:speed={0.6 / fps:.5f}:type={kind}"
        )
        chains.append(f"[0:v]scale={width}:{height}:flags=bilinear,setsar=1,format=yuv420p[bg]")
        last = "bg"
        for i in range(3):
            d = max(8, round(min(width, height) * rnd.uniform(0.25, 0.5)))
            sprite = tmp / f"disc{i}.png"
            layers.disc(d, layers.bright(colors[i])).save(sprite, compress_level=1)
            args += ["-i", sprite.name]
            fx, fy = rnd.uniform(0.15, 0.45), rnd.uniform(0.15, 0.45)
            px, py = rnd.uniform(0, 6.283), rnd.uniform(0, 6.283)
            x = f"(W-w)*(0.5+0.5*sin({fx:.4f}*2*PI*t+{px:.4f}))"
            y = f"(H-h)*(0.5+0.5*sin({fy:.4f}*2*PI*t+{py:.4f}))"
            chains.append(f"[{last}][{i + 1}:v]overlay=x='{x}':y='{y}':eof_action=repeat[s{i}]")
            last = f"s{i}"
        cap = layers.caption(text, width, height)
        cap_y = "(H-h)/2"
    if cap is not None:
        cap.save(tmp / "caption.png", compress_level=1)
        idx = args.count("-i")
        args += ["-i", "caption.png"]
        chains.append(f"[{last}][{idx}:v]overlay=x=(W-w)/2:y={cap_y}:eof_action=repeat[cap]")
        last = "cap"
    layers.write_font_file(tmp)
    size = max(10, height // 22)
    chains.append(
        f"[{last}]drawtext=fontfile=font.ttf:text='%{{pts\\:hms}}':fontsize={size}:"
        f"fontcolor=white@0.9:box=1:boxcolor=black@0.45:boxborderw={max(2, size // 4)}:"
        f"x=w-tw-{size}:y={size // 2 + 2}[v]"
    )
    return args, ";".join(chains)


def _slideshow_input(
    tmp: Path, images: list[Path], duration: float, width: int, height: int
) -> list[str | Path]:
    """Concat-demuxer input: each image once (decoded once), shown for one pan segment, cycled.

    Images are pre-fitted to 115% of the frame so the pan is a cheap crop, not a rescale.
    """
    pw, ph = round(width * 1.15) // 2 * 2, round(height * 1.15) // 2 * 2
    names = []
    for i, image in enumerate(images):
        name = f"img{i}.png"
        layers.cover(image, pw, ph).save(tmp / name, compress_level=1)
        names.append(name)
    n_seg = max(len(images), math.ceil(duration / 6))
    seg = duration / n_seg
    lines = []
    for k in range(n_seg + 1):  # one extra segment: the demuxer drops the last duration
        lines += [f"file '{names[k % len(names)]}'", f"duration {seg:.6f}"]
    lines.append(f"file '{names[n_seg % len(names)]}'")
    (tmp / "slides.txt").write_text("\n".join(lines) + "\n")
    return ["-f", "concat", "-safe", "0", "-i", "slides.txt"]
