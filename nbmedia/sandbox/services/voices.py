"""Voice samples: a few words in the very voice a provider module renders for that voice id.

Free on the sandbox, so a voice picker can play any voice without a billed request.
"""

from __future__ import annotations

import io
import wave
from types import ModuleType

DEFAULT_TEXT = "Hello! This is the voice {voice}, speaking for nbmedia."


def spec_for(module: ModuleType, voice: str) -> str:
    """The eSpeak NG voice `module` uses for `voice` (its own table if it has one)."""
    from .media.speech import voice_for

    own = getattr(module, "voice_spec", None)
    return own(voice) if callable(own) else voice_for(voice)


def sample_wav(module: ModuleType, voice: str, text: str | None = None) -> bytes:
    """A short WAV of `voice` saying `text`."""
    from .media.speech import synthesize

    samples, rate = synthesize(
        text or DEFAULT_TEXT.format(voice=voice), voice=spec_for(module, voice)
    )
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())
    return buf.getvalue()
