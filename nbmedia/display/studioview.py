"""What a Studio shows as a cell's last expression: each provider, where it runs (the sandbox
or the live API, and why another is missing), what it makes, and its open jobs."""

from __future__ import annotations

import html
from dataclasses import dataclass


@dataclass(frozen=True)
class ProviderLine:
    name: str
    title: str
    where: str
    """"sandbox" or the live API's host; for a provider that is not set up, why not."""
    makes: tuple[str, ...]
    open_jobs: int
    available: bool = True


def studio_html(kind: str, root: str, lines: list[ProviderLine], webhooks: str | None) -> str:
    """A small table, one row a provider (plain HTML: it is saved and shown as it was)."""
    cell = "padding:2px 10px;text-align:left;white-space:nowrap"
    rows = "".join(
        f"<tr style='{'' if p.available else 'color:#888'}'>"
        f"<td style='{cell}'><b>{html.escape(p.title)}</b> <code>{html.escape(p.name)}</code></td>"
        f"<td style='{cell}'>{html.escape(p.where)}</td>"
        f"<td style='{cell.replace('white-space:nowrap', 'white-space:normal')}'>"
        f"{html.escape(', '.join(p.makes))}</td>"
        f"<td style='{cell};text-align:right'>{p.open_jobs or ''}</td></tr>"
        for p in lines
    )
    head = "".join(
        f"<th style='{cell}'>{h}</th>" for h in ("provider", "runs on", "makes", "open jobs")
    )
    opened = sum(p.open_jobs for p in lines)
    note = f" · webhooks at <code>{html.escape(webhooks)}</code>" if webhooks else ""
    return (
        f"<div class='nbmedia-studio'><div><b>{html.escape(kind)}</b> in "
        f"<code>{html.escape(root)}</code> · {opened} open job{'s' * (opened != 1)}{note}</div>"
        f"<table style='border-collapse:collapse;font-size:0.9em'><thead><tr>{head}</tr></thead>"
        f"<tbody>{rows}</tbody></table></div>"
    )
