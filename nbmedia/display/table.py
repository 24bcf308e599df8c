"""JobTable: the ledger as an interactive table that refreshes itself as jobs change.

Filter by provider, kind and status; newest first; a thumbnail for videos; ▶ plays a row.
The table reads a DataFrame through a function the Studio gives it and listens for changes.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

import ipywidgets as W
import pandas as pd
from IPython.display import HTML

from ..models import Job
from .progress import seconds_text

ALL = "(all)"
MAX_ROWS = 50
COLUMNS = ("", "provider", "kind", "status", "prompt", "elapsed", "cost", "")


class JobTable(W.VBox):
    """Every job in the ledger; rows re-render when any job changes state."""

    def __init__(
        self,
        frame: Callable[[], pd.DataFrame],
        *,
        subscribe: Callable[[Callable[[Job], None]], Callable[[], None]] | None = None,
        thumbnail: Callable[[str | None, str | None], Path | None] | None = None,
        player: Callable[[str | None], str | None] | None = None,
    ) -> None:
        self._frame = frame
        self._thumbnail = thumbnail
        self._player_html = player
        self.provider = W.Dropdown(description="provider", options=[ALL], value=ALL)
        self.kind = W.Dropdown(description="kind", options=[ALL], value=ALL)
        self.status = W.Dropdown(description="status", options=[ALL], value=ALL)
        for dd in (self.provider, self.kind, self.status):
            dd.layout.width = "220px"
            dd.observe(lambda _c: self.refresh(), "value")
        self.grid = W.GridBox(
            layout=W.Layout(
                grid_template_columns="100px 110px 70px 90px 1fr 70px 60px 50px",
                grid_gap="2px 8px",
                align_items="center",
            )
        )
        self.grid.add_class("nbmedia-job-table")
        self.count = W.HTML()
        self.player = W.Output()
        self.player.add_class("nbmedia-table-player")
        super().__init__(
            [W.HBox([self.provider, self.kind, self.status, self.count]), self.grid, self.player]
        )
        self.add_class("nbmedia-table")
        self._last_states: dict[str, str] = {}
        self._thumbs: dict[str, bytes] = {}
        self._unsubscribe = subscribe(self._on_job) if subscribe else None
        self.refresh()

    def _on_job(self, job: Job) -> None:
        key = job.local_id
        state = job.status.value
        if self._last_states.get(key) != state:  # progress ticks do not rebuild the table
            self._last_states[key] = state
            self.refresh()

    def refresh(self) -> None:
        df = self._frame()
        for dd, col in ((self.provider, "provider"), (self.kind, "kind"), (self.status, "status")):
            values = [ALL, *sorted({str(v) for v in df[col].dropna()})]
            if list(dd.options) != values:
                current = dd.value
                dd.options = values
                dd.value = current if current in values else ALL
        shown = df
        for dd, col in ((self.provider, "provider"), (self.kind, "kind"), (self.status, "status")):
            if dd.value != ALL:
                shown = shown[shown[col].astype(str) == dd.value]
        self.count.value = f"&nbsp;{len(shown)} of {len(df)} jobs"
        cells: list[W.Widget] = [_head(c) for c in COLUMNS]
        for _, row in shown.head(MAX_ROWS).iterrows():
            cells += self._row(row)
        self.grid.children = cells

    def _row(self, row: pd.Series) -> list[W.Widget]:
        thumb: W.Widget = W.HTML("")
        output = row["output_path"] if isinstance(row["output_path"], str) else None
        if row["kind"] == "video" and self._thumbnail is not None and output:
            path = self._thumbnail(row["id"], output)
            if path is not None and path.exists():
                data = self._thumbs.setdefault(str(path), path.read_bytes())
                thumb = W.Image(value=data, format="jpeg", width=96)
        prompt = str(row["prompt"] or "")
        if len(prompt) > 80:
            prompt = prompt[:77] + "…"
        status = str(row["status"])
        if row["error_code"]:
            status += (
                f"<br><small style='color:#c62828'>{html.escape(str(row['error_code']))}</small>"
            )
        elapsed = "" if pd.isna(row["elapsed_s"]) else seconds_text(row["elapsed_s"])
        cost = "" if pd.isna(row["cost"]) else f"{row['cost']:g}"
        play = W.Button(
            icon="play",
            tooltip="play",
            layout=W.Layout(width="40px"),
            disabled=not output,
        )
        play.add_class("nbmedia-play")
        play.on_click(lambda _b, p=output, i=row["id"]: self.play(i, p))
        return [
            thumb,
            W.HTML(html.escape(str(row["provider"]))),
            W.HTML(html.escape(str(row["kind"]))),
            W.HTML(f"<span class='nbmedia-row-status'>{status}</span>"),
            W.HTML(
                f"<span title='{html.escape(str(row['prompt'] or ''))}'>{html.escape(prompt)}</span>"
            ),
            W.HTML(elapsed),
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


def _head(text: str) -> W.HTML:
    return W.HTML(f"<b>{text}</b>")
