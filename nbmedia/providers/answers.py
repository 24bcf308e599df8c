"""Reading provider answers, and the matching rules every `find_created` shares.

A 2xx body is read with `read` (JSON of the expected shape holding the keys the step needs) or
`read_rows` (a list answer, as a bare array or wrapped in an object); anything else is a
`MalformedResponse` carrying the first bytes, never a KeyError, TypeError or AttributeError.

`find_created` looks for a job whose create answer was lost: in the creation window (`since`),
among ids no other ledger row holds, whose payload echoes the request's own fields (`matches`,
never the prompt alone), the one created closest after the job was recorded (`closest`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import MalformedResponse
from ..models import Job

if TYPE_CHECKING:
    import httpx

    from ..http import ApiClient

CLOCK_SKEW = dt.timedelta(seconds=60)
"""How far before the job was recorded its provider timestamp may fall (clocks differ)."""
HEAD_BYTES = 200
"""How much of a malformed body is kept (the error shows less)."""

Kinds = type | tuple[type, ...]


def malformed(api: ApiClient, response: httpx.Response, detail: str) -> MalformedResponse:
    """A MalformedResponse for `response`, quoting the first bytes of its body (key redacted)."""
    head = api.redact(response.content[:HEAD_BYTES].decode("utf-8", "replace")).encode()
    return MalformedResponse(api.provider, response.status_code, detail, head)


def read(
    api: ApiClient, response: httpx.Response, *, require: Mapping[str, Kinds] | None = None
) -> Any:
    """The JSON object of a 2xx answer, which must hold each key of `require` with a non-empty
    value of that type (e.g. `{"id": str}` for a create)."""
    body = api.json(response, dict)
    missing = [k for k, kind in (require or {}).items() if not _is(body.get(k), kind)]
    if missing:
        shown = ", ".join(repr(k) for k in missing)
        raise malformed(api, response, f"answered a JSON object without a usable {shown}")
    return body


def read_rows(
    api: ApiClient, response: httpx.Response, *, keys: tuple[str, ...] = ("data",)
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A list answer: its rows (objects only) and the object around them (for cursors).

    A bare array is accepted as well as `{"data": [...]}` (or another of `keys`); an object
    with no list under any of `keys`, or a scalar, is malformed.
    """
    body = api.json(response, object)
    if isinstance(body, list):
        items, meta = body, {}
    elif isinstance(body, dict):
        found = next((body[k] for k in keys if isinstance(body.get(k), list)), None)
        if found is None:
            names = " or ".join(repr(k) for k in keys)
            raise malformed(api, response, f"answered a JSON object with no {names} list")
        items, meta = found, body
    else:
        raise malformed(
            api, response, f"answered JSON {type(body).__name__} where a list was expected"
        )
    return [row for row in items if isinstance(row, dict)], meta


def _is(value: Any, kind: Kinds) -> bool:
    if value is None or not isinstance(value, kind):
        return False
    if isinstance(value, bool) and not _admits_bool(kind):
        return False
    return not (isinstance(value, str) and not value)


def _admits_bool(kind: Kinds) -> bool:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return bool in kinds or object in kinds


def number(value: Any) -> float | None:
    """A finite number from the wire, or None (never a TypeError/ValueError)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        out = float(value)
    except ValueError:
        return None
    return out if out == out and out not in (float("inf"), float("-inf")) else None


def mapping(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


# ---- find_created ------------------------------------------------------------------------------
def aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def since(job: Job) -> dt.datetime:
    """The start of the window a lost create's job was made in."""
    return aware(job.created_at) - CLOCK_SKEW


def same(want: Any, got: Any) -> bool:
    """Equal as JSON values: numbers by value (1 == 1.0), booleans strictly, objects as a
    subset (the provider may add defaults), arrays item by item."""
    if isinstance(want, bool) or isinstance(got, bool):
        return isinstance(want, bool) and isinstance(got, bool) and want == got
    if isinstance(want, (int, float)) and isinstance(got, (int, float)):
        return abs(float(want) - float(got)) <= 1e-9 * max(1.0, abs(float(want)))
    if isinstance(want, Mapping) and isinstance(got, Mapping):
        return all(k in got and same(v, got[k]) for k, v in want.items())
    if isinstance(want, (list, tuple)) and isinstance(got, (list, tuple)):
        return len(want) == len(got) and all(same(a, b) for a, b in zip(want, got, strict=True))
    return bool(want == got)


def matches(expected: Mapping[str, Any], payload: Mapping[str, Any], text: str | None) -> bool:
    """Every expected field the payload echoes is the same; the `text` field (the prompt), when
    expected, must be echoed; and at least one field besides it is compared."""
    if (
        text is not None
        and text in expected
        and (text not in payload or not same(expected[text], payload[text]))
    ):
        return False
    compared = 0
    for key, want in expected.items():
        if key == text or key not in payload:
            continue
        if not same(want, payload[key]):
            return False
        compared += 1
    return compared > 0


def eligible(
    job: Job, payload: Mapping[str, Any], created: dt.datetime | None, claimed: Collection[str]
) -> bool:
    """In the window and not another ledger row's job."""
    pid = payload.get("id")
    return (
        isinstance(pid, str)
        and bool(pid)
        and pid not in claimed
        and created is not None
        and created >= since(job)
    )


def closest(
    job: Job, candidates: Iterable[tuple[dt.datetime, dict[str, Any]]]
) -> dict[str, Any] | None:
    """The candidate created closest after the job was recorded (a second of slack for
    timestamps in whole seconds); one from before it only if none came after."""
    recorded = aware(job.created_at)

    def distance(c: tuple[dt.datetime, dict[str, Any]]) -> tuple[bool, float]:
        delta = (c[0] - recorded).total_seconds()
        return (delta < -1.0, abs(delta))

    best = min(candidates, key=distance, default=None)
    return None if best is None else best[1]
