"""MercaDream API v2 on the sandbox, written from ``api-docs/mercadream.txt`` and the readings
in ``providers.md`` ("Choices where the documentation is silent"); it shares no code with the
client in ``nbmedia/providers/``.

Mounted at ``/mercadream``: ``{sandbox}/mercadream`` replaces ``https://api.mercadream.com``.
Plans, statuses, timings, limits and error codes are the tables in ``contract.py``, so that a
correction to our reading is one line. ``validation`` checks requests, ``state`` holds jobs and
the key/plan/rate gate, ``rendering`` makes outputs, ``signing`` signs webhooks, ``routes``
wires them.

Our readings where the documentation is silent (beyond those in providers.md):

- Errors are ``{"code", "message"}``; a 400 for a field adds ``"param"``, and every 400 for a
  field or query value has code ``invalid_request`` with a message naming the field, the value
  and the rule; unparseable JSON is ``invalid_json``; 429s add ``"retry_after"`` (seconds) to
  the body as well as the ``Retry-After`` header. Every 401 is ``invalid_api_key``.
- Checks run in this order: auth (401), plan access (403), per-minute rate (429), body (400),
  plan resolution (403), concurrency (429). Only authenticated requests count towards the rate.
  ``faults.plan_limits = False`` (a benchmark knob) skips the rate and concurrency checks.
- ``null`` for an optional field means its default; unknown fields are ignored; types are
  strict (``"30"``, ``30.0`` and ``true`` are not a duration; ``speed`` may be an int).
- Timestamps are ISO-8601 UTC with milliseconds and ``Z``; ``created_at`` is strictly
  increasing per sandbox so that ``before`` paging never skips a job. A naive ``before`` is UTC.
- Job objects carry ``kind`` and echo the request fields (``voice_id`` may be ``null``); a
  failed job has ``error: {code, message}``; ``completed_at`` is set for both terminal states;
  a music job reports the ``bpm`` it was composed at once completed.
- ``compute_units``: video ``ceil(duration / 15 * RESOLUTION_UNITS)`` (30 s at 4k = 12, the
  doc's example), speech one per 500 characters, music one per 30 s.
- Webhooks: events ``job.processing``, ``job.completed``, ``job.failed`` (the last with an
  ``error`` member); see ``signing.webhook_body`` for what the body's ``signature`` field
  covers.
  ``webhook_url`` is read on ``/v2/generate`` only (where the page documents it): on speech and
  music it is an unknown field, ignored.
- Vault assets have ids ``asset_…``; their ``created_at`` is the job's ``completed_at``.
- Every output is a preview: 16:9 at 640x360 whatever the resolution. Identical requests (the
  same kind and fields; the webhook aside) get the same bytes, rendered once (``rendercache``).
"""

from .contract import NAME, WEBHOOK_SECRET
from .errors import error
from .routes import build

__all__ = ["NAME", "WEBHOOK_SECRET", "build", "error"]
