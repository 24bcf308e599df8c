"""Real speech from eSpeak NG, loaded from the espeakng-loader wheel through ctypes.

No system package and no network: the wheel ships libespeak-ng and its voice data. The library
keeps global state and is not thread-safe, so every call goes through one module lock, and it is
initialised lazily (importing this module costs nothing).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import threading
from pathlib import Path

import numpy as np

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000  # report errors instead of calling exit() inside the library
_CHARS_UTF8 = 1
_RATE = 1
_WPM_NORMAL, _WPM_MIN, _WPM_MAX = 175, 80, 450

_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)

# Variants (espeak-ng-data/voices/!v) that sound like distinct, clean voices.
FEMALE_VARIANTS = (
    "f1", "f2", "f3", "f4", "f5", "Annie", "Alicia", "Andrea", "belinda", "linda", "steph",
    "aunty", "anika", "shelby",
)  # fmt: skip
MALE_VARIANTS = (
    "m1", "m2", "m3", "m4", "m6", "m7", "m8", "Andy", "Denis", "Gene", "Lee", "Michael",
    "david", "Mario", "ed", "john", "paul", "robert", "norbert",
)  # fmt: skip


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Well-known provider voice names, so a "Rachel" sounds female and an "Adam" male (a bonus).
_FEMALE_NAMES = _words(
    "rachel domi bella elli dorothy charlotte matilda nicole grace freya emily glinda mimi serena "
    "lily sarah alice jessica laura aria achernar aoede autonoe callirrhoe despina erinome gacrux "
    "kore laomedeia leda pulcherrima sulafat vindemiatrix zephyr nova shimmer coral sage alloy "
    "joanna salli kimberly kendra ivy amy emma olivia"
)
_MALE_NAMES = _words(
    "adam antoni josh arnold sam clyde dave fin george callum charlie liam brian bill chris daniel "
    "eric will thomas patrick harry ethan michael giovanni james joseph jeremy achird algenib "
    "algieba alnilam charon enceladus fenrir iapetus orus puck rasalgethi sadachbia sadaltager "
    "schedar umbriel zubenelgenubi onyx echo fable ash ballad verse matthew joey justin brian "
    "russell"
)


class _ESpeak:
    """The loaded library, its sample rate and the buffer the synth callback fills."""

    def __init__(self) -> None:
        import espeakng_loader

        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synchronize.restype = ctypes.c_int
        lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        data = espeakng_loader.get_data_path().encode()
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data, _INITIALIZE_DONT_EXIT)
        if rate <= 0:
            raise RuntimeError(f"espeak_Initialize failed ({rate}) with data at {data!r}")
        self.lib = lib
        self.rate = rate
        self.chunks: list[np.ndarray] = []
        self._cb = _CALLBACK(self._collect)  # keep a reference: ctypes must not free it
        lib.espeak_SetSynthCallback(self._cb)

    def _collect(self, wav: ctypes._Pointer, n: int, _events: int) -> int:
        if n > 0 and wav:
            self.chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0  # 0 = keep synthesising


class _Voice(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


_lock = threading.Lock()
_engine: _ESpeak | None = None


def _get() -> _ESpeak:
    """The initialised engine; call with _lock held."""
    global _engine
    if _engine is None:
        _engine = _ESpeak()
    return _engine


@functools.cache
def voices() -> list[str]:
    """Language voice names eSpeak NG accepts (e.g. 'en-us', 'de', 'fr-fr'), sorted.

    Voices whose pronunciation dictionary the wheel does not ship (it prints an error and
    mispronounces) are left out.
    """
    import espeakng_loader

    data = Path(espeakng_loader.get_data_path())
    names: set[str] = set()
    with _lock:
        engine = _get()
        arr = engine.lib.espeak_ListVoices(None)
        i = 0
        while arr[i]:
            v = arr[i].contents
            i += 1
            if not v.languages or not v.identifier:
                continue
            # languages: repeated (priority byte, NUL-terminated name), ended by a 0 byte.
            name = ctypes.string_at(v.languages + 1).decode("ascii", "replace").lower()
            if name and _has_dictionary(data, v.identifier.decode(), name):
                names.add(name)
    return sorted(names)


def _has_dictionary(data: Path, identifier: str, name: str) -> bool:
    dictionary = name.split("-")[0]
    voice_file = data / "lang" / identifier
    if voice_file.is_file():
        for line in voice_file.read_text(errors="replace").splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "dictionary":
                dictionary = parts[1]
    return (data / f"{dictionary}_dict").is_file()


def language_voice(language: str) -> str:
    """The eSpeak voice for a BCP-47-ish tag ('en-US', 'pt_BR', 'de'); 'en-us' when unknown."""
    available = voices()
    tag = language.strip().lower().replace("_", "-")
    aliases = {"en": "en-us", "zh": "cmn", "zh-cn": "cmn", "zh-tw": "cmn", "yue": "yue", "no": "nb"}
    tag = aliases.get(tag, tag)
    if tag in available:
        return tag
    primary = tag.split("-")[0]
    primary = aliases.get(primary, primary)
    if primary in available:
        return primary
    same = [name for name in available if name.split("-")[0] == primary]
    if f"{primary}-{primary}" in same:  # 'fr' -> 'fr-fr' rather than 'fr-be'
        return f"{primary}-{primary}"
    return min(same, key=len) if same else "en-us"


def voice_for(name: str, language: str = "en-us") -> str:
    """Deterministic eSpeak spec ('en-us+f3') for any provider voice name.

    Same name, same voice; different names spread over distinct variants; names that read as
    female (a '-f' suffix, 'female', well-known female voice names) get female variants.
    """
    key = name.strip().lower()
    digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
    words = set(key.replace("_", "-").replace(" ", "-").split("-"))
    if key.endswith(("-f", "_f")) or "female" in words or "woman" in words or key in _FEMALE_NAMES:
        pool = FEMALE_VARIANTS
    elif key.endswith(("-m", "_m")) or "male" in words or "man" in words or key in _MALE_NAMES:
        pool = MALE_VARIANTS
    else:
        pool = FEMALE_VARIANTS + MALE_VARIANTS
    return f"{language_voice(language)}+{pool[digest % len(pool)]}"


def synthesize(text: str, *, voice: str = "en-us", speed: float = 1.0) -> tuple[np.ndarray, int]:
    """Mono int16 samples and their sample rate (22050) for `text`.

    `speed` 1.0 is eSpeak's normal 175 words per minute, scaled linearly and clamped to the
    library's 80..450 wpm. An unknown voice falls back to plain 'en-us' rather than failing.
    """
    wpm = int(round(min(_WPM_MAX, max(_WPM_MIN, _WPM_NORMAL * float(speed)))))
    data = text.encode("utf-8")
    with _lock:
        engine = _get()
        lib = engine.lib
        if lib.espeak_SetVoiceByName(voice.encode()) != 0 and (
            lib.espeak_SetVoiceByName(voice.split("+")[0].encode()) != 0
        ):
            lib.espeak_SetVoiceByName(b"en-us")
        lib.espeak_SetParameter(_RATE, wpm, 0)
        engine.chunks = []
        buf = ctypes.create_string_buffer(data)
        err = lib.espeak_Synth(buf, len(data) + 1, 0, 0, 0, _CHARS_UTF8, None, None)
        lib.espeak_Synchronize()
        chunks, engine.chunks = engine.chunks, []
        rate = engine.rate
    if err != 0:
        raise RuntimeError(f"espeak_Synth failed with error {err}")
    samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
    return samples.astype(np.int16, copy=False), rate
