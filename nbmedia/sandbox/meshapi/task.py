"""One Mesh API task as the sandbox keeps it, and what its fields are derived from."""

from __future__ import annotations

import math
import secrets
import string
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..services.clock import Lifecycle, Snapshot, Stage
from .contract import EXPIRED, FPS, RATIOS, STATUS
from .validation import Item


@dataclass
class Task:
    id: str
    key: str
    model: str
    opts: dict[str, Any]
    items: list[Item]
    ratio: str
    frames: int
    seed: int
    created: float
    seq: int
    scratch: Path
    draft_task_id: str | None = None
    lifecycle: Lifecycle = field(init=False)
    changed: dict[Stage, float] = field(default_factory=dict)
    video_name: str | None = None
    last_frame_name: str | None = None
    row: dict[str, Any] = field(default_factory=dict)
    """The task object as the gateway's database last stored it (what the list serves)."""
    row_rank: int = -1
    """How far along the stored row is (``ROW_RANK``): a late writer never moves it back."""

    @property
    def seconds(self) -> float:
        return self.frames / FPS

    @property
    def prompt(self) -> str:
        return " ".join(i.text.strip() for i in self.items if i.type == "text" and i.text)


def task_id() -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S")
    alphabet = string.ascii_lowercase + string.digits
    return f"cgt-{stamp}-" + "".join(secrets.choice(alphabet) for _ in range(5))


def _nearest_ratio(aspect: float) -> str:
    def distance(ratio: str) -> float:
        w, h = (int(x) for x in ratio.split(":"))
        return abs(math.log(aspect) - math.log(w / h))

    return min((r for r in RATIOS if r != "adaptive"), key=distance)


def resolve_ratio(ratio: str, items: list[Item]) -> str:
    """``adaptive``: the first image's aspect, else the first video's, else 16:9."""
    if ratio != "adaptive":
        return ratio
    for kinds in (("image_url",), ("video_url", "draft_task")):
        aspect = next((i.aspect for i in items if i.type in kinds and i.aspect), None)
        if aspect:
            return _nearest_ratio(aspect)
    return "16:9"


def frames_of(opts: dict[str, Any]) -> int:
    return opts["frames"] if opts["frames"] is not None else opts["duration"] * FPS


def status_of(snap: Snapshot) -> str:
    if snap.stage is Stage.FAILED and snap.error and snap.error[0] == EXPIRED:
        return EXPIRED
    return STATUS[snap.stage]


def aspect_of(ratio: str) -> float:
    w, h = (int(x) for x in ratio.split(":"))
    return w / h
