"""An exported folder's page shown inside the notebook that exported it.

An IFrame of `index.html` does not play in JupyterLab: the page loads, but the Jupyter server
answers its media requests (relative to the page) with a redirect to its login page. Shown
instead as the page's own content, with every relative link made relative to the notebook's
folder, the players load through the same files route as a job's player does, and the saved
notebook keeps them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

BODY = re.compile(r"<body[^>]*>(.*)</body>", re.S | re.I)
STYLE = re.compile(r"<style.*?</style>", re.S | re.I)
LINK = re.compile(r'\b(src|href)="(?![a-zA-Z][a-zA-Z0-9+.-]*:|/|#)([^"]*)"')
"""A relative src or href (no scheme, not absolute, not an anchor)."""


class ExportPreview:
    """`studio.preview(page)`: the page's content as HTML, links from the notebook's folder."""

    def __init__(self, page: Path, base: Path | None = None) -> None:
        self.page = Path(page)
        self.base = base

    def __repr__(self) -> str:
        return f"<ExportPreview {self.page}>"

    def html(self) -> str:
        text = self.page.read_text(encoding="utf-8")
        found = BODY.search(text)
        body = STYLE.sub("", found.group(1) if found else text)  # the page's styles stay there
        folder = Path(
            os.path.relpath(self.page.parent.resolve(), (self.base or Path.cwd()).resolve())
        ).as_posix()
        body = LINK.sub(lambda m: f'{m.group(1)}="{folder}/{m.group(2)}"', body)
        return f"<div class='nbmedia-export'>{body}</div>"

    def _repr_mimebundle_(self, **_: Any) -> dict[str, str]:
        return {"text/html": self.html(), "text/plain": f"exported page {self.page}"}
