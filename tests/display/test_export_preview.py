"""An exported page shown in the notebook plays there: its links start from the notebook."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import nbmedia as nm

pytestmark = pytest.mark.timeout(120)


def test_an_exported_page_is_shown_with_links_from_the_notebooks_folder(
    tmp_path: Path, sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a kernel runs in its notebook's folder
    with nm.Studio(root=tmp_path, sandbox=sandbox) as studio:
        studio.speech("Shown from the exported page.", format="wav").wait(timeout=60)
        page = studio.export("shared/results")
        html = studio.preview(page)._repr_mimebundle_()["text/html"]
    sources = re.findall(r'src="([^"]+)"', html)
    assert sources and all(s.startswith("shared/results/media/") for s in sources)
    assert all((tmp_path / s).is_file() for s in sources)  # what JupyterLab's files route serves
    assert (tmp_path / sources[0]).read_bytes()[:4] == b"RIFF"
    assert "<style" not in html and "<body" not in html  # the page's styles stay in the page
    assert 'src="media/' in page.read_text()  # the page itself still plays from its folder
