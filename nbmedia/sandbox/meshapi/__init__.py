"""Mesh API video generations on the sandbox, written from ``api-docs/meshapi.txt``, section 4
of ``providers.md`` and the wire types of the public ``meshapi`` SDK (0.1.11: ``_types.py``,
``_errors.py``); it shares no code with the client in ``nbmedia/providers/``.

Mounted at ``/meshapi``: ``{sandbox}/meshapi`` replaces ``https://api.meshapi.ai``, so
``MeshAPI(base_url=f"{sandbox.url}/meshapi", token="rsk_...")`` works unchanged. Models,
statuses, timings, limits, defaults and error codes are the tables in ``contract.py``, so that
a correction to our reading is one line; ``validation`` and ``checks`` refuse bad requests and
media, ``task`` and ``state`` hold tasks and the stored list rows, ``rendering`` makes the
videos, ``routes`` wires them.

Our readings where the documentation is silent (beyond those in providers.md):

- Keys: ``Bearer rsk_<letters, digits, _ or ->``; anything else is 401 ``unauthorized``. A key
  containing ``_nospend_`` has hit its spend limit (402 on create only: reading is free); one
  containing ``_forbidden_`` is refused everything (403).
- Errors: ``{"error": {code, message, details, provider_error, retry_after_seconds},
  "request_id"}`` with the same id in ``x-request-id`` (every API response carries one). A 422
  lists every problem found in ``details`` as FastAPI does: ``{"loc", "msg", "type"}``, and its
  ``message`` joins them; unparseable JSON is a 422 too. The body is read before the key is
  checked, so an oversized body is 413 ``payload_too_large`` whatever the key. Then: auth (401,
  403, 402), JSON (422), model (422 if missing, 404 ``model_not_found`` if unknown), fields and
  content (422), the media themselves (422), and a ``draft_task`` still running (409
  ``conflict``).
- ``POST`` answers ``200 {"id"}`` (the API reference's documented response). Task ids look like
  BytePlus's (``cgt-<utc yyyymmddhhmmss>-<5 chars>``) and are opaque.
- Models: ``MODELS`` below. Seedance 2.0 (and 2.0 fast) take text, image, video and audio items,
  4-15 s; Seedance 1.5 pro (4-12 s) and 1.0 pro (2-12 s) take text and image items only.
- Fields are strict: unknown fields are 422 (as the SDK's own ``extra="forbid"``), integers
  must be JSON integers, booleans JSON booleans; ``null`` means the default. Defaults:
  ``DEFAULTS`` (720p, 16:9, 5 s, no audio, ...). ``frames`` follows BytePlus's rule (29-289 and
  25 + 4n) on every model; a task made from ``frames`` reports ``duration`` rounded to whole
  seconds. 24 fps always. ``seed`` -1..2^32-1 (-1 or absent: a random one, reported).
  ``execution_expires_after`` 1..259200 s (the low bound lets a notebook see ``expired``).
- ``ratio: adaptive``: the aspect of the first image (else the first video, else 16:9) snapped
  to the nearest listed ratio, which the task then reports.
- Media limits apply to every input the sandbox can read when the task is created (base64 data
  URIs and files it served itself) and are 422s naming the rule; MB means MiB. Audio must be a
  wav or mp3 both by its data-URI MIME type and by its content. A URL the sandbox cannot fetch
  (any other http(s) URL) gives a task that is created and then ``failed`` with
  ``invalid_input``: the provider, not the gateway, fetches URLs.
- A ``draft_task`` item (``{"type": "draft_task", "draft_task": {"id"}}``) names an earlier
  succeeded task of the same key, whose video is then a reference; ``draft_task_id`` reports it.
- Lifecycle: ``queued`` -> ``running`` -> ``succeeded``; ``failed`` with ``error`` (the
  ``fail_next_jobs`` fault, ``invalid_input``, or ``internal_error`` if rendering broke);
  ``expired`` (error code ``expired``) once ``execution_expires_after`` virtual seconds pass
  before the task is done. Nothing cancels a task (no endpoint is documented), so
  ``cancelled`` is only a valid list filter. ``updated_at`` is the last status change.
- Task objects always carry every documented key (``null`` when not known): ``content`` only
  once succeeded (``last_frame_url`` ``null`` unless asked), ``usage`` only once succeeded.
  ``usage.completion_tokens == total_tokens == width * height * frames // 1024`` at the
  nominal BytePlus output size (``NOMINAL_SIZES``): the published Seedance formula.
- Outputs are previews: H.264 at ``video_size(ratio)`` (640 on the long side) whatever the
  resolution, the text prompt drawn on the frames; images (first_frame first, last_frame last)
  and one frame from the middle of each reference video are the picture. Audio: the audio
  items concatenated; else, with ``generate_audio``, a synthesised score; else no audio stream.
  ``last_frame_url`` is a PNG. ``camera_fixed``, ``watermark``, ``draft``, ``service_tier``
  and ``priority`` are validated and echoed, and change nothing in the picture. Identical
  requests with the same seed (``render_key``) get the same bytes, rendered once.
- Callbacks: one unsigned POST of the task object to ``callback_url`` when it becomes
  succeeded, failed or expired; 10 s timeout, never retried.
- No request rate or concurrency limit is enforced (429 ``rate_limit_exceeded`` comes only from
  the sandbox's rate-limit faults), so ``faults.plan_limits`` changes nothing here.
- List: served from the gateway's database only, as documented ("does not refresh task status
  from the upstream provider"). Each task's stored row is written when it is created
  (``queued``), again by every ``GET`` of it (the live sync), and when it becomes succeeded,
  failed or expired (the upstream's completion notification, which the gateway receives
  whether or not a ``callback_url`` was given). So a task that started running but was never
  read is listed ``queued`` until it ends, and an ended task is listed as ended at once. The
  filters apply to the stored rows: ``status`` and ``model`` repeatable (an unknown status is
  422, an unknown model simply matches nothing); ``created_after`` inclusive,
  ``created_before`` exclusive, ISO-8601 with an offset or naive UTC.
"""

from .contract import NAME, WEBHOOK_SECRET, MiB
from .errors import error
from .routes import build

__all__ = ["NAME", "WEBHOOK_SECRET", "MiB", "build", "error"]
