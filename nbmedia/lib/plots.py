"""Pictures of the job table, where people would rather look than read.

`timeline` draws each job as a bar from submitted to finished, one lane per provider;
`provider_summary` compares time-to-result and cost per provider (e.g. after a comparison).
Both take the DataFrame of `studio.jobs()` (or `comparison.table()`) and return a matplotlib Figure.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

STATUS_COLOURS = {
    "succeeded": "#2e7d32",
    "failed": "#c62828",
    "cancelled": "#f9a825",
    "expired": "#f9a825",
    "running": "#1565c0",
    "queued": "#90a4ae",
}


def timeline(jobs: pd.DataFrame, *, ax: Any = None) -> Any:
    """A Gantt-style chart: one lane per provider, one bar per job, coloured by status."""
    import matplotlib.dates as mdates
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    df = jobs.dropna(subset=["created_at"]).copy()
    if ax is None:  # a Figure outside pyplot: shown once, as the cell's value
        fig = Figure(figsize=(9, 1.2 + 0.5 * max(1, df["provider"].nunique())))
        ax = fig.subplots()
    else:
        fig = ax.figure
    now = pd.Timestamp.now(tz="UTC")
    end = df["completed_at"].fillna(df["updated_at"]).fillna(now)
    lanes = {p: i for i, p in enumerate(sorted(df["provider"].unique()))}
    for (_, row), stop in zip(df.iterrows(), end, strict=True):
        start = mdates.date2num(row["created_at"].to_pydatetime())
        width = max(mdates.date2num(stop.to_pydatetime()) - start, 1 / 86400)
        ax.barh(lanes[row["provider"]], width, left=start, height=0.6,
                color=STATUS_COLOURS.get(str(row["status"]), "#607d8b"), alpha=0.85)  # fmt: skip
    ax.set_yticks(list(lanes.values()), list(lanes.keys()))
    ax.xaxis_date()
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))
    ax.set_xlabel("time (UTC): submitted → finished")
    ax.set_title(f"{len(df)} jobs")
    handles = [Rectangle((0, 0), 1, 1, color=c) for c in STATUS_COLOURS.values()]
    ax.legend(handles, list(STATUS_COLOURS), loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    fig.tight_layout()
    return fig


def provider_summary(jobs: pd.DataFrame) -> Any:
    """Median time-to-result and total cost per provider, side by side."""
    from matplotlib.figure import Figure

    done = jobs[jobs["status"].astype(str) == "succeeded"]
    stats = done.groupby("provider", observed=True).agg(
        seconds=("elapsed_s", "median"), jobs=("id", "count")
    )
    # a provider that reports no cost stays empty rather than showing 0
    stats["cost"] = done.groupby("provider", observed=True)["cost"].sum(min_count=1)
    fig = Figure(figsize=(9, 3))
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
    return fig
