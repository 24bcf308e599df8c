"""The Binder environment installs nbmedia and what the notebooks need, by repo2docker's rules."""

from __future__ import annotations

import os
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"


def test_binder_files_follow_repo2docker() -> None:
    assert (BINDER / "runtime.txt").read_text().strip().startswith("python-3.")
    post = BINDER / "postBuild"
    text = post.read_text()
    assert text.startswith("#!/bin/bash") and "set -e" in text and os.access(post, os.X_OK)
    assert '-e ".[lab]"' in text
    reqs = (BINDER / "requirements.txt").read_text()
    assert "jupyterlab" in reqs and "ipywidgets" in reqs


def test_lab_extra_has_what_the_notebooks_import() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = " ".join(project["dependencies"] + project["optional-dependencies"]["lab"])
    for name in (
        "jupyterlab",
        "ipywidgets",
        "matplotlib",
        "pandas",
        "espeakng-loader",
        "imageio-ffmpeg",
    ):
        assert name in deps, name


def test_readme_has_a_binder_link_to_the_quickstart() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "mybinder.org/v2/gh/" in readme
    assert "urlpath=lab/tree/notebooks/01_quickstart.ipynb" in readme
