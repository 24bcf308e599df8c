"""Pictures of the job table, where people would rather look than read.

`timeline` draws each job as a bar from submitted to finished, one group of rows per provider;
`provider_summary` compares time-to-result and cost per provider (e.g. after a comparison).
Both take the DataFrame of `studio.jobs()` (or `comparison.table()`), display their chart where
they are called (so it is saved in the notebook as an image, whatever the cell ends with) and
return it: a matplotlib Figure (`show=False` leaves the displaying to you).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..display.chart import Chart

STATUS_COLOURS = {
    "succeeded": "#2e7d32",
    "failed": "#c62828",
    "cancelled": "#f9a825",
    "expired": "#f9a825",
    "running": "#1565c0",
    "queued": "#90a4ae",
}


def lanes(starts: list[float], ends: list[float]) -> list[int]:
    """A row for each interval such that intervals in one row never overlap (first free row)."""
    free_at: list[float] = []
    rows = [0] * len(starts)
    for i in sorted(range(len(starts)), key=lambda k: (starts[k], ends[k])):
        row = next((r for r, end in enumerate(free_at) if end <= starts[i]), len(free_at))
        if row == len(free_at):
            free_at.append(ends[i])
        else:
            free_at[row] = ends[i]
        rows[i] = row
    return rows


def timeline(jobs: pd.DataFrame, *, ax: Any = None, show: bool = True) -> Any:
    """A Gantt-style chart: one bar per job, coloured by status; jobs of one provider that
    overlap get rows of their own under its name (one lane would draw them over each other)."""
    import matplotlib.dates as mdates
    from matplotlib.patches import Rectangle

    df = jobs.dropna(subset=["created_at"]).copy()
    now = pd.Timestamp.now(tz="UTC")
    df["_start"] = [mdates.date2num(t.to_pydatetime()) for t in df["created_at"]]
    stop = df["completed_at"].fillna(df["updated_at"]).fillna(now)
    df["_end"] = [
        max(mdates.date2num(t.to_pydatetime()), s + 1 / 86400)
        for t, s in zip(stop, df["_start"], strict=True)
    ]
    df["_row"] = 0.0
    ticks: dict[str, float] = {}
    top = 0
    for provider in sorted(df["provider"].unique()):
        mine = df["provider"] == provider
        rows = lanes(list(df.loc[mine, "_start"]), list(df.loc[mine, "_end"]))
        df.loc[mine, "_row"] = [top + r for r in rows]
        ticks[provider] = top + (max(rows) if rows else 0) / 2
        top += (max(rows) + 1 if rows else 1) + 0.5  # a gap between providers
    if ax is None:  # a Figure outside pyplot, shown as an image below
        fig = Chart(figsize=(9, 1.4 + 0.28 * max(1.0, top)), label=f"timeline of {len(df)} jobs")
        ax = fig.subplots()
    else:
        fig = ax.figure
    for _, row in df.iterrows():
        ax.barh(row["_row"], row["_end"] - row["_start"], left=row["_start"], height=0.8,
                color=STATUS_COLOURS.get(str(row["status"]), "#607d8b"), alpha=0.85)  # fmt: skip
    ax.set_yticks(list(ticks.values()), list(ticks.keys()))
    ax.invert_yaxis()  # the first provider on top, its first job on its first row
    ax.xaxis_date()
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))
    ax.set_xlabel("time (UTC): submitted → finished")
    ax.set_title(f"{len(df)} jobs")
    handles = [Rectangle((0, 0), 1, 1, color=c) for c in STATUS_COLOURS.values()]
    ax.legend(handles, list(STATUS_COLOURS), loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    fig.tight_layout()
    if show and isinstance(fig, Chart):
        fig.show()
    return fig


def provider_summary(jobs: pd.DataFrame, *, show: bool = True) -> Any:
    """Median time-to-result and total cost per provider, side by side."""
    done = jobs[jobs["status"].astype(str) == "succeeded"]
    stats = done.groupby("provider", observed=True).agg(
        seconds=("elapsed_s", "median"), jobs=("id", "count")
    )
    # a provider that reports no cost stays empty rather than showing 0
    stats["cost"] = done.groupby("provider", observed=True)["cost"].sum(min_count=1)
    fig = Chart(figsize=(9, 3), label=f"time and cost of {len(done)} jobs per provider")
    left, right = fig.subplots(1, 2)
    stats["seconds"].plot.bar(ax=left, color="#1565c0")
    left.set_ylabel("seconds (median)")
    left.set_title("time to result")
    stats["cost"].plot.bar(ax=right, color="#6a1b9a")
    right.set_ylabel("provider units")
    right.set_title("cost (each provider's own unit)")
    costs = stats["cost"].dropna()
    if len(costs) > 1 and costs.min() > 0 and costs.max() / costs.min() > 100:
        right.set_yscale("log")  # units and tokens differ by orders of magnitude
    for ax in (left, right):
        ax.set_xlabel("")
        ax.tick_params(axis="x", rotation=0)
    fig.tight_layout()
    if show:
        fig.show()
    return fig
