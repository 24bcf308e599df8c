"""ViddyScribe Enterprise API on the sandbox, written from ``api-docs/viddyscribe.txt``, section 3
of ``providers.md`` and its readings ("Choices where the documentation is silent"); it shares no
code with the client in ``nbmedia/providers/``.

Mounted at ``/viddyscribe``: ``{sandbox}/viddyscribe`` replaces ``https://api.viddyscribe.com``,
so every documented path (``/enterprise/api/upload_media`` ...) works unchanged under it.
Languages, voices, categories, formats and each route's fields are the tables in
``catalog.py``; plans, statuses, timings, limits and error codes those in ``contract.py``; the
description wording is data in ``wording.py``: a correction to our reading is one line.
``gate`` (key, plan, allocation, submissions in flight) and ``queue`` (processing slots) admit
requests, ``bodies``, ``validation`` and ``submission`` read and check them, ``uploads``,
``ingest`` and ``signed`` take in videos, ``jobs`` holds jobs, ``signing`` signs links,
``analysis``, ``describe``, ``formats``, ``speech`` and ``rendering`` make the outputs, and
``routes`` wires them.

Our readings where the documentation is silent (beyond those in providers.md):

- Keys: ``X-API-Key: vsk_<letters, digits, _ or ->``; anything else is 401 ``unauthorized``.
  Limits are per team and a key is its own team. A key containing ``_starter_`` is on the
  Starter plan (videos up to 10 min, files up to 32 MB), any other on Enterprise (2 h, 2 GB).
  A key containing ``_exhausted_`` has used up its allocation: every generation request is
  429 ``plan_limit_exceeded`` (uploads and reads still work); that 429 has no ``retry_after``,
  since waiting does not help.
- Errors: ``{"code", "message"}``; a 400 is ``invalid_request`` and its message names the field
  (``generation_config.language``, ``input.url`` ...). Every 429 except ``plan_limit_exceeded``
  adds ``retry_after`` (whole seconds) and a ``Retry-After`` header. The codes and statuses are
  ``ERRORS``. Checks run: auth (401), allocation (429 plan), submissions in flight (429
  concurrency), body and config (400), queue (429 queue), then the input (404, 409, 403, 415).
- ``concurrency_limit_exceeded``: at most ``SUBMISSIONS_IN_FLIGHT`` upload or generation
  requests of one team may be received and validated at once (counted from the headers to the
  answer, so a slow body holds its slot). ``queue_limit_exceeded``: a team runs
  ``PROCESSING_SLOTS`` jobs at a time; jobs beyond wait ``queued``, and a new job is refused
  while ``MAX_QUEUED_JOBS`` of the team's jobs have not started. ``rate_limit_exceeded``: only
  through the sandbox's ``rate_limit_next`` fault. ``faults.plan_limits = False`` (a benchmark
  knob) lifts the submissions in flight, the processing slots and the queue limit.
- Uploads. Direct (multipart ``file``, optional ``input={"type":"file"}``) and URL uploads are
  verified while the request waits: the answer is ``{media_id, status: "created",
  duration_seconds, frame_rate, width, height, file_size_bytes, filename, content_type}`` and the
  media can be used at once. A direct upload (or a data: URI) above 32 MB is 403
  ``file_too_large`` (the page lists no 413; the message points to the signed-URL flow); a
  file that is not decodable media, or has no video stream, is 415 ``no_video_stream``; a video
  longer than the plan allows is 403 ``video_too_long``. URL inputs: files this sandbox served
  (any provider's outputs, ViddyScribe's own signed links while fresh) and base64 data: URIs;
  any other URL cannot be fetched offline and is 400 ``invalid_request`` naming ``input.url``.
- Signed-URL flow: ``upload_url`` is a PUT on this sandbox (``/viddyscribe/upload/...``, no key,
  valid ``UPLOAD_URL_TTL`` s) that needs the ``Content-Type`` that was signed (else 403
  ``signature_mismatch``) and can be written until ``notify_upload_complete``. Notify checks the
  size (403 ``file_too_large`` over the plan; 409 ``upload_not_ready`` if nothing was PUT) and
  starts verification, which takes ``VERIFY_SECONDS`` on the clock: ``get_upload_status`` says
  ``pending`` (before notify), ``processing``, then ``completed`` or ``failed`` (with
  ``error_code`` ``no_video_stream`` / ``video_too_long`` and ``error``). ``canonical_media_id``
  is ``null`` until ``completed`` and then **always differs** from the provisional id; both ids
  are accepted from then on, and jobs report the canonical one. ``gcs_path`` is required by
  notify and optional (but checked) in ``get_upload_status``. Generating from a signed upload
  before it completed is 409 ``upload_not_ready``; after it failed, 409 ``upload_failed``.
- Generation: ``{"input": {...}, "generation_config": {...}}`` (JSON, or multipart with
  ``input`` and ``generation_config`` as JSON strings plus ``file``), or the overview's flat
  ``{"media_id", "language", ...}``. Unknown fields are 400; ``null`` means the default
  (``DEFAULT_CONFIG``: en-US, json, standard_ad, Achernar, Auto). ``language`` and ``voice``
  match case-insensitively and are reported in their canonical spelling. ``format`` is
  ``FORMATS`` (srt included); ``video`` (the page's fourth output) is accepted by
  ``generate_ad_video`` only and then gives the JSON output. ``custom_instructions`` (at most
  ``CUSTOM_INSTRUCTIONS_MAX`` characters) is validated and kept, and changes nothing.
  ``read_all_onscreen_text`` applies to ``extended_ad`` only, as the docs say.
- The API reference's further fields, per route as its pages list them (``ROUTE_FIELDS``; a
  field of another route is a 400 naming the routes that take it): ``auto_fit`` and
  ``allow_descriptions_over_music`` (booleans, default true, the reference's example; the
  sandbox detects no speech or music, so they change nothing), ``custom_captions``
  (``{"content", "format"?, "filename"?}``: content required, cue timing lines must parse;
  kept, changes nothing), ``description_content`` (audio and video; a string, kept, its meaning
  is not documented). ``volume_option`` ``auto`` | ``max`` and ``volume_level_db`` (-10 to 0
  dBFS, used with ``max``; ``max`` without a level is ``VOLUME_DB_DEFAULT``) set the narration's
  peak, in the audio track and in the described MP4's mix. ``audio_track_type`` (audio route
  only) ``mixed`` (default: the source's own sound under the narration, a stereo WAV) or
  ``ad_only`` (the narration alone, mono). ``input.filename`` (every input type) names the video
  in the outputs (the EDL's title and clip) and, for uploads, the media.
- Languages: the page's 52, as the Google Chirp 3 HD codes the star-name voices come with
  (Arabic ``ar-XA``, Bengali ``bn-IN``, Swahili ``sw-KE``, Urdu ``ur-IN``; Chinese ``zh-CN``,
  Norwegian ``nb-NO``). The docs give BCP-47 codes and no aliases: another region's code
  (``ar-SA``, ``no-NO``) is a 400 that names the listed code of that language.
  Voices: the 30 Chirp 3 HD / Gemini star names (the newer page says 31; the 31st is unknown).
- Jobs: ids ``task_<12 chars>``; statuses queued, processing, done, failed; timestamps
  ISO-8601 UTC (``...Z``, seconds). Timing is ``timing()``: half the video's length plus a few
  seconds (the docs' ~5 min per 10-min video), divided by the sandbox speed. A failed job has
  ``error_code`` and ``error`` (the ``fail_next_jobs`` fault, or ``internal_error``).
- Results: every done job has ``output``: json ``{"format": "json", "language", "ad_type",
  "segments": [{start, end, text}]}``; vtt/srt/edl ``{"format", "language", "ad_type",
  "content"}``; plus ``note`` when the wording fell back to English. Audio jobs add
  ``audio_signed_url`` (WAV), video jobs ``video_signed_url`` (MP4) and, for standard_ad,
  ``audio_signed_url``. Links are signed, valid ``SIGNED_URL_TTL`` s (15 min) of sandbox clock
  from the ``get_results`` call that made them; an expired or altered link is 403 (code
  ``signed_url_expired`` / ``signature_mismatch``); each ``get_results`` signs fresh links.
- Descriptions are made from the video itself: segments tile the video from 0 to its end, cut
  at its scene changes (ffmpeg's scene score and sharp colour changes) and split into pieces of
  at most ``MAX_SEGMENT_SECONDS`` (shorter for extended_ad, whose text is also longer). Each
  says what the frames show: light, main colours, motion, brightening or darkening, cuts.
  On-screen text is what the file's metadata carries (``title``, ``comment``, ``description``:
  pixels are not read, and the sandbox's own renders carry none): standard_ad names the title,
  extended_ad with ``read_all_onscreen_text`` reads every such text in its own segment(s) at the
  start. Wording: real templates for English, Spanish, French, German, Italian, Portuguese and
  Dutch (``WORDINGS``); the other languages get English text and a ``note``. The category
  changes the English opening only.
- Audio: eSpeak NG speaks each segment at its start (sped up, then cut, to fit before the next),
  in the language of the wording (English for the fallbacks), with the voice's eSpeak variant;
  a mono 16-bit WAV exactly the video's length. Extended AD does not pause the picture. The
  described MP4 is the input's picture (copied) with that track mixed over its own audio
  (``ORIGINAL_AUDIO_GAIN``).
"""

from .catalog import LANGUAGES, VOICES
from .contract import (
    MAX_QUEUED_JOBS,
    NAME,
    PROCESSING_SLOTS,
    SIGNED_URL_TTL,
    SUBMISSIONS_IN_FLIGHT,
    WEBHOOK_SECRET,
)
from .errors import error
from .routes import build
from .speech import voice_spec

__all__ = [
    "LANGUAGES",
    "MAX_QUEUED_JOBS",
    "NAME",
    "PROCESSING_SLOTS",
    "SIGNED_URL_TTL",
    "SUBMISSIONS_IN_FLIGHT",
    "VOICES",
    "WEBHOOK_SECRET",
    "build",
    "error",
    "voice_spec",
]
