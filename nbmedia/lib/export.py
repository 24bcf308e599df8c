"""`studio.export(path)`: a self-contained folder that can be committed, zipped or opened anywhere.

It holds the notebook (when known), every job's files under media/, the job table as CSV, and an
index.html that shows the results with players by relative path.
"""

from __future__ import annotations

import html
import shutil
from pathlib import Path

import pandas as pd

from ..display.jobview import seconds_text
from ..display.players import output_from_path, player_html
from ..models import cost_text

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; }}
.job {{ border: 1px solid #ddd; border-radius: 6px; padding: 0.8em; margin: 0.8em 0; }}
.meta {{ color: #555; font-size: 0.9em; }}
video {{ max-width: 640px; }}
</style></head>
<body><h1>{title}</h1><p class="meta">{count} jobs · exported {when}</p>
{body}
</body></html>
"""


def export(
    jobs: pd.DataFrame, dest: Path, *, notebook: Path | None = None, title: str = "nbmedia results"
) -> Path:
    """Writes the folder and returns the path of its index.html."""
    dest = Path(dest)
    media = dest / "media"
    media.mkdir(parents=True, exist_ok=True)
    rows = []
    table = jobs.copy()
    table["exported_path"] = None
    for i, row in table.iterrows():
        src = row["output_path"]
        if not isinstance(src, str) or not src or not Path(src).exists():  # None, NaN: no file
            rows.append(_block(row, None))
            continue
        target = media / row["provider"] / Path(src).name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
        _copy_companions(Path(src), target.parent)
        rel = target.relative_to(dest).as_posix()
        table.at[i, "exported_path"] = rel
        rows.append(_block(row, target, base=dest))
    table.to_csv(dest / "jobs.csv", index=False)
    if notebook is not None and Path(notebook).exists():
        shutil.copy2(notebook, dest / Path(notebook).name)
    page = dest / "index.html"
    page.write_text(
        PAGE.format(
            title=html.escape(title),
            count=len(table),
            when=pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%d %H:%M UTC"),
            body="\n".join(rows),
        ),
        encoding="utf-8",
    )
    return page


def _copy_companions(src: Path, folder: Path) -> None:
    """Captions and thumbnails that sit beside an output travel with it."""
    for sibling in src.parent.glob(src.stem + ".*"):
        if sibling != src and sibling.suffix in (".vtt", ".jpg", ".json", ".edl", ".srt"):
            shutil.copy2(sibling, folder / sibling.name)


def _text(value: object) -> str:
    """A cell as text: nothing for a missing value (never "None" or "nan")."""
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def _block(row: pd.Series, target: Path | None, base: Path | None = None) -> str:
    meta = f"{row['provider']} · {row['kind']} · {row['status']}"
    if pd.notna(row.get("elapsed_s")):
        meta += f" · {seconds_text(float(row['elapsed_s']))}"
    cost = cost_text(row.get("cost"), row.get("cost_unit"))
    meta += f" · {cost}" if cost else ""
    player = ""
    if target is not None and base is not None:
        player = player_html(output_from_path(target), base=base)
    prompt = html.escape(_text(row.get("prompt")))
    error = ""
    if _text(row.get("error_code")):
        code, message = (html.escape(_text(row.get(k))) for k in ("error_code", "error_message"))
        error = f"<p style='color:#c62828'>{code}: {message}</p>"
    return f"<div class='job'><div class='meta'>{html.escape(meta)}</div><p>{prompt}</p>{player}{error}</div>"
