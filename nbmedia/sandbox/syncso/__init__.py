"""sync.so (Sync Labs) API v2 lip-sync generations on the sandbox, written from
``api-docs/syncso.txt``, section 5 of ``providers.md`` (with its readings) and the wire types of
the public ``syncsdk`` SDK (0.3.0: ``generations/raw_client.py``, ``common/types``); it shares no
code with the client in ``nbmedia/providers/``.

Mounted at ``/syncso``: ``{sandbox}/syncso`` replaces ``https://api.sync.so``, so
``Sync(base_url=f"{sandbox.url}/syncso", api_key=...)`` works unchanged. Models, plans, statuses,
option enums and ranges, limits, prices and error codes are the tables in ``contract.py``, so
that a correction to our reading is one line.

The parts: ``contract`` (tables), ``errors`` (the NestJS body, ``Problems``), ``gate`` (key,
plan, credit, rates, concurrency), ``bodies`` (JSON and multipart bodies, size limits),
``idempotency``, ``spec``/``validation``/``options``/``checks`` (the create body),
``inputs`` (uploads and fetched media), ``media`` (what only the media decide),
``estimate`` (the cost), ``generations`` (lifecycle, webhooks, the Generation object),
``assets``/``asset_requests`` (the library), ``batches``/``batch_file``/``batch_upload``,
``signing`` (webhook signatures), ``rendering``/``face``/``sound`` (outputs), ``state`` (the
parts together, and the create flow) and ``routes``.

Routes (as the SDK calls them, plus the aliases older and newer docs name):
``POST /v2/generate`` (JSON, or multipart "with files"; ``/v2/generate/upload`` too),
``GET /v2/generate/{id}``, ``GET /v2/generations`` (``GET /v2/generate`` too),
``POST /v2/analyze/cost`` (``/v2/generate/estimate-cost``, ``/v2/generations/estimate-cost``
too), ``GET /v2/models``; the asset library (SDK ``assets`` + the docs' Assets API):
``POST /v2/assets/upload`` (a presigned URL), ``PUT {uploadUrl}`` (no key), ``POST /v2/assets``
(register a URL), ``GET /v2/assets`` (``projectId``, ``limit`` 1-100, ``cursor``,
``searchQuery``, ``sortBy``, ``types``), ``GET``/``DELETE /v2/assets/{id}``; batches (SDK
``batch``): ``POST /v2/batch`` (multipart ``input`` JSON Lines file, ``webhook_url``,
``dry_run``), ``GET /v2/batch`` (``status``, ``created_after``, ``created_before``),
``GET /v2/batch/{id}`` and the results file ``GET /v2/batches/{id}/result``.

Our readings where the documentation is silent (beyond those in providers.md):

- Auth: any non-empty ``x-api-key`` is valid (else 401). The plan is read from the key
  (``PLAN_MARKERS``); a key containing ``_nocredit_`` has no credit: creating is 402, reading
  and estimating stay free. Generations, idempotency keys and rate windows are per API key
  (the sandbox's "organization").
- Errors are NestJS bodies ``{"statusCode", "message", "error"}`` (``error`` is the HTTP reason
  phrase). A 400 from body validation lists every problem in ``message`` (a list of strings, in
  class-validator's wording); other errors have a string ``message``. Idempotency errors add
  ``"code"`` (``INVALID_IDEMPOTENCY_KEY``, ``IDEMPOTENCY_KEY_MISMATCH``,
  ``IDEMPOTENCY_REQUEST_IN_PROGRESS``).
- 429: ``POST /v2/generate`` 60 requests a minute, every other route 600 (rolling 60 s window per
  key), and the plan's concurrency (PENDING + PROCESSING generations of the key) on create. The
  documentation promises no ``Retry-After`` and none is ever sent, not even by the
  ``rate_limit_next`` fault: clients must back off on their own (the docs say 1, 2, 4, 8, 16 s).
  ``faults.plan_limits = False`` (a benchmark knob) lifts both the rates and the concurrency.
- Checks run in this order: auth (401), rate (429), the ``Idempotency-Key`` header's form
  (400), body size (413), key reuse (409/422, or a replay), body (400), credit (402),
  concurrency (429).
- What is a 400 and what is a failed generation: everything decidable from the body's shape is
  a 400 (types, enums, ranges, unknown properties, react-1-only options on other models, more
  than one video item, malformed or overlapping segments, a segment ``refId`` no input has, a
  ``url`` that is not http(s) or ``data:``, both ``url`` and ``assetId`` on one item). The documented ``generation_*`` conditions end the generation ``FAILED`` with
  ``error`` and ``error_code``: no video item (``generation_video_missing``), no audio or text
  item (``generation_audio_missing``), a script over 5000 characters
  (``generation_text_length_exceeded``), segments with a model that has none
  (``generation_unsupported_model``: react-1 and lipsync-1.9.0-beta), and whatever needs the
  media: unreadable media or no duration/frame rate (``generation_media_metadata_missing``), a
  video file without a picture (``generation_video_missing``), an audio file without sound
  (``generation_audio_missing``), audio over 300 s (``generation_audio_length_exceeded``),
  segment or crop ranges outside the media, or a speaker frame/point outside the video
  (``generation_input_validation_failed``). A failure surfaces once the generation is
  PROCESSING, as when a real worker downloads the media.
- ``REJECTED``: an input URL the sandbox cannot fetch (any http(s) URL it did not serve itself,
  or a broken ``data:`` URI) gives a generation that goes from PENDING straight to REJECTED with
  ``error_code`` ``generation_media_download_failed``. ``fail_next_jobs`` with a code in
  ``REJECT_CODES`` rejects too; any other code fails.
- ``POST /v2/generate`` answers 201 with the Generation object (NestJS's default for POST);
  so does the cost estimate. The object always carries every key of the SDK's ``Generation``
  (``null`` when unknown); ``input`` is echoed as sent (uploads appear as the URL they were
  stored at), ``options`` with the defaults filled in (``sync_mode`` cut_off, ``temperature``
  0.5, and for react-1 ``model_mode`` face). ``createdAt`` is ISO-8601 UTC with milliseconds.
  ``outputUrl``, ``outputDuration`` (seconds, measured on the file) and ``segmentOutputUrl``
  (segments only) appear once COMPLETED. The output's file name ends ``<outputFileName>.mp4``
  (prefixed by the generation id: names are unique per sandbox).
- Assets: an input may name ``assetId`` instead of ``url`` (create and estimate). An id the
  key does not own (or a deleted one) is 404 ``errorCode: asset_not_found``, as ``GET
  /v2/assets/{id}`` answers; a video item naming an AUDIO asset is a 400. Registering fetches
  the URL (a file this sandbox serves, e.g. a presigned upload's ``url`` once PUT, or a
  ``data:`` URI, copied into the provider's files) and probes it: unfetchable is 400, a file
  without the declared kind of stream is 400, ``projectId`` is 422 ``project_not_found`` (no
  projects here). ``inputType`` is UPLOAD for a presigned upload (named by its ``fileName``),
  else URL; ``visibility`` USER. The presigned PUT needs the declared Content-Type (else 403)
  and takes at most the declared size (else 400); the URL lasts ``UPLOAD_URL_TTL``. Lists are
  sorted by ``sortBy`` (default dateDesc), paged by an opaque ``nextCursor`` (null on the last
  page) with ``totalCount``; ``projectId`` matches nothing.
- Batches: Scale and Enterprise only (``BATCH_PLANS``; any other plan 402,
  ``errorCode: plan_upgrade_required``); 20-500 lines, file ≤ 5 MB, each line
  ``{"request_id" (unique), "endpoint": "/v2/generate", "payload": <a create body>}``; every
  problem is one 400 naming its line. ``dry_run=true`` answers 201 ``{"status": "VALIDATED"}``
  and creates nothing. More running batches than ``BATCH_CONCURRENCY`` is 429
  ``errorCode: concurrency_limit_reached``. The create answers 201 with status PENDING; each
  line becomes an ordinary generation at once (rendered, listed, webhooked like any), outside the
  plan's generation concurrency. The batch's status then follows its generations:
  JOBS_CREATED, PROCESSING once one has started, COMPLETED once all have ended (FAILED if every
  one failed); ``metrics`` count them; ``outputUrl`` is "" until the end, then a JSON Lines file
  of ``{"request_id", "response": <Generation>}`` in file order. When a batch with a
  ``webhook_url`` ends, its object is POSTed once (camelCase metrics, as the payload reference
  shows) signed ``X-Signature-Primary: <hex HMAC-SHA256 of the raw body>``. The docs' 30 s
  input limit for batch lines is not enforced.
- Multipart create: fields ``model``, ``webhookUrl``, ``outputFileName`` as text; ``input``,
  ``options`` and ``segments`` as JSON strings (the SDK's ``create_with_files`` can only send
  ``model``, ``webhookUrl`` and the files: httpx refuses a dict or list as a form field). Files
  ``video`` and ``audio`` (each ≤ 20 MB, else 413) are stored and become inputs: the file fills
  the input item of its type that has no ``url``, or is added; given beside a ``url`` for the
  same kind, the file takes precedence (the docs: "combining both file and url inputs is also
  supported, with the file taking precedence").
- Idempotency (sync.so's guide): ``Idempotency-Key`` of 1–128 characters ``[A-Za-z0-9._~-]``
  (else 400). The same key with the same body (JSON compared after parsing; multipart by fields
  and file digests) answers 201 with the same generation as it is now, plus
  ``Idempotent-Replayed: true``, and starts nothing; with a different body it is 422
  ``IDEMPOTENCY_KEY_MISMATCH``; while the first request is still being handled, 409
  ``IDEMPOTENCY_REQUEST_IN_PROGRESS`` (the IETF draft's split). A request refused before a
  generation exists does not use up its key. Keys are kept 24 hours.
- Webhooks: when a generation ends (COMPLETED, FAILED, and REJECTED too, so a client that only
  listens never waits forever) the exact Generation object ``GET`` returns is POSTed to
  ``webhookUrl`` with ``Sync-Signature: t=<unix>,v1=<hex>``; see ``signing.sign``.
- Cost: ``estimatedFrameCount`` = round(output seconds x the video's frame rate) and
  ``estimatedGenerationCost`` = frames x the model's per-second list price / 25 (prices are per
  frame "at 25 fps"; ``PRICE_PER_SECOND``), rounded to 4 decimals, as a one-element list. Output
  seconds follow ``sync_mode`` (or the video's length with segments); a script's length is
  estimated at ``SCRIPT_CHARS_PER_SECOND``. Unfetchable or unreadable media is a 400 here.
- List: newest first, every generation of the key; ``status`` and ``ids`` each repeatable
  and/or comma-separated (the SDK repeats them); an unknown status is a 400.
- Outputs are previews: the input video (scaled to fit 640 pixels, at its own frame rate) with
  its audio replaced by the first audio input (or eSpeak NG speaking the script in a voice fixed
  by ``voiceId``), timed per ``sync_mode`` as sync.so's behaviour matrix says: cut_off trims to
  the shorter; loop restarts the video, bounce plays it forwards then backwards (buffered in
  memory), remap time-stretches it, each to the audio's length; silence pads the audio with
  silence to the video's length, or holds the last frame when the audio is longer. With
  segments the output has the video's length and each segment's range gets its audio (cropped by
  ``audioInput.startTime/endTime``, cut or padded to fit); the rest is silent. Several audio
  inputs without segments: the first is used. On every frame a face-like disc sits in the lower
  middle with a dark elliptic mouth whose height follows the loudness (RMS) of that frame's
  audio window, scaled by ``temperature``; react-1's ``prompt`` tints the face. The other
  options are validated and change nothing in the picture.
"""

from . import rendering
from .contract import (
    BATCH_CONCURRENCY,
    MAX_UPLOAD_BYTES,
    MODELS,
    NAME,
    PRICING_FPS,
    RATE_LIMITS,
    REASONS,
    WEBHOOK_SECRET,
)
from .errors import error
from .routes import build
from .signing import sign
from .sound import voice_spec

__all__ = [
    "BATCH_CONCURRENCY",
    "MAX_UPLOAD_BYTES",
    "MODELS",
    "NAME",
    "PRICING_FPS",
    "RATE_LIMITS",
    "REASONS",
    "WEBHOOK_SECRET",
    "build",
    "error",
    "rendering",
    "sign",
    "voice_spec",
]
