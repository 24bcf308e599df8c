"""The sandbox's offline renderers make real media: checked by decoding what they wrote."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from nbmedia.sandbox.services import media
from tests import mediacheck

pytestmark = pytest.mark.timeout(120)

W, H, FPS = 320, 180, 24  # 180 is not a multiple of 16: a silent 16-rounding would show


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def clip(out: Path) -> Path:
    return media.render_video(
        out / "clip.mp4", text="Neon rain on Tokyo streets", duration=2.5, fps=FPS,
        width=W, height=H, seed=5,
    )  # fmt: skip


@pytest.fixture(scope="module")
def blank_clip(out: Path) -> Path:
    return media.render_video(
        out / "blank.mp4", text="", duration=2.5, fps=FPS, width=W, height=H, seed=5
    )


@pytest.fixture(scope="module")
def speech_wav(out: Path) -> Path:
    samples, rate = media.synthesize("Hello from the sandbox. This is real speech.")
    return media.write_audio(out / "speech.wav", samples, rate, "wav")


def _voice_f0(samples: np.ndarray, rate: int) -> float:
    """Median pitch (Hz) of the loud 40 ms frames, by autocorrelation."""
    x = samples.astype(np.float64) / 32768
    n = int(0.04 * rate)
    frames = x[: len(x) // n * n].reshape(-1, n)
    loud = frames[np.sqrt((frames**2).mean(axis=1)) > 0.05]
    lo, hi = int(rate / 400), int(rate / 60)
    f0 = []
    for f in loud:
        f = f - f.mean()
        ac = np.correlate(f, f, "full")[n - 1 :]
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.3 * ac[0]:
            f0.append(rate / lag)
    return float(np.median(f0))


# --- video ---------------------------------------------------------------------------------


def test_video_is_h264_with_exact_geometry(clip: Path) -> None:
    info = mediacheck.probe(clip)
    assert info["video"] == {"codec": "h264", "width": W, "height": H, "fps": FPS, "sar": (1, 1)}
    assert info["audio"] is None
    assert info["duration"] == pytest.approx(2.5, abs=0.1)
    assert mediacheck.count_frames(clip) == round(2.5 * FPS)
    assert "yuv420p" in mediacheck.info_text(clip)
    data = clip.read_bytes()
    moov, mdat = data.find(b"moov"), data.find(b"mdat")  # outside the assert: no body dumped
    assert 0 <= moov < mdat, f"not +faststart: moov at {moov}, mdat at {mdat}"


def test_odd_sizes_are_refused_not_rounded(out: Path) -> None:
    with pytest.raises(ValueError, match="even"):
        media.render_video(out / "odd.mp4", text="x", duration=1, fps=24, width=321, height=180)


def test_frames_move(clip: Path) -> None:
    first, later = mediacheck.frame(clip, 0.1), mediacheck.frame(clip, 2.2)
    assert np.abs(first.astype(int) - later.astype(int)).mean() > 3


def test_text_is_drawn(clip: Path, blank_clip: Path) -> None:
    with_text, without = mediacheck.frame(clip, 1.0), mediacheck.frame(blank_clip, 1.0)
    diff = np.abs(with_text.astype(int) - without.astype(int)).mean(axis=2)
    middle = diff[H // 3 : 2 * H // 3, W // 6 : 5 * W // 6]
    bottom = diff[H - 12 :, :]
    assert middle.mean() > 20, "no caption in the middle of the frame"
    assert bottom.mean() < 3, "renders differ away from the caption: not a fair comparison"
    # White glyphs on the dark box: many near-white pixels where the text is.
    assert (with_text[H // 3 : 2 * H // 3].min(axis=2) > 200).sum() > 150


def test_long_text_is_wrapped_and_cut_inside_the_frame() -> None:
    from nbmedia.sandbox.services.media import layers

    long = "word " * 400 + "Supercalifragilisticexpialidociouslylongtoken" * 3
    img = layers.caption(long, W, H)
    assert img is not None and img.width <= W and img.height <= H
    assert layers.caption("   ", W, H) is None
    fnt = layers.font(14)
    lines = layers.wrap(long, fnt, 100)
    assert all(fnt.getlength(line) <= 100 for line in lines)
    # The embedded font lacks accents and dashes: they are drawn as their plain forms.
    fancy, plain = layers.caption("Café — Straße", W, H), layers.caption("Cafe - Strasse", W, H)
    assert fancy is not None and plain is not None
    assert fancy.tobytes() == plain.tobytes()


def test_thumbnail_matches_first_frame(out: Path, clip: Path) -> None:
    thumb = media.render_thumbnail(
        out / "thumb.jpg", text="Neon rain on Tokyo streets", width=W, height=H, seed=5
    )
    assert thumb.read_bytes()[:3] == b"\xff\xd8\xff"
    img = np.asarray(Image.open(thumb).convert("RGB"))
    assert img.shape == (H, W, 3)
    assert np.abs(img.astype(int) - mediacheck.frame(clip, 0).astype(int)).mean() < 6


def test_images_become_the_frames_with_a_caption(out: Path) -> None:
    paths = []
    for i, color in enumerate([(190, 20, 20), (120, 190, 255)]):  # dark red, light blue
        img = Image.new("RGB", (500, 400), color)
        ImageDraw.Draw(img).ellipse((100, 80, 400, 320), outline=(255, 255, 255), width=8)
        paths.append(img_path := out / f"img{i}.png")
        img.save(img_path)
    clip = media.render_video(
        out / "slides.mp4", text="A caption", duration=4, fps=FPS, width=W, height=H,
        images=paths, seed=1,
    )  # fmt: skip
    info = mediacheck.probe(clip)
    assert (info["video"]["width"], info["video"]["height"]) == (W, H)
    assert info["duration"] == pytest.approx(4, abs=0.1)
    red, blue = mediacheck.frame(clip, 0.5), mediacheck.frame(clip, 3.0)
    top = slice(H // 6, H // 2)  # above the caption
    assert red[top, :, 0].mean() > red[top, :, 2].mean() + 80
    assert blue[top, :, 2].mean() > blue[top, :, 0].mean() + 80
    assert (red[-H // 4 :].min(axis=2) > 200).sum() > 50, "caption missing at the bottom"
    cuts = media.scene_changes(clip)
    assert len(cuts) == 1 and cuts[0] == pytest.approx(2.0, abs=0.1)


def test_video_with_audio_track(out: Path, speech_wav: Path) -> None:
    clip = media.render_video(
        out / "talk.mp4", text="Talking", duration=3, fps=30, width=256, height=144,
        audio=speech_wav,
    )  # fmt: skip
    info = mediacheck.probe(clip)
    assert info["video"]["codec"] == "h264" and info["video"]["fps"] == 30
    assert info["audio"]["codec"] == "aac"
    assert info["duration"] == pytest.approx(3, abs=0.1)
    samples, rate = mediacheck.decode_audio(clip)
    assert len(samples) / rate == pytest.approx(3, abs=0.1)
    assert mediacheck.audio_rms(clip) > 0.02


def test_render_speed(out: Path) -> None:
    start = time.perf_counter()
    media.render_video(out / "speed.mp4", text="Speed", duration=5, fps=24, width=640, height=360)
    assert time.perf_counter() - start < 3.0


@pytest.mark.parametrize(
    ("aspect", "size"),
    [("16:9", (640, 360)), ("9:16", (360, 640)), ("1:1", (640, 640)), ("4:3", (640, 480)),
     ("3:4", (480, 640)), ("21:9", (640, 274))],
)  # fmt: skip
def test_video_size(aspect: str, size: tuple[int, int]) -> None:
    assert media.video_size(aspect) == size
    w, h = media.video_size(aspect, max_width=1280)
    assert max(w, h) == 1280 and w % 2 == 0 and h % 2 == 0


# --- speech --------------------------------------------------------------------------------


def test_speech_is_audible(speech_wav: Path) -> None:
    info = mediacheck.probe(speech_wav)
    assert info["audio"] == {"codec": "pcm_s16le", "sample_rate": 22050, "channels": 1}
    assert 1.5 < info["duration"] < 6
    assert mediacheck.audio_rms(speech_wav) > 0.03


def test_speech_length_scales_with_speed() -> None:
    text = "The quick brown fox jumps over the lazy dog, twice, to be sure."
    lengths = {s: len(media.synthesize(text, speed=s)[0]) for s in (0.5, 1.0, 2.0)}
    assert lengths[0.5] > 1.6 * lengths[1.0] > 1.6 * 1.6 * lengths[2.0]


def test_voice_names_map_to_distinct_voices() -> None:
    assert "en-us" in media.voices() and "de" in media.voices()
    female, male = media.voice_for("Rachel"), media.voice_for("Adam")
    assert female == media.voice_for("Rachel")  # deterministic
    assert female.startswith("en-us+") and female != male
    assert media.voice_for("neural-narrator-m", "de-DE").startswith("de+")
    assert media.voice_for("Kore", "fr").startswith("fr-fr+")
    assert media.voice_for("Kore", "pt-BR").startswith("pt-br+")
    assert media.voice_for("Kore", "zh-CN").startswith("cmn+")
    assert media.voice_for("Kore", "xx-unknown").startswith("en-us+")
    text = "Good morning, this is a voice test."
    a, rate = media.synthesize(text, voice=female)
    b, _ = media.synthesize(text, voice=male)
    assert _voice_f0(a, rate) > 1.3 * _voice_f0(b, rate)
    names = [f"voice-{i}" for i in range(12)]
    assert len({media.voice_for(n) for n in names}) >= 8


def test_concat_speech_joins_with_gaps() -> None:
    a = media.synthesize("One.")
    b = media.synthesize("Two.")
    joined, rate = media.concat_speech([a, b], gap_s=0.5)
    assert rate == a[1] and joined.dtype == np.int16
    assert len(joined) == len(a[0]) + len(b[0]) + round(0.5 * rate)


# --- music and files -----------------------------------------------------------------------


@pytest.mark.parametrize("bpm", [90, 128])
def test_music_beat_matches_bpm(out: Path, bpm: int) -> None:
    samples, rate, used = media.compose(duration=6, bpm=bpm, seed="lofi rain")
    assert used == bpm and rate == 44100
    assert samples.shape == (6 * 44100, 2) and samples.dtype == np.float32
    assert np.abs(samples).max() <= 1.0
    path = media.write_audio(out / f"music{bpm}.mp3", samples, rate, "mp3")
    decoded, r = mediacheck.decode_audio(path)
    assert mediacheck.tempo(decoded, r) == pytest.approx(bpm, rel=0.03)


def test_music_bpm_from_seed() -> None:
    _, _, bpm = media.compose(duration=1, seed="Lo-fi beat, rain ambience")
    _, _, again = media.compose(duration=1, seed="Lo-fi beat, rain ambience")
    assert 70 <= bpm <= 140 and bpm == again
    samples, rate, bpm = media.compose(duration=5, seed="an upbeat summer song")
    assert mediacheck.tempo(samples, rate) == pytest.approx(bpm, rel=0.03)


@pytest.mark.parametrize("fmt", ["wav", "mp3", "flac"])
def test_audio_formats_decode_to_the_right_length(out: Path, fmt: str) -> None:
    samples, rate, _ = media.compose(duration=3, bpm=100, seed=fmt)
    path = media.write_audio(out / f"m.{fmt}", samples, rate, fmt)
    info = mediacheck.probe(path)
    codec = {"wav": "pcm_s16le", "mp3": "mp3", "flac": "flac"}[fmt]
    assert info["audio"] == {"codec": codec, "sample_rate": 44100, "channels": 2}
    assert info["duration"] == pytest.approx(3, abs=0.1)
    decoded, r = mediacheck.decode_audio(path)
    assert len(decoded) / r == pytest.approx(3, abs=0.1)
    assert mediacheck.audio_rms(path) > 0.05


def test_mix_and_mux(out: Path, speech_wav: Path, clip: Path) -> None:
    samples, rate, _ = media.compose(duration=2, bpm=120, seed="mix")
    music = media.write_audio(out / "loop.flac", samples, rate, "flac")
    mixed = media.mix_tracks(out / "mix.wav", speech=speech_wav, music=music, duration=5)
    info = mediacheck.probe(mixed)
    assert info["duration"] == pytest.approx(5, abs=0.05)
    assert info["audio"]["channels"] == 2
    tail, r = mediacheck.decode_audio(mixed)
    assert np.sqrt(np.mean(tail[-r:] ** 2)) > 0.01, "music was not looped to the end"
    silent = media.mix_tracks(out / "silent.wav", speech=None, music=None, duration=1)
    assert mediacheck.audio_rms(silent) == 0.0

    muxed = media.mux(clip, mixed, out / "muxed.mp4")
    info = mediacheck.probe(muxed)
    assert info["video"]["codec"] == "h264" and info["audio"]["codec"] == "aac"
    assert info["duration"] == pytest.approx(2.5, abs=0.1)  # trimmed to the video
    assert mediacheck.audio_rms(muxed) > 0.02


# --- probe ---------------------------------------------------------------------------------


def test_probe_agrees_with_mediacheck(clip: Path, speech_wav: Path) -> None:
    for path in (clip, speech_wav):
        mine, theirs = media.probe(path), mediacheck.probe(path)
        if theirs["video"] is not None:
            theirs["video"].pop("sar")  # mediacheck also reads the pixel aspect
        assert mine["video"] == theirs["video"] and mine["audio"] == theirs["audio"]
        assert mine["duration"] == pytest.approx(theirs["duration"], abs=0.01)
    assert media.audio_rms(speech_wav) == pytest.approx(mediacheck.audio_rms(speech_wav), rel=1e-3)


def test_probe_rejects_non_media(out: Path) -> None:
    junk = out / "junk.mp4"
    junk.write_text("not a video")
    with pytest.raises(ValueError, match="not a media file"):
        media.probe(junk)


def test_import_is_cheap() -> None:
    code = (
        "import nbmedia.sandbox.services.media as m\n"
        "assert m.speech._engine is None\n"
        "assert m._ffmpeg.ffmpeg_exe.cache_info().currsize == 0\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="no process priorities")
def test_ffmpeg_renders_below_the_sandboxs_own_priority(monkeypatch) -> None:
    """A render yields the CPU to the API's answers (and to a kernel on the same cores)."""
    import threading

    from nbmedia.sandbox.services.media import _ffmpeg

    started: list[subprocess.Popen[bytes]] = []
    popen = subprocess.Popen

    def recorded(*args, **kwargs):
        started.append(popen(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(_ffmpeg.subprocess, "Popen", recorded)
    # -re: read at the input's own pace, so the process lives its 2 s
    args = ["-re", "-f", "lavfi", "-i", "anullsrc=r=8000", "-t", "2", "-f", "null", "-"]
    render = threading.Thread(target=_ffmpeg.run, args=(args,))
    render.start()
    try:
        deadline = time.monotonic() + 10
        while not started and time.monotonic() < deadline:
            time.sleep(0.01)
        want = min(19, os.getpriority(os.PRIO_PROCESS, 0) + _ffmpeg.RENDER_NICE)
        seen = None  # lowered just after it starts: looked at until then (within its 2 s)
        while seen != want and render.is_alive() and time.monotonic() < deadline:
            seen = os.getpriority(os.PRIO_PROCESS, started[0].pid)
            time.sleep(0.01)
    finally:
        render.join()
    assert seen == want
