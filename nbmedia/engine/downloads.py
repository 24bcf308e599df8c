"""A finished job's files: fetched, checked and saved atomically under media/<provider>/.

A file counts only once it is whole and of the kind expected: its byte count matches the
Content-Length the server announced, and its first bytes are a real video, audio, image or text
of that kind (an HTML error page served with 200 is a failed download, not a result). Bytes go
to a temporary name and are renamed into place only after those checks, so a file at its final
name is always a verified one: a restart never fetches it twice.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path
from typing import BinaryIO

from .. import constants as C
from ..errors import DownloadError
from ..http import HEAD_BYTES, ApiClient
from ..models import EXT_BY_MIME, Job, Output

DEFAULT_EXT = {"video": "mp4", "audio": "mp3", "image": "jpg", "captions": "vtt", "text": "json"}
PART = ".part"

DISK_ERRNOS = {errno.ENOSPC: "disk full", errno.EDQUOT: "disk quota exceeded"}
"""OS errors that free space cures."""


class Downloads:
    """Where a Studio keeps its outputs, and how they get there."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"<Downloads {self.root}>"

    def path_for(self, job: Job, out: Output, index: int, *, shared_id: bool = False) -> Path:
        """media/<provider>/<id>[.<role>][.<n>].<ext>; a job that shares its provider id with
        another row (a regeneration of the same media) adds its local id."""
        ext = (
            EXT_BY_MIME.get(out.mime or "")
            or _ext_from_url(out.url)
            or DEFAULT_EXT.get(out.kind, "bin")
        )
        stem = _safe(job.id or job.local_id)
        if shared_id:
            stem += f".{job.local_id}"
        if out.role != "main":
            stem += f".{out.role}"
        if index:
            stem += f".{index}"
        return self.root / _safe(job.provider) / f"{stem}.{ext}"

    async def fetch(
        self, job: Job, api: ApiClient, *, shared_id: bool = False, overwrite: bool = False
    ) -> None:
        """Fetches every output of `job` not yet on disk, verified; sets each `out.path`.

        Raises DownloadError (naming the file, the cause and the remedy) or ProviderError
        (an expired link: the caller re-reads the job for fresh ones)."""
        counts: dict[str, int] = {}
        for out in job.outputs:
            index = counts.get(out.role, 0)
            counts[out.role] = index + 1
            if not overwrite and out.path is not None and Path(out.path).is_file():
                continue
            if out.url is None and out.content is None:
                continue
            dest = self.path_for(job, out, index, shared_id=shared_id)
            if not overwrite and dest.is_file() and _looks_like(_head(dest), out):
                out.path = dest  # saved whole before a restart: never fetched twice
                continue
            try:
                await self._save(out, dest, api, job.provider)
            except OSError as exc:
                raise _disk_error(job.provider, dest, exc) from None
            out.path = dest

    async def _save(self, out: Output, dest: Path, api: ApiClient, provider: str) -> None:
        part = dest.with_name(dest.name + PART)
        try:
            # the disk is asked before the provider: no transfer is made that cannot be kept
            with _create(part) as fh:
                free = shutil.disk_usage(dest.parent).free
                if free < C.DOWNLOAD_MIN_FREE:
                    raise OSError(errno.ENOSPC, f"only {free // 1024} KiB free")
                if out.content is not None:
                    data = out.content.encode("utf-8")
                    fh.write(data)
                    head = data[:HEAD_BYTES]
                else:
                    assert out.url is not None
                    head = (await api.download(out.url, fh)).head
            if not _looks_like(head, out):
                raise DownloadError(
                    provider,
                    f"{_shown(dest)} is not a {out.mime or out.kind} file "
                    f"(it begins {head[:24]!r})",
                    remedy="the download is retried",
                )
            os.replace(part, dest)
        except BaseException:
            with contextlib.suppress(OSError):
                part.unlink()
            raise

    def missing(self, job: Job) -> list[Output]:
        """Main outputs with no verified file on disk (with a source or not)."""
        return [
            o
            for o in job.outputs
            if o.role == "main" and (o.path is None or not Path(o.path).is_file())
        ]

    def sourceless(self, job: Job) -> list[Output]:
        """Main outputs still to fetch that have neither a link nor inline text (a row written
        before either was kept): the job must be re-read for them."""
        return [o for o in self.missing(job) if not o.url and o.content is None]


def _disk_error(provider: str, dest: Path, exc: OSError) -> DownloadError:
    what = DISK_ERRNOS.get(exc.errno or 0)
    if what:
        return DownloadError(
            provider,
            f"{what} writing {_shown(dest)}",
            remedy="free space and it resumes by itself",
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return DownloadError(
            provider,
            f"cannot write {_shown(dest)} ({exc.strerror})",
            remedy="make the media folder writable and it resumes by itself",
        )
    return DownloadError(
        provider, f"cannot save {_shown(dest)} ({exc.strerror or exc})", remedy="it is retried"
    )


def _shown(path: Path) -> str:
    parts = Path(path).parts
    return "/".join(parts[-3:])


SIGNATURES: dict[str, tuple[tuple[int, bytes], ...]] = {
    "video": ((4, b"ftyp"), (4, b"moov"), (4, b"mdat"), (4, b"free"), (0, b"\x1aE\xdf\xa3")),
    "audio": (
        (0, b"ID3"),
        (0, b"RIFF"),
        (0, b"fLaC"),
        (0, b"OggS"),
        (4, b"ftyp"),
        (0, b"\xff\xfb"),
        (0, b"\xff\xf3"),
        (0, b"\xff\xf2"),
        (0, b"\xff\xfa"),
        (0, b"\xff\xf1"),
        (0, b"\xff\xf9"),
    ),
    "image": ((0, b"\xff\xd8\xff"), (0, b"\x89PNG"), (0, b"GIF8"), (8, b"WEBP")),
}
"""First bytes of each media family (mp4/mov/webm; mp3/wav/flac/ogg/m4a; jpeg/png/gif/webp)."""


def _looks_like(head: bytes, out: Output) -> bool:
    """Whether `head` (the first bytes) starts a file of the output's kind."""
    family = (out.mime or "").split("/", 1)[0]
    if family not in SIGNATURES:
        family = out.kind if out.kind in SIGNATURES else ""
    if family:
        return any(head[at : at + len(sig)] == sig for at, sig in SIGNATURES[family])
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if not text and out.content is None:
        return False
    if text[:15].lower().startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return False
    if out.mime == "text/vtt":
        return text.startswith(b"WEBVTT")
    if out.mime == "application/json":
        return text[:1] in (b"{", b"[")
    return True


def _ext_from_url(url: str | None) -> str | None:
    if not url:
        return None
    name = url.split("?", 1)[0].rsplit("/", 1)[-1]
    if "." in name:
        ext = name.rsplit(".", 1)[-1].lower()
        if ext.isalnum() and len(ext) <= 5:
            return ext
    return None


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _create(path: Path) -> BinaryIO:
    """`path` opened for writing, its folder made first if it is missing (once per folder in
    practice: the open fails only then)."""
    try:
        return path.open("wb")
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.open("wb")


def _head(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.read(HEAD_BYTES)
