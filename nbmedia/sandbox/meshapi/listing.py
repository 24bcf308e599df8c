"""The task list: its query (status and model repeatable, created_after/before, limit,
offset), refused in one 422 naming every bad value, and one page of the stored rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from ..kit.helpers import shown
from .contract import LIST_DEFAULT_LIMIT, LIST_LIMIT, STATUSES
from .errors import Problems
from .task import Task
from .validation import parse_time, query_int


@dataclass(frozen=True)
class ListQuery:
    statuses: list[str]
    models: list[str]
    after: float | None
    before: float | None
    limit: int
    offset: int


def parse_list_query(request: Request) -> ListQuery:
    problems = Problems()
    q = request.query_params
    statuses = q.getlist("status")
    for value in statuses:
        if value not in STATUSES:
            problems.add(
                ("query", "status"),
                f"status must be one of {', '.join(STATUSES)} (got {shown(value)})",
            )
    models = q.getlist("model")
    after = (
        parse_time("created_after", q["created_after"], problems) if "created_after" in q else None
    )
    before = (
        parse_time("created_before", q["created_before"], problems)
        if "created_before" in q
        else None
    )
    limit = query_int(request, "limit", *LIST_LIMIT, LIST_DEFAULT_LIMIT, problems)
    offset = query_int(request, "offset", 0, None, 0, problems)
    problems.raise_if_any()
    return ListQuery(statuses, models, after, before, limit, offset)


def list_page(
    owned: list[Task], stored_row: Callable[[Task], dict[str, Any]], query: ListQuery
) -> dict[str, Any]:
    """The page of `owned` tasks' stored rows (``stored_row``) that `query` selects."""
    rows = []
    for task in sorted(owned, key=lambda t: t.seq, reverse=True):
        if query.models and task.model not in query.models:
            continue
        if (query.after is not None and task.created < query.after) or (
            query.before is not None and task.created >= query.before
        ):
            continue
        row = stored_row(task)
        if not query.statuses or row["status"] in query.statuses:
            rows.append(row)
    limit, offset = query.limit, query.offset
    return {
        "object": "list",
        "data": rows[offset : offset + limit],
        "has_more": offset + limit < len(rows),
        "total": len(rows),
        "limit": limit,
        "offset": offset,
    }
