"""The figures of one scenario beside the ideal 1 s loop's, with the goals and whether they are
met."""

from __future__ import annotations

import math

from .scenario import Run, Scenario


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))] if s else math.nan


def report(run: Run, sc: Scenario, webhooks: bool) -> str:
    """The scenario's figures beside the ideal 1 s loop's, its goals and whether they are met."""
    if run.skipped:
        return f"== {run.title}: skipped ({run.skipped})"
    life = run.lifetimes or [math.nan]
    # nothing ended: no figure per finished job, and no goal met by default
    status = (run.list_calls + run.job_gets) / run.ended if run.ended else math.nan
    ideal = 1 + sum(life) / len(life)
    ratio = ideal / status if status else math.inf
    need = 50 if sc.lists else 4
    lat, lat_goal = run.latencies, 1.5 if sc.lists else 5.0
    cpu = max(0.0, run.cpu - run.idle_cpu * run.track_s)
    per_change = cpu / run.changes * 1000 if run.changes else math.nan
    files = run.files * run.file_cpu * run.file_ratio
    tracking = max(0.0, cpu - files) / run.changes * 1000 if run.changes else math.nan
    idle = pct(run.lags["idle"], 0.99) * 1000
    get_ms = run.get_cpu * 1000  # the machine's speed in this run (0: not measured)
    row = "{:<36}{:<24}{:<18}{:<24}{}".format
    lines = [
        f"== {run.title} · speed {run.speed:g} · {run.jobs} jobs"
        + (" (one from the compare)" if run.jobs > run.n else "")
        + f", {run.ended} ended · lifetimes {min(life):.1f}-{max(life):.1f} s "
        f"(mean {sum(life) / len(life):.1f}) · wall {run.wall:.0f} s "
        f"(submitting {run.submit_s:.1f} s, tracking {run.track_s:.1f} s)",
        row("", "nbmedia", "ideal 1 s loop", "goal", "met"),
        row("status requests per finished job", f"{status:.2f}", f"{ideal:.1f}",
            "≤ 1.1" if webhooks else f"ideal/nbmedia ≥ ×{need}",
            _met(status <= 1.1 if webhooks else ratio >= need)),
        row("  ideal/nbmedia", f"×{ratio:.1f}" if status else "∞ (none)", "", "", ""),
        row("  list calls, per-job GETs", f"{run.list_calls}, {run.job_gets}", "", "", ""),
        row("completion → listener p50/p95/max",
            "/".join(f"{pct(lat, q):.2f}" for q in (0.5, 0.95, 1.0)) + " s",
            "0.50/0.95/1.00 s", f"p95 ≤ {lat_goal:g} s", _met(pct(lat, 0.95) <= lat_goal)),
        row("kernel CPU per status change", f"{tracking:.2f} ms", "", "≤ 1 ms",
            _met(tracking <= 1.0)),
        row("  CPU − idle − files, changes",
            f"{run.cpu:.1f} − {run.idle_cpu * run.track_s:.1f} − {files:.1f} s, {run.changes}",
            "", "", ""),
        row("  idle, before/after tracking",
            f"{run.idle_before * 1000:.0f}/{run.idle_after * 1000:.0f} ms/s", "", "", ""),
        row("  with the files' download", f"{per_change:.2f} ms",
            f"{run.files} downloads, {run.file_cpu * 1000:.1f} ms each", "", ""),
        row("  the files' loop work", f"×{run.file_ratio:.2f} what the meter sees", "", "",
            ""),
        row("  in status GETs (same run)", f"{tracking / get_ms:.2f} GETs" if get_ms else "—",
            f"1 GET = {get_ms:.2f} ms" if get_ms else "", "", ""),
    ]  # fmt: skip
    for phase in ("idle", "submitting", "tracking"):
        lags = run.lags[phase]
        p99, top = pct(lags, 0.99) * 1000, max(lags, default=math.nan) * 1000
        goal, met = ("", "") if phase == "idle" else ("p99 ≤ idle + 50 ms", _met(p99 <= idle + 50))
        lines.append(row(f"loop lag p99/max, {phase}", f"{p99:.1f}/{top:.0f} ms", "", goal, met))
    return "\n".join(lines + [f"  note: {note}" for note in run.notes])


def stalls(run: Run) -> str:
    """Where the loop was stuck, per phase, the most frequent stacks first."""
    lines = []
    for phase, where in run.stalls.items():
        lines.append(f"-- stalls while {phase}: {sum(where.values())}")
        for stack, count in where.most_common(5):
            lines.append(f"   {count}× at\n" + stack.rstrip())
    return "\n".join(lines) or "-- no stalls"


def _met(ok: bool) -> str:
    return "yes" if ok else "NO"
