"""What a ``generation_config`` and an ``input`` may say: languages, voices, categories,
formats, each route's fields and their defaults, as the API reference lists them."""

from __future__ import annotations

import re
from typing import Any

LANGUAGES = {
    "en-US": "English (US)",
    "en-GB": "English (GB)",
    "en-AU": "English (AU)",
    "en-IN": "English (IN)",
    "es-ES": "Spanish (ES)",
    "es-US": "Spanish (US)",
    "fr-FR": "French (FR)",
    "fr-CA": "French (CA)",
    "de-DE": "German",
    "it-IT": "Italian",
    "pt-BR": "Portuguese (BR)",
    "ja-JP": "Japanese",
    "ko-KR": "Korean",
    "zh-CN": "Chinese",
    "ar-XA": "Arabic",
    "hi-IN": "Hindi",
    "bn-IN": "Bengali",
    "bg-BG": "Bulgarian",
    "hr-HR": "Croatian",
    "cs-CZ": "Czech",
    "da-DK": "Danish",
    "nl-NL": "Dutch (NL)",
    "nl-BE": "Dutch (BE)",
    "et-EE": "Estonian",
    "fi-FI": "Finnish",
    "el-GR": "Greek",
    "gu-IN": "Gujarati",
    "he-IL": "Hebrew",
    "hu-HU": "Hungarian",
    "id-ID": "Indonesian",
    "kn-IN": "Kannada",
    "lv-LV": "Latvian",
    "lt-LT": "Lithuanian",
    "ml-IN": "Malayalam",
    "mr-IN": "Marathi",
    "nb-NO": "Norwegian",
    "pl-PL": "Polish",
    "pa-IN": "Punjabi (India)",
    "ro-RO": "Romanian",
    "ru-RU": "Russian",
    "sr-RS": "Serbian (Cyrillic)",
    "sk-SK": "Slovak",
    "sl-SI": "Slovenian",
    "sv-SE": "Swedish",
    "sw-KE": "Swahili",
    "ta-IN": "Tamil",
    "te-IN": "Telugu",
    "th-TH": "Thai",
    "tr-TR": "Turkish",
    "uk-UA": "Ukrainian",
    "ur-IN": "Urdu",
    "vi-VN": "Vietnamese",
}
"""The page's 52 languages as BCP-47 codes, with the page's names."""

VOICES = (
    "Achernar", "Achird", "Algenib", "Algieba", "Alnilam", "Aoede", "Autonoe", "Callirrhoe",
    "Charon", "Despina", "Enceladus", "Erinome", "Fenrir", "Gacrux", "Iapetus", "Kore",
    "Laomedeia", "Leda", "Orus", "Puck", "Pulcherrima", "Rasalgethi", "Sadachbia",
    "Sadaltager", "Schedar", "Sulafat", "Umbriel", "Vindemiatrix", "Zephyr", "Zubenelgenubi",
)  # fmt: skip
"""Voice ids (the Gemini / Chirp 3 HD star names; the docs' example is Achernar)."""

SAME_LANGUAGE = {"no": "nb", "cmn": "zh"}
"""Primary subtags naming a listed language under another code (the 400's hint only)."""

CATEGORIES = (
    "Auto",
    "Educational Lecture",
    "Educational Kids",
    "Government Meeting",
    "Documentary",
    "Narrative Story",
    "Social Media",
    "Tutorial/How-To",
    "Vlog",
    "Commercial/Advertisement",
    "News",
    "Entertainment",
    "Home Video",
    "Video Call",
)
FORMATS = ("json", "vtt", "edl", "srt")
VIDEO_FORMAT = "video"
"""The page's fourth output format: accepted by ``generate_ad_video`` only."""
AD_TYPES = ("standard_ad", "extended_ad")
DEFAULT_CONFIG: dict[str, Any] = {
    "language": "en-US",
    "format": "json",
    "ad_type": "standard_ad",
    "voice": "Achernar",
    "custom_instructions": None,
    "read_all_onscreen_text": False,
    "video_category": "Auto",
    "auto_fit": True,
    "allow_descriptions_over_music": True,
    "custom_captions": None,
    "volume_option": "auto",
    "volume_level_db": None,
    "audio_track_type": "mixed",
    "description_content": None,
}
"""Every ``generation_config`` field and its default (``auto_fit`` and
``allow_descriptions_over_music`` default to the API reference's example value, true)."""
BASE_FIELDS = (
    "language", "format", "ad_type", "voice", "custom_instructions", "read_all_onscreen_text",
    "video_category", "auto_fit", "allow_descriptions_over_music", "custom_captions",
)  # fmt: skip
ROUTE_FIELDS = {
    "text": BASE_FIELDS,
    "audio": BASE_FIELDS
    + ("volume_option", "volume_level_db", "audio_track_type", "description_content"),
    "video": BASE_FIELDS + ("volume_option", "volume_level_db", "description_content"),
}
"""The ``generation_config`` fields each route takes: its API reference page's request body and
"Generation Config Options" table (the audio track type is the audio route's only: it picks the
track ``audio_signed_url`` returns)."""
VOLUME_OPTIONS = ("auto", "max")
"""``max`` sets the AD narration's peak to ``volume_level_db``; ``auto`` is the default level."""
VOLUME_DB_RANGE = (-10.0, 0.0)
"""``volume_level_db``: max peak in dBFS, "supported range is -10 to 0"."""
VOLUME_DB_DEFAULT = -5.0
"""The reference's example value, used when ``max`` comes without a level (our reading)."""
AUDIO_TRACK_TYPES = ("mixed", "ad_only")
"""``mixed`` (default): the source's own sound plus the narration; ``ad_only``: the narration."""
CUSTOM_CAPTION_FIELDS = ("content", "format", "filename")
"""``custom_captions`` is ``{"content": "<VTT/SRT/plaintext>"}``; format and filename are hints."""

INPUT_TYPES = ("media_id", "url", "file")
INPUT_FIELDS = {
    "media_id": ("type", "media_id", "filename"),
    "url": ("type", "url", "filename"),
    "file": ("type", "filename"),
    "signed_url": ("type", "filename", "content_type"),
}
CUE_TIMING = re.compile(
    r"^(\d+:)?\d{1,2}:\d\d[.,]\d{3}\s+-->\s+(\d+:)?\d{1,2}:\d\d[.,]\d{3}(\s.*)?$"
)
"""A VTT or SRT cue's timing line (``custom_captions`` content)."""
