"""Vimmerse media API (v2) on the sandbox, written from ``api-docs/vimmerse.txt``, section 2 of
``providers.md`` and the readings in its "Choices where the documentation is silent"; it shares
no code with the client in ``nbmedia/providers/``.

Mounted at ``/vimmerse``: ``{sandbox}/vimmerse`` replaces ``https://api.vimmerse.net``, so the
page's ``requests`` example runs unchanged against it. Enums, limits, defaults, voices, statuses
and error codes are the tables in ``contract.py``, so that a correction to our reading is one
line; ``validation`` checks requests, ``fetching`` gets their media, ``rendering`` makes the
videos, ``state`` holds media objects and their generations, ``routes`` wires them.

Every error, request validation included, is exactly ``{"message", "code"}`` (the v2 page: "all
error responses use exactly two fields"; FastAPI's ``{"detail": [...]}`` is v1's). A validation
error is ``422`` with code ``VALIDATION_ERROR`` (ours: the page names no code for it) and a message
naming each broken field, produced by pydantic models built from the tables (so the same lax
coercions apply, e.g. ``"3"`` → 3).

Our readings where the page is silent (ours, not Vimmerse's; the report lists them):

- a missing or empty ``X-Api-Key`` is ``401 {message, code: "UNAUTHORIZED"}``; a 429 or 5xx
  keeps ``{message, code}`` (``RATE_LIMITED``, ``INTERNAL_ERROR`` …), a 429 adds a
  ``Retry-After`` header (never a body field);
- the object adds ``progress_percentage`` (the v1 field), ``visibility_status`` and ``rating``
  (so a metadata PATCH can be read back) and, when a generation failed, ``error {message,
  code}``; ``title``, ``description``, ``pose_preset.prompt`` and ``webhook_url`` read ``""``
  when not given;
- ``null`` means "not given", in POST and PATCH alike; a blank prompt is no prompt; the
  prompt-or-media_items rule is a 422 at ``loc ["body", "prompt"]``;
- PATCH generation keys merge onto the previous request (``audio_option`` is replaced whole)
  and supersede a generation still running, which then sends no webhook; ``result`` holds the
  latest successful generation's URLs until a newer one succeeds;
- ``duration_time`` is the output length in seconds as a string (the rendered one once done);
  ``submit_params.file_size`` is the outputs' total bytes as a string once done;
- video items give a still (their first frame); ``position`` "First"/"Last" orders the visual
  items; audio items are joined into the soundtrack and replace ``audio_option`` entirely;
  ``bg_music_url`` wins over ``bg_music_prompt``; ``native_audio`` alone adds a quiet room tone;
- ``rating`` is any number; ``visibility_status`` is "0" | "1" | "2" (default "1");
- with ``quantity`` > 1 each output's caption ends "(i/n)" and has its own seed, so the videos
  differ even when made from one image; ``pipeline_mode`` is validated but changes nothing;
- the seed comes from the request (its generation fields, input files and generation number),
  so identical requests get identical videos, rendered once (``render_key``), and a
  regeneration differs from the first take;
- the webhook body is ``{customer_id, media_id, status}`` with status ``success`` | ``failed``,
  unsigned, sent when a generation ends.
"""

from .contract import NAME, WEBHOOK_SECRET
from .errors import error
from .rendering import voice_spec
from .routes import build

__all__ = ["NAME", "WEBHOOK_SECRET", "build", "error", "voice_spec"]
