"""Studio: the one public entry. Owns the providers, the tracker, the ledger and the media folder."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import hashlib
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from . import constants as C
from .batch import Batch
from .comparison import Comparison
from .errors import AuthError, NbmediaError, ProviderError, TransportError, ValidationError
from .http import ApiClient, Secret
from .ledger import Ledger
from .media import MediaStore
from .models import Job, JobStatus, utcnow
from .providers import REGISTRY, Provider
from .runner import LoopRunner
from .textprogress import TextProgress
from .tracker import Tracker
from .validation import RequestModel

JOB_COLUMNS = [
    "provider", "id", "kind", "status", "progress", "prompt", "created_at", "updated_at",
    "completed_at", "elapsed_s", "output_path", "output_url", "cost", "error_code", "error_message",
]  # fmt: skip


class Studio:
    """Talks to every provider, follows their jobs live and keeps them all in one table.

    `keys` maps provider name → API key and falls back on the environment
    (`MERCADREAM_API_KEY`, …). `sandbox=None` sends each provider without a key to the embedded
    sandbox, `True` sends all of them there, `False` none (a provider without a key is then
    unavailable). A running `nbmedia.sandbox.Sandbox` may be passed to use that one.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] = ".",
        keys: Mapping[str, str] | None = None,
        sandbox: Any = None,
    ) -> None:
        self.root = Path(root)
        self._runner = LoopRunner()
        self.ledger = Ledger(self.root / C.LEDGER_DIR / C.LEDGER_FILE)
        self.media = MediaStore(self.root / C.MEDIA_DIR)
        self._keys = _read_keys(keys)
        self._providers: dict[str, Provider] = {}
        self._unavailable: dict[str, str] = {}
        self._sandbox: Any = None
        self._setup_providers(sandbox)
        self.tracker = Tracker(self._runner, self.provider, self.ledger, self.media)
        self._live: dict[str, Job] = {}
        self._closed = False
        self._resume()
        atexit.register(self.close)
        Studio._current = self

    _current: Studio | None = None

    @classmethod
    def current(cls) -> Studio:
        """The Studio made last in this process (the magic uses it), made on first use."""
        if cls._current is None or cls._current._closed:
            cls._current = cls()
        return cls._current

    def __repr__(self) -> str:
        where = {n: ("sandbox" if self._on_sandbox(n) else "live") for n in self._providers}
        return f"<Studio root={str(self.root)!r} providers={where}>"

    # ---- providers ---------------------------------------------------------------------------
    def _setup_providers(self, sandbox: Any) -> None:
        for name, cls in REGISTRY.items():
            key = self._keys.get(name)
            explicit = sandbox not in (None, True, False)  # a Sandbox object takes every provider
            use_sandbox = sandbox is True or explicit or (sandbox is None and key is None)
            if not use_sandbox and key is None:
                env = C.KEY_ENV.get(name, name.upper() + "_API_KEY")
                self._unavailable[name] = (
                    f"no API key for {cls.title}: set {env} or pass keys={{'{name}': ...}}, "
                    "or use the sandbox (Studio(sandbox=True))"
                )
                continue
            if use_sandbox:
                box = self._ensure_sandbox(sandbox)
                base_url = box.base_url(name)
                # a live key never goes there; each folder is its own sandbox account
                secret: Secret | None = Secret(_sandbox_key(cls.sandbox_key, self.root))
                hook = _sandbox_webhook_secret(box, name)
            else:
                base_url = os.environ.get(f"NBMEDIA_{name.upper()}_BASE_URL", cls.default_base_url)
                secret = key
                hook_env = os.environ.get(f"{name.upper()}_WEBHOOK_SECRET")
                hook = Secret(hook_env) if hook_env else None
            api = ApiClient(
                name,
                base_url,
                secret=secret,
                auth_headers=cls.auth_headers,
                error_parser=cls.parse_error,
            )
            self._providers[name] = cls(api, webhook_secret=hook)

    def _ensure_sandbox(self, sandbox: Any) -> Any:
        if self._sandbox is None:
            if sandbox in (None, True):
                from . import sandbox as sandbox_mod

                self._sandbox = sandbox_mod.shared()
            else:
                self._sandbox = sandbox
        return self._sandbox

    def _on_sandbox(self, name: str) -> bool:
        return (
            self._sandbox is not None
            and name in self._providers
            and self._providers[name].api.base_url.startswith(self._sandbox.url)
        )

    @property
    def sandbox(self) -> Any:
        """The running sandbox, or None when every provider is live."""
        return self._sandbox

    @property
    def providers(self) -> list[str]:
        return list(self._providers)

    def provider(self, name: str) -> Provider:
        """The client of one provider (raises a clear error if it has no key and no sandbox)."""
        if name in self._providers:
            return self._providers[name]
        if name in self._unavailable:
            raise AuthError(name, 401, "no_api_key", self._unavailable[name])
        known = ", ".join(REGISTRY)
        raise ValidationError("nbmedia", "provider", name, f"must be one of {known}")

    # ---- making things -----------------------------------------------------------------------
    def generate(self, prompt: str, provider: str = "mercadream", **fields: Any) -> Job:
        """A video from a prompt; returns the Job at once (display it for live progress)."""
        return self.submit(provider, "video", prompt, **fields)

    def speech(self, text: str, provider: str = "mercadream", **fields: Any) -> Job:
        """Speech from text (a voice-over)."""
        return self.submit(provider, "speech", text, **fields)

    def music(self, prompt: str, provider: str = "mercadream", **fields: Any) -> Job:
        """A music track from a description."""
        return self.submit(provider, "music", prompt, **fields)

    def describe(self, video: Any, provider: str = "viddyscribe", **fields: Any) -> Job:
        """An audio description of `video` (a file, URL, media id or an earlier job):
        `output="text"|"audio"|"video"`, `language=`, `format="json"|"vtt"|"edl"`, …"""
        job, request = self.prepare(provider, "describe", None, video=video, **fields)
        w = job.request
        source = video.prompt or video.id if isinstance(video, Job) else Path(str(w["video"])).name
        job.prompt = f"describe {source} → {w.get('output', 'text')} ({w.get('language')}, {w.get('format')})"
        return self._runner.run(self.send(job, request))

    def lipsync(
        self,
        video: Any,
        audio: Any = None,
        text: str | None = None,
        voice_id: str | None = None,
        provider: str = "syncso",
        **options: Any,
    ) -> Job:
        """`video` lip-synced to `audio` (recorded) or to `text` spoken by `voice_id`."""
        fields = {
            k: v
            for k, v in {"audio": audio, "text": text, "voice_id": voice_id}.items()
            if v is not None
        }
        return self.submit(provider, "lipsync", None, video=video, **fields, **options)

    def estimate(
        self, provider: str = "syncso", kind: str | None = None, **fields: Any
    ) -> pd.DataFrame:
        """The provider's cost estimate for a request, before anything is spent."""
        p = self.provider(provider)
        if not hasattr(p, "estimate"):
            raise NbmediaError(f"{p.title} has no cost estimate endpoint")
        kind = kind or next(iter(p.requests))
        return pd.DataFrame.from_records(self._runner.run(p.estimate(p.make_request(kind, fields))))

    def segments(self, job: Job) -> pd.DataFrame:
        """The timed segments (start, end, text) of a finished audio description."""
        from .providers.viddyscribe import segments_of

        return pd.DataFrame.from_records(segments_of(job), columns=["start", "end", "text"])

    def batch(self, requests: pd.DataFrame, *, limits: Mapping[str, int] | None = None) -> Batch:
        """A DataFrame of requests (columns provider, kind, prompt/text and any fields) → jobs.

        Every row is validated first; rows are then sent in the background within each
        provider's concurrency (`limits`, else the smallest plan's), waiting out 429s. Display
        the Batch for overall progress; `batch.wait()`; `batch.table()` joins the results.
        """
        merged = {**C.BATCH_CONCURRENCY, **dict(limits or {})}
        return Batch(self, requests, merged).start()

    def compare(
        self,
        prompt: str,
        providers: list[str] | tuple[str, ...] = ("mercadream", "vimmerse", "meshapi"),
        *,
        kind: str = "video",
        per_provider: Mapping[str, Mapping[str, Any]] | None = None,
        **common: Any,
    ) -> Comparison:
        """The same prompt at several providers; display the result for a side-by-side grid.

        `common` fields go to every provider, `per_provider={"mercadream": {...}}` to one. Every
        request is validated before the first is sent, so a typo costs nothing anywhere.
        """
        per_provider = dict(per_provider or {})
        unknown = set(per_provider) - set(providers)
        if unknown:
            raise ValidationError(
                "nbmedia", "per_provider", sorted(unknown), "names providers not in providers="
            )
        plans = []
        for name in providers:
            fields = {**common, **per_provider.get(name, {})}
            p = self.provider(name)
            p.make_request(kind, {p.text_field.get(kind, "prompt"): prompt, **fields})
            plans.append((name, fields))
        jobs = {name: self.submit(name, kind, prompt, **fields) for name, fields in plans}
        return Comparison(self, prompt, jobs)

    def update(self, job: Job, **fields: Any) -> Job:
        """Changes a job's media at the provider (Vimmerse PATCH).

        Metadata fields update in place and return the same job; generation fields start a new
        generation of the same media, returned as a new Job (the old one keeps its outputs).
        """
        self._check_open()
        p = self.provider(job.provider)
        if not hasattr(p, "patch") or job.id is None:
            raise NbmediaError(f"{p.title} jobs cannot be updated")
        update = p.check_update(fields)
        if not p.regenerates(update):
            job.raw = self._runner.run(p.patch(job.id, update))
            job.updated_at = utcnow()
            self.ledger.record(job)
            return job
        wire = update.wire()
        new = Job(
            provider=job.provider,
            kind=job.kind,
            id=job.id,
            prompt=wire.get("prompt", job.prompt),
            request={**job.request, **wire},
            local_id=self.ledger.new_local_id(),
            _owner=self,
        )
        self.ledger.record(new, submitted=False)
        self.ledger.set_extra(new.local_id, parent=job.local_id)
        try:
            p.apply(new, self._runner.run(p.patch(job.id, update)))
        except ProviderError as exc:
            new.status = JobStatus.FAILED
            new.error = {"code": exc.code or str(exc.http_status), "message": exc.message}
            self.ledger.record(new)
            raise
        new.updated_at = utcnow()
        self.ledger.record(new, submitted=True)
        self._live[new.local_id] = new
        self.tracker.track(new)
        self.tracker.changed(new)
        return new

    def submit(self, provider: str, kind: str, text: str | None = None, /, **fields: Any) -> Job:
        """Validates, writes the job to the ledger, then sends it; the Job comes back at once."""
        job, request = self.prepare(provider, kind, text, **fields)
        return self._runner.run(self.send(job, request))

    def prepare(
        self, provider: str, kind: str, text: str | None = None, /, **fields: Any
    ) -> tuple[Job, RequestModel]:
        """Validates a request (raising ValidationError) and makes its Job; sends nothing."""
        self._check_open()
        p = self.provider(provider)
        if text is not None and kind in p.text_field:
            fields = {p.text_field[kind]: text, **fields}
        self._finish_inputs(fields)
        request = p.make_request(kind, fields)
        wire = request.wire()
        job = Job(
            provider=provider,
            kind=kind,
            prompt=text if text is not None else wire.get(p.text_field.get(kind, "prompt")),
            request=wire,
            local_id=self.ledger.new_local_id(),
            _owner=self,
        )
        return job, request

    def _finish_inputs(self, fields: Mapping[str, Any]) -> None:
        """An earlier job given as an input is waited for, so one line can chain two jobs."""
        for value in fields.values():
            items = value.values() if isinstance(value, Mapping) else value
            for item in items if isinstance(items, (list, tuple, type({}.values()))) else [value]:
                if isinstance(item, Job) and not item.done:
                    self.wait_job(item, None, False)

    async def send(self, job: Job, request: RequestModel) -> Job:
        """Records the job, then creates it at the provider and starts following it."""
        p = self.provider(job.provider)
        self.ledger.record(job, submitted=False)  # before anything leaves the machine
        try:
            await p.submit(job, request)
        except ProviderError as exc:
            job.status = JobStatus.FAILED
            job.error = {"code": exc.code or str(exc.http_status), "message": exc.message}
            job.updated_at = utcnow()
            self.ledger.record(job, submitted=False)
            raise
        except TransportError as exc:
            if exc.may_have_reached_server and await self._reconcile(job):
                return job
            if not exc.may_have_reached_server:
                job.status = JobStatus.FAILED
                job.error = {"code": "not_sent", "message": str(exc)}
                self.ledger.record(job, submitted=False)
            raise
        job.error = None  # a retried create (after a 429) starts clean
        job.updated_at = utcnow()
        self.ledger.record(job, submitted=True)
        self._follow(job)
        return job

    def _follow(self, job: Job) -> None:
        self._live[job.local_id] = job
        self.tracker.track(job)
        self.tracker.changed(job)

    async def _reconcile(self, job: Job) -> bool:
        """After a create whose answer was lost: find it at the provider instead of resending."""
        try:
            found = await self.provider(job.provider).reconcile(job)
        except NbmediaError:
            return False
        if found is None:
            return False
        job.note = "create answer lost; found the job in the provider's list"
        self.ledger.record(job, submitted=True)
        self.ledger.set_extra(job.local_id, reconciled=True)
        self._follow(job)
        return True

    def _resume(self) -> None:
        """Re-attaches to jobs a previous kernel left running."""
        for job, submitted in self.ledger.unfinished():
            if job.provider not in self._providers:
                continue
            job._owner = self
            self._live[job.local_id] = job
            if submitted and job.id:
                self.tracker.track(job)
            elif not self._reconcile_quietly(job):
                job.status = JobStatus.FAILED
                job.error = {
                    "code": "not_submitted",
                    "message": "the create did not complete and the provider lists no such job",
                }
                self.ledger.record(job)

    def _reconcile_quietly(self, job: Job) -> bool:
        try:
            return self._runner.run(self._reconcile(job))
        except Exception:
            return False

    # ---- reading -----------------------------------------------------------------------------
    def job(self, id: str) -> Job:
        """A job by provider id or local id, live if this Studio follows it."""
        for job in self._live.values():
            if id in (job.id, job.local_id):
                return job
        for row in self.ledger.rows():
            if id in (row["id"], row["local_id"]):
                job = self.ledger.to_job(row)
                job._owner = self
                self._live[job.local_id] = job
                return job
        raise KeyError(id)

    def download(self, job: Job, *, force: bool = False) -> Job:
        """Fetches a finished job's files again (all of them with `force`), re-reading the job
        first so that expired provider links are replaced by fresh ones."""
        if job.status is not JobStatus.SUCCEEDED:
            raise NbmediaError(
                f"{job.provider} job {job.id} is {job.status.value}: nothing to download"
            )
        p = self.provider(job.provider)
        saved = {id(o): o.path for o in job.outputs}
        self._runner.run(p.refresh(job))
        for out in job.outputs:
            out.path = None if force else saved.get(id(out), out.path)
        self._runner.run(self.media.download(job, p.api, overwrite=force))
        self.ledger.record(job)
        return job

    def jobs(self) -> pd.DataFrame:
        """Every job in the ledger, newest first (a new Studio on the same root sees them too)."""
        return self._frame(self.ledger.rows())

    def _frame(self, rows: list[Any]) -> pd.DataFrame:
        records = []
        for row in rows:
            job = self.ledger.to_job(row)
            main = job.output()
            err = job.error or {}
            records.append(
                {
                    "provider": job.provider,
                    "id": job.id,
                    "kind": job.kind,
                    "status": job.status.value,
                    "progress": job.progress,
                    "prompt": job.prompt,
                    "created_at": job.created_at,
                    "updated_at": job.updated_at,
                    "completed_at": job.completed_at,
                    "elapsed_s": job.elapsed_s,
                    "output_path": str(main.path) if main and main.path else None,
                    "output_url": main.url if main else None,
                    "cost": job.cost,
                    "error_code": err.get("code"),
                    "error_message": err.get("message"),
                }
            )
        df = pd.DataFrame.from_records(records, columns=JOB_COLUMNS)
        for col in ("created_at", "updated_at", "completed_at"):
            df[col] = pd.to_datetime(df[col], utc=True)
        df["status"] = pd.Categorical(df["status"], categories=[s.value for s in JobStatus])
        for col in ("progress", "elapsed_s", "cost"):
            df[col] = pd.to_numeric(df[col])
        return df

    def table_of(self, jobs: list[Job]) -> pd.DataFrame:
        """The ledger rows of these jobs, in the order given."""
        by_local = {r["local_id"]: r for r in self.ledger.rows()}
        return self._frame([by_local[j.local_id] for j in jobs if j.local_id in by_local])

    def vault(self, provider: str = "mercadream") -> pd.DataFrame:
        """The provider's own store of finished assets, newest first."""
        p = self.provider(provider)
        if not hasattr(p, "vault"):
            raise NbmediaError(f"{provider} has no vault")
        items = self._runner.run(p.vault())
        df = pd.DataFrame.from_records(items)
        if "created_at" in df:
            df["created_at"] = pd.to_datetime(df["created_at"], utc=True)
        return df

    def remote_jobs(self, provider: str, **filters: Any) -> pd.DataFrame:
        """The provider's own job list (not the ledger), with its filters."""
        items = self._runner.run(self.provider(provider).list_jobs(**filters))
        return pd.DataFrame.from_records(items)

    def voices(self, provider: str = "mercadream") -> pd.DataFrame:
        return pd.DataFrame.from_records(self.provider(provider).voices())

    # ---- widgets ----------------------------------------------------------------------------
    def form(self, provider: str = "mercadream", kind: str | None = None) -> Any:
        """A prompt form generated from the provider's request model (validated as you type)."""
        from .widgets import PromptForm

        p = self.provider(provider)
        kind = kind or next(iter(p.requests))
        if kind not in p.requests:
            raise ValidationError(
                provider, "kind", kind, f"{p.title} makes only {', '.join(p.requests)}"
            )
        return PromptForm(
            f"{p.title} · {kind}",
            p.requests[kind],
            validate=lambda values: p.make_request(kind, values),
            submit=lambda values: self.submit(provider, kind, None, **values),
            voices=p.voices(),
            sample=self._sampler(provider),
            billed_samples=not self._on_sandbox(provider),
            save_upload=self._save_upload,
            estimate=self._estimator(provider, kind),
        )

    def _estimator(self, provider: str, kind: str) -> Callable[[dict[str, Any]], str] | None:
        p = self.provider(provider)
        if not hasattr(p, "estimate"):
            return None
        return lambda values: p.describe_estimate(
            self._runner.run(p.estimate(p.make_request(kind, values)))
        )

    def voice_picker(self, provider: str = "mercadream") -> Any:
        """Every voice of a provider with a play-sample button."""
        from .widgets import VoicePicker

        voices = self.provider(provider).voices()
        if not voices:
            raise NbmediaError(f"{self.provider(provider).title} offers no voices to pick from")
        return VoicePicker(
            voices,
            sample=self._sampler(provider),
            billed=not self._on_sandbox(provider),
        )

    def job_table(self) -> Any:
        """The ledger as an interactive table that refreshes itself as jobs change."""
        from .media import output_from_path, player_html, thumbnail_for
        from .widgets import JobTable

        def thumb(_id: str | None, output_path: str | None) -> Path | None:
            return thumbnail_for(Path(output_path)) if output_path else None

        def play(output_path: str | None) -> str | None:
            if not output_path:
                return None
            return player_html(output_from_path(output_path))

        return JobTable(self.jobs, subscribe=self.subscribe, thumbnail=thumb, player=play)

    def voice_sample(
        self, provider: str, voice: str, *, text: str | None = None, confirm: bool = False
    ) -> Path | None:
        """A local audio file of `voice`: free on the sandbox; on a live provider only a billed
        speech request, made only with `confirm=True`. None when the provider has no samples."""
        p = self.provider(provider)
        dest = self.media.root / _safe_name(provider) / "samples" / f"{_safe_name(voice)}.wav"
        if self._on_sandbox(provider):
            if not dest.exists():
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(self._sandbox.voice_sample(provider, voice, text))
            return dest
        if "speech" in p.requests and confirm:
            voice_field = next(
                n for n, f in p.requests["speech"].model_fields.items()
                if isinstance(f.json_schema_extra, dict) and f.json_schema_extra.get("voice")
            )  # fmt: skip
            job = self.speech(
                text or f"Hello, this is the voice {voice}.", provider, **{voice_field: voice}
            )
            return job.wait().path
        return None

    def _sampler(self, provider: str) -> Callable[[str, bool], Path | None] | None:
        p = self.provider(provider)
        if not self._on_sandbox(provider) and "speech" not in p.requests:
            return None
        return lambda voice, confirmed: self.voice_sample(provider, voice, confirm=confirmed)

    def _save_upload(self, name: str, data: bytes) -> Path:
        dest = self.root / "uploads" / _safe_name(name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        return dest

    # ---- pictures and sharing ------------------------------------------------------------------
    def timeline(self, jobs: pd.DataFrame | None = None) -> Any:
        """A chart of jobs per provider: submitted → finished, coloured by status."""
        from .plots import timeline

        return timeline(self.jobs() if jobs is None else jobs)

    def export(
        self,
        path: str | os.PathLike[str],
        *,
        notebook: str | os.PathLike[str] | None = None,
        jobs: pd.DataFrame | None = None,
    ) -> Path:
        """Writes a self-contained folder (notebook, media, jobs.csv, index.html); returns the page.

        In JupyterLab the notebook is found from the kernel's session when not given.
        """
        from .export import export

        nb = notebook or os.environ.get("JPY_SESSION_NAME")
        return export(
            self.jobs() if jobs is None else jobs, Path(path), notebook=Path(nb) if nb else None
        )

    # ---- ratings -----------------------------------------------------------------------------
    def rate(self, job: Job, rating: int | None) -> None:
        """Stores the user's 👍 (+1) / 👎 (-1) for a result in the ledger (None clears it)."""
        if rating not in (1, -1, None):
            raise ValidationError("nbmedia", "rating", rating, "must be 1 (👍), -1 (👎) or None")
        self.ledger.set_extra(job.local_id, rating=rating, prompt=job.prompt)

    def rating(self, job: Job) -> int | None:
        return self.ledger.extra(job.local_id).get("rating")

    def leaderboard(self) -> pd.DataFrame:
        """Providers ranked by the user's own ratings across prompts (Wilson lower bound)."""
        counts: dict[str, list[int]] = {}
        prompts: dict[str, set[str]] = {}
        for row in self.ledger.rows():
            value = self.ledger.extra(row["local_id"]).get("rating")
            if value in (1, -1):
                counts.setdefault(row["provider"], []).append(value)
                prompts.setdefault(row["provider"], set()).add(row["prompt"] or "")
        records = []
        for provider, values in counts.items():
            ups = values.count(1)
            n = len(values)
            records.append(
                {
                    "provider": provider,
                    "up": ups,
                    "down": n - ups,
                    "rated": n,
                    "prompts": len(prompts[provider]),
                    "share_up": ups / n,
                    "score": _wilson(ups, n),
                }
            )
        df = pd.DataFrame.from_records(
            records, columns=["provider", "up", "down", "rated", "prompts", "share_up", "score"]
        )
        return df.sort_values(["score", "rated"], ascending=False).reset_index(drop=True)

    def subscribe(self, callback: Callable[[Job], None]) -> Callable[[], None]:
        """Calls `callback(job)` whenever any job changes; returns an unsubscribe function."""
        self.tracker.listeners.append(callback)
        return lambda: (
            callback in self.tracker.listeners and self.tracker.listeners.remove(callback)
        )

    # ---- webhooks ----------------------------------------------------------------------------
    def handle_webhook(self, provider: str, headers: Mapping[str, str], body: bytes) -> Job | None:
        """Verifies a webhook and settles the job it names at once (re-read from the API)."""
        event = self.provider(provider).parse_webhook(headers, body)
        for job in self._live.values():
            if job.provider == provider and job.id == event["id"]:
                self.tracker.poll_soon(job)
                return job
        return None

    # ---- JobOwner ----------------------------------------------------------------------------
    def wait_job(self, job: Job, timeout: float | None, progress: bool | None = None) -> Job:
        self._adopt(job)
        if progress is None:
            progress = not _in_kernel() and sys.stderr.isatty()
        bar = TextProgress(job) if progress and not job.done else None
        try:
            return self._runner.run(self.tracker.wait(job, timeout))
        finally:
            if bar is not None:
                bar.close()

    async def await_job(self, job: Job, timeout: float | None) -> Job:
        self._adopt(job)
        return await self.tracker.wait(job, timeout)

    def display_job(self, job: Job) -> None:
        from IPython.display import display

        if _in_kernel():
            from .widgets import JobProgress

            display(JobProgress(job))
        else:
            display(job.__repr__())

    def _adopt(self, job: Job) -> None:
        self._live.setdefault(job.local_id, job)

    # ---- lifetime ----------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise NbmediaError("this Studio is closed")

    def close(self) -> None:
        """Stops tracking (jobs keep running at the provider; a new Studio resumes them)."""
        if self._closed:
            return
        self._closed = True
        self.tracker.cancel()  # no poll may write to the ledger once it is closed
        loop = self._runner.loop
        if not loop.is_closed() and not loop.is_running():
            with contextlib.suppress(RuntimeError):
                loop.run_until_complete(self._aclose())
        # inside a running loop (an async main, a kernel) the HTTP clients are left to the
        # garbage collector: closing them would need an await the caller cannot give
        self._runner.close()
        self.ledger.close()

    async def _aclose(self) -> None:
        await self.tracker.stop()
        await asyncio.gather(*(p.api.aclose() for p in self._providers.values()))

    def __enter__(self) -> Studio:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _sandbox_key(base: str, root: Path) -> str:
    """The sandbox key of a folder: stable across restarts (a new Studio on the same root sees
    its jobs), distinct between folders (their rate and concurrency limits do not mix)."""
    digest = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:10]
    return f"{base}_{digest}"


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "_"


def _wilson(ups: int, n: int, z: float = 1.96) -> float:
    """Lower bound of the Wilson interval: few ratings rank below many good ones."""
    if n == 0:
        return 0.0
    p = ups / n
    centre = p + z * z / (2 * n)
    margin = z * ((p * (1 - p) + z * z / (4 * n)) / n) ** 0.5
    return (centre - margin) / (1 + z * z / n)


def _read_keys(keys: Mapping[str, str] | None) -> dict[str, Secret]:
    out: dict[str, Secret] = {}
    for name in REGISTRY:
        value = (keys or {}).get(name) or os.environ.get(C.KEY_ENV.get(name, ""), "")
        if value:
            out[name] = value if isinstance(value, Secret) else Secret(value)
    return out


def _sandbox_webhook_secret(box: Any, name: str) -> Secret | None:
    try:
        return Secret(box.webhook_secret(name))
    except Exception:
        return None


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None
