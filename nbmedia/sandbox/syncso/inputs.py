"""A request's media on disk: uploaded files stored where the sandbox serves them and merged
into ``input``, URL inputs fetched into a scratch folder (only files this sandbox serves, or
``data:`` URIs, can be fetched: anything else is unreachable)."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

from ..kit.env import Env
from ..services.inputs import Unreachable, fetch
from .bodies import Body
from .spec import Spec


def new_scratch(env: Env) -> Path:
    """A folder for one request's decoded inputs (never served: it is under ``.inputs``)."""
    inputs = env.files.folder / ".inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="gen-", dir=inputs))


def fetch_url(env: Env, url: str, scratch: Path) -> Path:
    """A local path for ``url`` (blocking), or ``Unreachable``."""
    return fetch(
        url, sandbox_url=env.sandbox_url, store_root=env.files.folder.parent, scratch=scratch
    )


def fetch_inputs(env: Env, spec: Spec, scratch: Path) -> list[str]:
    """Local paths for every URL input (blocking); why any of them cannot be fetched."""
    unreachable: list[str] = []
    for item in spec.items:
        if item.url is None:
            continue
        try:
            item.path = fetch_url(env, item.url, scratch)
        except Unreachable as exc:
            unreachable.append(f"input.{item.index}.url could not be downloaded: {exc.reason}")
    return unreachable


def store_uploads(env: Env, body: Body, names: list[str]) -> None:
    """Save uploaded files where the sandbox serves them (``names`` gets each file name, for
    clean-up); merge them into ``input``."""
    fields = body.fields
    if not body.uploads:
        return
    if fields.get("input") is None:
        fields["input"] = []
    items = fields["input"]
    if not isinstance(items, list):
        return
    for kind in ("video", "audio"):
        upload = body.uploads.get(kind)
        if upload is None:
            continue
        name = f"upload-{uuid.uuid4().hex[:16]}{upload.suffix(kind)}"
        env.files.path(name).write_bytes(upload.data)
        names.append(name)
        url = env.files.url(name)
        same = [i for i in items if isinstance(i, dict) and i.get("type") == kind]
        empty = [i for i in same if i.get("url") is None]
        if empty:
            empty[0]["url"] = url
        elif same:  # "combining both file and url inputs is supported, the file taking
            same[0]["url"] = url  # precedence": the file replaces the first item's url
        elif kind == "video":
            items.insert(0, {"type": "video", "url": url})
        else:
            items.append({"type": "audio", "url": url})
