"""A batch's JSON Lines file: 20-500 lines ≤ 5 MB, each ``{"request_id" (unique), "endpoint":
"/v2/generate", "payload": <a create body>}``; every problem is one 400 naming its line."""

from __future__ import annotations

import json
from collections.abc import Callable

from ..kit.bodies import MiB
from .contract import BATCH_ENDPOINT, BATCH_FILE_MAX, BATCH_LINE_FIELDS, BATCH_SIZE
from .errors import ApiError, bad_request
from .spec import Spec
from .validation import validate


def parse_batch_file(data: bytes, resolve: Callable[[Spec], None]) -> list[tuple[str, Spec]]:
    """The lines of a batch file as (request_id, Spec), or one 400 listing every problem by line
    (``resolve`` fills asset inputs, raising the generate route's error)."""
    if len(data) > BATCH_FILE_MAX:
        raise bad_request(
            f"input file is {len(data) / MiB:.1f} MB; the limit is {BATCH_FILE_MAX // MiB} MB"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request("input must be a UTF-8 JSON Lines file") from None
    problems: list[str] = []
    rows: list[tuple[str, Spec]] = []
    seen: set[str] = set()
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    for n, line in lines:
        where = f"line {n}: "
        try:
            record = json.loads(line)
        except ValueError:
            problems.append(f"{where}not valid JSON")
            continue
        if not isinstance(record, dict):
            problems.append(f"{where}must be a JSON object")
            continue
        problems += [
            f"{where}property {k} should not exist" for k in record if k not in BATCH_LINE_FIELDS
        ]
        rid = record.get("request_id")
        if not (isinstance(rid, str) and rid):
            problems.append(f"{where}request_id must be a non-empty string")
        elif rid in seen:
            problems.append(f"{where}request_id {json.dumps(rid)} is not unique")
        else:
            seen.add(rid)
        if record.get("endpoint") != BATCH_ENDPOINT:
            problems.append(f"{where}endpoint must be {BATCH_ENDPOINT}")
        try:
            spec = validate(record.get("payload"))
            resolve(spec)
        except ApiError as exc:
            problems += [f"{where}payload: {m}" for m in exc.messages]
            continue
        if isinstance(rid, str):
            rows.append((rid, spec))
    if not problems and not BATCH_SIZE[0] <= len(lines) <= BATCH_SIZE[1]:
        problems.append(
            f"input must hold {BATCH_SIZE[0]} to {BATCH_SIZE[1]} requests (got {len(lines)})"
        )
    if problems:
        raise ApiError(400, problems)
    return rows
