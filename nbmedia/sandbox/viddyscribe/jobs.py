"""Generation jobs: creating one (its place in the team's queue, a scheduled failure or its
render), reading it back for ``get_results`` with freshly signed links, and the audit's view."""

from __future__ import annotations

import threading
import time
from typing import Any

from ..kit.env import Env
from ..services.clock import Stage
from .contract import NAME, STATUS, timing
from .errors import ApiError, invalid, shown
from .job import Job, iso, job_id
from .media import Media
from .queue import TeamQueues
from .rendering import render
from .signing import Signer


class Jobs:
    """Every job of one sandbox by id."""

    def __init__(self, env: Env, queues: TeamQueues, signer: Signer) -> None:
        self.env = env
        self.queues = queues
        self.signer = signer
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}

    def create(
        self,
        team: str,
        kind: str,
        media: Media,
        config: dict[str, Any],
        filename: str | None = None,
    ) -> Job:
        assert media.info is not None
        lifecycle = self.queues.admit(team, timing(kind, float(media.info["duration"])))
        job = Job(
            id=job_id(),
            team=team,
            kind=kind,
            media=media,
            config=config,
            created=time.time(),
            lifecycle=lifecycle,
            filename=filename,
        )
        with self._lock:
            self._jobs[job.id] = job
        self.env.audit.created(
            NAME, job.id, team, kind, label=(config or {}).get("custom_instructions")
        )
        failure = self.env.faults.take_job_failure()
        if failure is not None:
            job.lifecycle.fail(*failure, scheduled=True)
        else:
            self.env.render.submit(render, job, self.env)
        self.env.clock.track(job.lifecycle)  # stamps each stage on time for updated_at
        return job

    def get(self, team: str, job_id: Any) -> Job:
        if not isinstance(job_id, str) or not job_id:
            raise invalid("job_id", "is required (the job_id a generate endpoint returned)")
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or job.team != team:
            raise ApiError("job_not_found", f"Job {shown(job_id)} not found.")
        return job

    def audit_lookup(self, job_id: str, ref: Any = None) -> dict[str, Any] | None:
        """The sandbox audit's view of a job: its status now, the files its results sign."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            return None
        snap = job.lifecycle.snapshot()
        stage = snap.stage
        names: list[str] = []
        if stage is Stage.SUCCEEDED:
            if job.kind == "video" and job.video_name:
                names.append(job.video_name)
            if job.audio_name and (job.kind == "audio" or job.config["ad_type"] == "standard_ad"):
                names.append(job.audio_name)
        return {"status": STATUS[stage], "outputs": names, "ended_at": snap.ended_at}

    def job_json(self, job: Job) -> dict[str, Any]:
        snap = job.lifecycle.snapshot()
        body: dict[str, Any] = {
            "job_id": job.id,
            "status": STATUS[snap.stage],
            "media_id": job.media.public_id,
            "created_at": iso(job.created),
            "updated_at": iso(max(snap.stamps.values())),
        }
        if snap.stage is Stage.SUCCEEDED:
            if job.kind == "video" and job.video_name:
                body["video_signed_url"] = self.signer.sign_download(job.video_name)
            wants_audio = job.kind == "audio" or job.config["ad_type"] == "standard_ad"
            if job.audio_name and wants_audio:
                body["audio_signed_url"] = self.signer.sign_download(job.audio_name)
            body["output"] = job.output
        elif snap.stage is Stage.FAILED and snap.error:
            body["error_code"], body["error"] = snap.error
        return body

    # ----------------------------------------------------------------- signed links
