"""JobTable: the ledger as an interactive table, a page at a time, that follows job changes.

Filter by provider, kind and status; newest first, 25 rows a page; a thumbnail for videos; ▶
plays a row. Rows come from a `JobRows` source the Studio gives it (a page is one indexed
query, never the whole ledger). A job event redraws that job's row alone, from the job; the
page is read again only when a job enters or leaves it, and only rows whose look changed are
rendered again.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import ipywidgets as W
import pandas as pd
import traitlets as T
from IPython.display import HTML

from ..models import Job, JobStatus, cost_text
from .live import Bundle
from .progress import seconds_text
from .snapshot import Snapshotted

ALL = "(all)"
PAGE_SIZE = 25
COLUMNS = ("", "provider", "kind", "status", "prompt", "elapsed", "cost", "")
FILTERS = ("provider", "kind", "status")


class JobRows(Protocol):
    """Where the table reads its rows (the Studio gives one built on the ledger)."""

    def page(self, filters: dict[str, str], offset: int, limit: int) -> pd.DataFrame:
        """Rows newest first, with `local_id`, `created_at` and the job table's columns."""
        ...

    def count(self, filters: dict[str, str]) -> int: ...

    def values(self, column: str) -> list[str]: ...

    def row(self, job: Job) -> dict[str, Any]:
        """A job's row, from the job itself (the same keys as a page's rows)."""
        ...


@dataclass
class _Shown:
    """A row on screen: what it shows (a change of it, and only that, renders it again)."""

    look: tuple[Any, ...]
    created_at: Any
    cells: list[W.Widget]


class JobTable(Snapshotted, W.VBox):
    """Every job in the ledger, a page at a time, newest first; rows follow job changes. The
    saved notebook keeps the page last shown as a plain table."""

    page = T.Int(0, help="The page shown; 0 holds the newest jobs.")
    page_size = T.Int(PAGE_SIZE)
    matching = T.Int(0, help="Jobs that match the filters.")
    total = T.Int(0, help="Jobs in the ledger.")

    def __init__(
        self,
        rows: JobRows,
        *,
        subscribe: Callable[[Callable[[Job], None]], Callable[[], None]] | None = None,
        thumbnail: Callable[[str | None, str | None], Path | None] | None = None,
        player: Callable[[str | None], str | None] | None = None,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self._rows = rows
        self._thumbnail = thumbnail
        self._player_html = player
        self.filters = {
            col: W.Dropdown(description=col, options=[ALL, *rows.values(col)], value=ALL)
            for col in FILTERS
        }
        self.provider, self.kind, self.status = self.filters.values()
        for dd in self.filters.values():
            dd.layout.width = "220px"
        self.grid = W.GridBox(
            layout=W.Layout(
                grid_template_columns="100px 110px 70px 90px 1fr 70px 60px 50px",
                grid_gap="2px 8px",
                align_items="center",
            )
        )
        self.grid.add_class("nbmedia-job-table")
        self.count = W.HTML()
        self.newer = W.Button(icon="chevron-left", tooltip="newer jobs", layout=_narrow())
        self.older = W.Button(icon="chevron-right", tooltip="older jobs", layout=_narrow())
        self.newer.on_click(lambda _b: self._turn(-1))
        self.older.on_click(lambda _b: self._turn(+1))
        self.page_label = W.HTML()
        self.player = W.Output()
        self.player.add_class("nbmedia-table-player")
        pager = W.HBox([self.newer, self.page_label, self.older])
        pager.add_class("nbmedia-table-pager")
        super().__init__(
            [W.HBox([*self.filters.values(), self.count]), self.grid, pager, self.player]
        )
        self.add_class("nbmedia-table")
        self.page_size = page_size
        self._head = [W.HTML(f"<b>{c}</b>") for c in COLUMNS]
        self._shown: dict[str, _Shown] = {}
        self._states: dict[str, str] = {}
        self._thumbs: dict[str, bytes] = {}
        self._learning = False
        for dd in self.filters.values():
            dd.observe(self._on_filter, "value")
        self.observe(lambda _c: self.refresh(), "page")
        self._unsubscribe = subscribe(self._on_job) if subscribe else None
        self.refresh()

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.matching / self.page_size))

    def chosen(self) -> dict[str, str]:
        """The filters set (column: value)."""
        return {col: dd.value for col, dd in self.filters.items() if dd.value != ALL}

    def refresh(self) -> None:
        """Reads the counts and the page shown; renders only rows not on screen as they are."""
        self._count()
        if self.page > self.pages - 1:
            self.page = self.pages - 1  # observed: refreshes that page
            return
        frame = self._rows.page(self.chosen(), self.page * self.page_size, self.page_size)
        self._show({r["local_id"]: self._render(r) for r in frame.to_dict("records")})

    def _count(self) -> None:
        chosen = self.chosen()
        self.total = self._rows.count({})
        self.matching = self._rows.count(chosen) if chosen else self.total
        self.count.value = f"&nbsp;{self.matching} of {self.total} jobs"
        self.page_label.value = f"&nbsp;page {min(self.page, self.pages - 1) + 1} of {self.pages}"
        self.newer.disabled = self.page == 0
        self.older.disabled = self.page >= self.pages - 1
        self.snapshot_changed()

    def _turn(self, by: int) -> None:
        self.page = min(max(0, self.page + by), self.pages - 1)

    def _on_filter(self, _change: Any) -> None:
        if self._learning:
            return
        if self.page:
            self.page = 0  # observed: refreshes
        else:
            self.refresh()

    def _on_job(self, job: Job) -> None:
        row = self._rows.row(job)
        self._learn(row)
        before = self._states.get(job.local_id)
        self._states[job.local_id] = row["status"]
        if job.local_id in self._shown:
            if not self._matches(row):
                self.refresh()  # it left the filtered jobs
                return
            shown = self._render(row)
            if shown is not self._shown[job.local_id]:
                self._show({**self._shown, job.local_id: shown})
        elif before == row["status"]:
            return  # progress of a job not on this page: nothing shown changes
        elif self._matches(row) and self._belongs(row["created_at"]):
            self.refresh()  # a new job on this page (or one that entered the filter)
        elif before is None or self.status.value in (before, row["status"]):
            self._count()  # a new job, or one that entered or left the status shown

    def _matches(self, row: dict[str, Any]) -> bool:
        return all(str(row[col]) == value for col, value in self.chosen().items())

    def _belongs(self, created_at: Any) -> bool:
        """Whether a job made at `created_at` falls among this page's rows (newest first)."""
        times = [s.created_at for s in self._shown.values()]
        newest_ok = self.page == 0 or (bool(times) and created_at <= times[0])
        oldest_ok = len(times) < self.page_size or created_at >= times[-1]
        return newest_ok and oldest_ok

    def _learn(self, row: dict[str, Any]) -> None:
        """A value not yet among a filter's choices joins them."""
        for col, dd in self.filters.items():
            value = _text(row[col])
            if value is not None and value not in dd.options:
                chosen, self._learning = dd.value, True
                try:  # new choices keep the one made (setting options resets the value)
                    dd.options = [ALL, *sorted({*dd.options[1:], value})]
                    dd.value = chosen
                finally:
                    self._learning = False

    def _show(self, rows: dict[str, _Shown]) -> None:
        """Puts these rows on screen, and closes the widgets of rows no longer on it."""
        kept = {id(s) for s in rows.values()}
        gone = [s for s in self._shown.values() if id(s) not in kept]
        self._shown = rows
        self.grid.children = [*self._head, *(c for s in rows.values() for c in s.cells)]
        for row in gone:
            for cell in row.cells:
                cell.close()
        self.snapshot_changed()

    def snapshot(self) -> Bundle:
        """The page shown, as a plain table (what a reopened notebook and nbconvert show)."""
        cell = "padding:2px 8px;text-align:left"
        head = "".join(f"<th style='{cell}'>{c}</th>" for c in COLUMNS[1:-1] + ("file",))
        body = []
        for shown in self._shown.values():
            provider, kind, status, error_code, prompt, elapsed, cost, output = shown.look
            if error_code:
                status += f" ({error_code})"
            short = prompt if len(prompt) <= 80 else prompt[:77] + "…"
            values = (provider, kind, status, short, elapsed or "", cost, output or "")
            body.append("<tr>" + "".join(
                f"<td style='{cell}'>{html.escape(str(v))}</td>" for v in values) + "</tr>")  # fmt: skip
        where = f"{self.matching} of {self.total} jobs · page {self.page + 1} of {self.pages}"
        if self.chosen():
            where += " · " + ", ".join(f"{k} = {v}" for k, v in self.chosen().items())
        return {
            "text/plain": f"job table: {where}",
            "text/html": (
                f"<div class='nbmedia-table-snapshot'><div>{html.escape(where)}</div>"
                f"<table style='border-collapse:collapse;font-size:0.9em'><thead><tr>{head}"
                f"</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
            ),
        }

    def _render(self, row: dict[str, Any]) -> _Shown:
        """The row on screen if it still looks so, else its cells made anew."""
        look = _look(row)
        shown = self._shown.get(row["local_id"])
        if shown is not None and shown.look == look:
            return shown
        return _Shown(look, row["created_at"], self._cells(row))

    def _cells(self, row: dict[str, Any]) -> list[W.Widget]:
        provider, kind, status, error_code, prompt, elapsed, cost, output = _look(row)
        thumb: W.Widget = W.HTML("")
        if kind == "video" and self._thumbnail is not None and output:
            path = self._thumbnail(_text(row["id"]), output)
            if path is not None and path.exists():
                data = self._thumbs.setdefault(str(path), path.read_bytes())
                thumb = W.Image(value=data, format="jpeg", width=96)
        short = prompt if len(prompt) <= 80 else prompt[:77] + "…"
        status = html.escape(status)
        if error_code:
            status += f"<br><small style='color:#c62828'>{html.escape(error_code)}</small>"
        play = W.Button(icon="play", tooltip="play", layout=_narrow(), disabled=not output)
        play.add_class("nbmedia-play")
        job_id = _text(row["id"])
        play.on_click(lambda _b: self.play(job_id, output))
        return [
            thumb,
            W.HTML(html.escape(provider)),
            W.HTML(html.escape(kind)),
            W.HTML(f"<span class='nbmedia-row-status'>{status}</span>"),
            W.HTML(f"<span title='{html.escape(prompt)}'>{html.escape(short)}</span>"),
            W.HTML(elapsed if elapsed is not None else seconds_text(row["elapsed_s"])),
            W.HTML(cost),
            play,
        ]

    def play(self, job_id: str | None, output_path: str | None) -> None:
        """Shows the player of one row under the table."""
        markup = self._player_html(output_path) if self._player_html else None
        self.player.outputs = ()
        if markup:
            self.player.append_display_data(
                HTML(f"<div><b>{html.escape(str(job_id))}</b></div>{markup}")
            )

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        super().close()


def _look(row: dict[str, Any]) -> tuple[Any, ...]:
    """What a row shows, as text: (provider, kind, status, error code, prompt, elapsed, cost,
    output path). An open job's elapsed time is None: it moves every second, and a row is not
    rendered again for that."""
    cost = cost_text(row["cost"], row["cost_unit"])
    ended = JobStatus(row["status"]).terminal
    elapsed = row["elapsed_s"]
    return (
        _text(row["provider"]) or "",
        _text(row["kind"]) or "",
        _text(row["status"]) or "",
        _text(row["error_code"]),
        _text(row["prompt"]) or "",
        seconds_text(elapsed) if ended and not pd.isna(elapsed) else None,
        cost or "",
        _text(row["output_path"]),
    )


def _text(value: Any) -> str | None:
    """A cell's value as text; None for a missing one (None, NaN or NA)."""
    return None if value is None or pd.isna(value) else str(value)


def _narrow() -> W.Layout:
    return W.Layout(width="40px")
