"""Offline renderers for the sandbox: real MP4, speech, music and probes, no network, no GPU.

Everything runs through numpy, Pillow, the imageio-ffmpeg binary and the espeakng-loader
library; nothing is started or loaded at import time.
"""

from __future__ import annotations

from ._ffmpeg import FFmpegError, ffmpeg_exe
from .audio import concat_speech, mix_tracks, mux, write_audio
from .music import compose
from .probe import audio_rms, decode_audio, frame_at, probe, scene_changes
from .speech import synthesize, voice_for, voices
from .video import render_thumbnail, render_video, video_size

__all__ = [
    "FFmpegError",
    "audio_rms",
    "compose",
    "concat_speech",
    "decode_audio",
    "ffmpeg_exe",
    "frame_at",
    "mix_tracks",
    "mux",
    "probe",
    "render_thumbnail",
    "render_video",
    "scene_changes",
    "synthesize",
    "video_size",
    "voice_for",
    "voices",
    "write_audio",
]
