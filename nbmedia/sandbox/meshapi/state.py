"""Mesh API tasks: the key gate, fetching a request's media, creating a task and scheduling
its end (render, failure, expiry), the callback, and the rows the list serves."""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from starlette.requests import Request

from ..kit.env import Env
from ..kit.gates import bearer
from ..kit.helpers import shown
from ..services.clock import FAIL_POINT, Lifecycle, Snapshot, Stage, Timing
from ..services.inputs import Unreachable, fetch, is_data_uri
from ..services.webhooks import Delivery
from .checks import CONTENT_CHECKS, check_data_uri, check_size, seconds
from .contract import (
    AUDIO_SECONDS_SLACK,
    CALLBACK_STATUSES,
    CALLBACK_TIMEOUT,
    EXPIRED,
    FORBIDDEN_MARKER,
    FPS,
    KEY,
    MAX_AUDIO_TOTAL_SECONDS,
    NAME,
    NO_SPEND_MARKER,
    ROW_RANK,
    SEED,
    UNREACHABLE_CODE,
    timing,
    usage_tokens,
)
from .errors import ApiError, Problems
from .listing import list_page, parse_list_query
from .rendering import render
from .task import Task, aspect_of, frames_of, resolve_ratio, status_of, task_id
from .validation import Item


class MeshApi:
    """The state behind the routes of one sandbox: tasks by id, in creation order."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self._lock = threading.Lock()
        self._rows_lock = threading.Lock()
        self._tasks: dict[str, Task] = {}
        self._seq = 0
        self._sandbox_url = env.base_url.rsplit("/", 1)[0]
        self._inputs = env.files.folder / ".inputs"

    # --------------------------------------------------------------------- request gate

    def authorize(self, request: Request, *, creating: bool = False) -> str:
        sent = bearer(request)
        token = sent.token
        if not sent.present:
            raise ApiError(
                401, "Missing Authorization header: send 'Authorization: Bearer rsk_...'."
            )
        if not token:
            raise ApiError(401, "Malformed Authorization header: expected 'Bearer rsk_...'.")
        if not KEY.match(token):
            raise ApiError(401, "Invalid API key: Mesh API keys look like rsk_...")
        if FORBIDDEN_MARKER in token:
            raise ApiError(403, "This API key may not use video generation.")
        if creating and NO_SPEND_MARKER in token:
            raise ApiError(402, "The spend limit of this API key has been reached.")
        return token

    # ------------------------------------------------------------------------ creating

    def fetch_media(self, key: str, items: list[Item], scratch: Path) -> list[str]:
        """Fetch and check every media input (blocking); returns why inputs are unreachable."""
        problems = Problems()
        unreachable: list[str] = []
        for item in items:
            if item.type == "draft_task":
                self._use_draft(key, item, problems)
            elif item.url is not None:
                why = self._fetch(item, scratch, unreachable)
                if why:
                    problems.add(item.loc, f"{item.where}: {why}")
        audio = [i for i in items if i.type == "audio_url" and i.seconds]
        total = sum(i.seconds for i in audio)
        if total > MAX_AUDIO_TOTAL_SECONDS + AUDIO_SECONDS_SLACK:
            problems.add(
                ("body", "content"),
                f"audio clips must last at most {MAX_AUDIO_TOTAL_SECONDS:g} s in total "
                f"(got {seconds(total)} over {len(audio)} clips)",
            )
        problems.raise_if_any()
        return unreachable

    def _fetch(self, item: Item, scratch: Path, unreachable: list[str]) -> str | None:
        assert item.url is not None
        if is_data_uri(item.url):
            why = check_data_uri(item)
            if why:
                return why
        elif not item.url.startswith(("http://", "https://")):
            return "url must be an http(s) URL or a base64 data URI"
        try:
            item.path = fetch(
                item.url,
                sandbox_url=self._sandbox_url,
                store_root=self.env.files.folder.parent,
                scratch=scratch,
            )
        except Unreachable as exc:
            if is_data_uri(item.url):
                return exc.reason
            unreachable.append(f"{item.where}.url could not be fetched: {exc.reason}")
            return None
        return check_size(item, item.path.stat().st_size) or CONTENT_CHECKS[item.type](item)

    def _use_draft(self, key: str, item: Item, problems: Problems) -> None:
        with self._lock:
            draft = self._tasks.get(item.task_id or "")
        if draft is None or draft.key != key:
            problems.add(item.loc, f"{item.where}.id: no task {shown(item.task_id)} for this key")
            return
        if draft.lifecycle.snapshot().stage is not Stage.SUCCEEDED or not draft.video_name:
            raise ApiError(409, f"Draft task {draft.id} has not succeeded: it cannot be used yet.")
        item.path = self.env.files.path(draft.video_name)
        item.aspect = aspect_of(draft.ratio)

    def create(
        self,
        key: str,
        model_id: str,
        opts: dict[str, Any],
        items: list[Item],
        scratch: Path,
        unreachable: list[str],
    ) -> Task:
        seed = opts["seed"] if opts["seed"] >= 0 else secrets.randbelow(SEED[1] + 1)
        with self._lock:
            self._seq += 1
            seq = self._seq
        task = Task(
            id=task_id(),
            key=key,
            model=model_id,
            opts=opts,
            items=items,
            ratio=resolve_ratio(opts["ratio"], items),
            frames=frames_of(opts),
            seed=seed,
            created=time.time(),
            seq=seq,
            scratch=scratch,
            draft_task_id=next((i.task_id for i in items if i.type == "draft_task"), None),
        )
        task.changed[Stage.WAITING] = task.created
        self._start(task, unreachable)
        self._store(task, task.lifecycle.snapshot())
        with self._lock:
            self._tasks[task.id] = task
        text = " ".join(i.text for i in items if i.type == "text" and i.text)
        self.env.audit.created(NAME, task.id, key, "video", label=text or None)
        self.env.clock.track(task.lifecycle)  # stamps each stage on time, fires the callback
        return task

    def _start(self, task: Task, unreachable: list[str]) -> None:
        """Schedule the task's end: a failure, an expiry, or a render."""
        plan = timing(task.seconds)
        expires = float(task.opts["execution_expires_after"])
        failure = self.env.faults.take_job_failure()
        expiring = not unreachable and failure is None and expires < plan.total
        if expiring:  # the scheduled failure lands exactly when the task expires
            wait = min(plan.wait, expires / 2)
            plan = Timing(wait=wait, run=(expires - wait) / FAIL_POINT)
        task.lifecycle = Lifecycle(
            self.env.clock, plan, on_change=lambda s, snap: self._changed(task, s, snap)
        )
        if unreachable:
            task.lifecycle.fail(UNREACHABLE_CODE, "; ".join(unreachable))
        elif failure is not None:
            task.lifecycle.fail(*failure, scheduled=True)
        elif expiring:
            message = f"The task did not finish within execution_expires_after ({int(expires)} s)."
            task.lifecycle.fail(EXPIRED, message, scheduled=True)
        else:
            self.env.render.submit(self._render, task)
            return
        shutil.rmtree(task.scratch, ignore_errors=True)

    def _render(self, task: Task) -> None:
        render(task, self.env)

    def _changed(self, task: Task, stage: Stage, snap: Snapshot) -> None:
        """Called once per stage reached: stamp it; a terminal one is stored (the upstream's
        completion notification) and goes to the callback."""
        task.changed[stage] = time.time()
        if not stage.terminal:
            return
        row = self._store(task, snap)
        url = task.opts["callback_url"]
        if url and status_of(snap) in CALLBACK_STATUSES:
            body = json.dumps(row).encode()
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "MeshAPI-Callback (nbmedia sandbox)",
            }
            delivery = Delivery(
                NAME,
                url,
                status_of(snap),
                body,
                headers,
                timeout=CALLBACK_TIMEOUT,
                retries=False,
                key=task.id,
            )
            self.env.webhooks.send(delivery)

    def _store(self, task: Task, snap: Snapshot) -> dict[str, Any]:
        """Write the task's row as of `snap` to the "database"; the stored row comes back."""
        row = self.task_json(task, snap)
        rank = ROW_RANK[snap.stage]
        with self._rows_lock:
            if rank > task.row_rank or (rank == task.row_rank and rank < 2):
                task.row, task.row_rank = row, rank
            return task.row

    def stored_row(self, task: Task) -> dict[str, Any]:
        """The row the list serves: stored, except that an end the clock has reached is
        recorded first (the completion notification is never late)."""
        if task.row_rank < 2:
            task.lifecycle.snapshot()  # stores the row if the task has just ended
        with self._rows_lock:
            return task.row

    # ------------------------------------------------------------------------- reading

    def sync(self, task: Task) -> dict[str, Any]:
        """``GET`` of one task: its live state, which is also stored for the list."""
        return self._store(task, task.lifecycle.snapshot())

    def get(self, key: str, task_id: str) -> Task:
        with self._lock:
            task = self._tasks.get(task_id)
        if task is None or task.key != key:
            raise ApiError(404, f"Video generation task {shown(task_id)} not found.")
        return task

    def audit_lookup(self, task_id: str, ref: Any = None) -> dict[str, Any] | None:
        """The sandbox audit's view of a task: its status now, the files it points at."""
        with self._lock:
            task = self._tasks.get(task_id)
        if task is None:
            return None
        snap = task.lifecycle.snapshot()
        names = [task.video_name, task.last_frame_name] if snap.stage is Stage.SUCCEEDED else []
        return {
            "status": status_of(snap),
            "outputs": [n for n in names if n],
            "ended_at": snap.ended_at,
        }

    def task_json(self, task: Task, snap: Snapshot | None = None) -> dict[str, Any]:
        """The task object, identical for GET, list rows and callbacks."""
        snap = snap or task.lifecycle.snapshot()
        status = status_of(snap)
        succeeded = snap.stage is Stage.SUCCEEDED
        updated = max(task.changed.values())
        files = self.env.files
        content = None
        if succeeded and task.video_name:
            last = files.url(task.last_frame_name) if task.last_frame_name else None
            content = {"video_url": files.url(task.video_name), "last_frame_url": last}
        tokens = usage_tokens(task.opts["resolution"], task.ratio, task.frames)
        return {
            "id": task.id,
            "model": task.model,
            "status": status,
            "error": {"code": snap.error[0], "message": snap.error[1]}
            if snap.error and not succeeded
            else None,
            "created_at": int(task.created),
            "updated_at": int(updated),
            "content": content,
            "seed": task.seed,
            "resolution": task.opts["resolution"],
            "ratio": task.ratio,
            "duration": round(task.seconds),
            "frames": task.frames,
            "framespersecond": FPS,
            "generate_audio": task.opts["generate_audio"],
            "safety_identifier": task.opts["safety_identifier"],
            "priority": task.opts["priority"],
            "draft": task.opts["draft"],
            "draft_task_id": task.draft_task_id,
            "service_tier": task.opts["service_tier"],
            "execution_expires_after": task.opts["execution_expires_after"],
            "usage": {"completion_tokens": tokens, "total_tokens": tokens} if succeeded else None,
        }

    def list_tasks(self, key: str, request: Request) -> dict[str, Any]:
        """One page of the key's stored rows, filtered as the query asks (newest first)."""
        query = parse_list_query(request)
        with self._lock:
            owned = [t for t in self._tasks.values() if t.key == key]
        return list_page(owned, self.stored_row, query)

    def new_scratch(self) -> Path:
        """A folder for one request's decoded inputs (never served: its name starts with a dot)."""
        self._inputs.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="task-", dir=self._inputs))
