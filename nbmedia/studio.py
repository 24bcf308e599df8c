"""Studio (sync face) and AsyncStudio (async core): wiring, and verbs that delegate.

Both share one implementation (`_StudioBase`, whose private coroutines do the work, as httpx's
Client and AsyncClient share theirs): AsyncStudio awaits them, Studio runs them on its loop.
Job state belongs to the engine; features live in lib/, looks in display/.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import hashlib
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import constants as C
from .engine.downloads import Downloads
from .engine.jobs import Engine
from .engine.ledger import Ledger
from .engine.receiver import WebhookReceiver
from .engine.runner import LoopRunner
from .errors import AuthError, NbmediaError, ValidationError
from .http import ApiClient, Secret, warm_tls
from .lib.batch import Batch
from .lib.comparison import Comparison
from .lib.notebooks import current_notebook
from .models import Job
from .pacer import Pacer
from .providers import REGISTRY, Provider
from .providers.base import Capability, Unsupported
from .validation import RequestModel

if TYPE_CHECKING:
    import pandas as pd


class _StudioBase:
    """What Studio and AsyncStudio share: the wiring, the reads, the widgets, and the private
    coroutines behind every verb."""

    def __init__(
        self,
        root: str | os.PathLike[str] = ".",
        keys: Mapping[str, str] | None = None,
        sandbox: Any = None,
        *,
        rate_limits: Mapping[str, float] | None = None,
        reads_in_flight: int = C.READS_IN_FLIGHT,
        notebook: str | None = None,
    ) -> None:
        """`rate_limits`: requests per minute of your plan, by provider (default: the smallest
        documented plan's, or the sandbox key's); nbmedia stays at 90% of it, creates before
        status reads. `reads_in_flight`: status reads (and creates) in flight at once per
        provider. `notebook`: the name recorded with every job made here (default: the
        notebook of this kernel's session), which `jobs(notebook=True)` shows alone."""
        if "IPython" in sys.modules:  # never imported outside IPython: nothing to do there
            from .display.errors import show_errors_briefly

            show_errors_briefly()
        self.root = Path(root)
        self._runner = LoopRunner()
        self.ledger = Ledger(self.root / C.LEDGER_DIR / C.LEDGER_FILE)
        self.media = Downloads(self.root / C.MEDIA_DIR)
        self._keys = _read_keys(keys)
        self._providers: dict[str, Provider] = {}
        self._unavailable: dict[str, str] = {}
        self._sandbox: Any = None
        self._setup_providers(sandbox, dict(rate_limits or {}), reads_in_flight)
        self.engine = Engine(self._runner, self.provider, self.ledger, self.media)
        self._hooks = _Hooks(self.engine, self._runner)
        self.engine.hooks = self._hooks
        self.engine.planned_sink = self._send_planned
        self.notebook = notebook or current_notebook()
        self.engine.notebook = self.notebook
        self._closed = False
        self._receiver: WebhookReceiver | None = None
        self._batches: list[Batch] = []
        """Batches sent from this Studio (an async one stops them when it closes)."""
        self.resumed_batches: list[Batch] = []
        """Rows a stopped Studio planned in a batch and never sent, sent by this one."""
        self._resumed_slots: dict[str, asyncio.Semaphore] = {}
        """One set of per-provider limits for every row taken over (they come one by one)."""
        self.engine.resume(lambda name: name in self._providers)
        self._send_planned(self.engine.planned())

    @property
    def resumed_batch(self) -> Batch | None:
        """The first batch of rows taken over from a stopped Studio, if any."""
        return self.resumed_batches[0] if self.resumed_batches else None

    def _send_planned(self, rows: list[tuple[Job, dict[str, Any]]]) -> None:
        batch = Batch.resume(
            self.engine, rows, self._remake, self._limits(None), self._resumed_slots
        )
        if batch is not None:
            self.resumed_batches.append(batch.start())

    def __repr__(self) -> str:
        where = {n: ("sandbox" if self.on_sandbox(n) else "live") for n in self._providers}
        return f"<{type(self).__name__} root={str(self.root)!r} providers={where}>"

    def _repr_html_(self) -> str:
        """Each provider, where it runs, what it makes and its open jobs (never a key)."""
        from collections import Counter
        from urllib.parse import urlsplit

        from .display.studioview import ProviderLine, studio_html

        open_jobs = Counter(job.provider for job in self.engine.tracker.open_jobs)
        lines = []
        for name, cls in REGISTRY.items():
            if name in self._providers:
                host = urlsplit(self._providers[name].api.base_url).netloc
                where = "sandbox" if self.on_sandbox(name) else f"live · {host}"
            else:
                where = f"not set up: no key ({cls.key_env})"
            lines.append(ProviderLine(name, cls.title, where, tuple(cls.makes),
                                      open_jobs.get(name, 0), name in self._providers))  # fmt: skip
        webhooks = self._receiver.url if self._receiver is not None else None
        return studio_html(type(self).__name__, str(self.root), lines, webhooks)

    # ---- providers ---------------------------------------------------------------------------
    def _setup_providers(
        self, sandbox: Any, rate_limits: dict[str, float], reads_in_flight: int
    ) -> None:
        unknown = set(rate_limits) - set(REGISTRY)
        if unknown:
            raise ValidationError(
                "nbmedia", "rate_limits", sorted(unknown), f"providers are {', '.join(REGISTRY)}"
            )
        warm_tls()  # ready before the first request: never made on the kernel's loop
        for name, cls in REGISTRY.items():
            key = self._keys.get(name)
            explicit = sandbox not in (None, True, False)  # a Sandbox object takes every provider
            use_sandbox = sandbox is True or explicit or (sandbox is None and key is None)
            if not use_sandbox and key is None:
                self._unavailable[name] = (
                    f"no API key for {cls.title}: set {cls.key_env} or pass keys={{'{name}': ...}}, "
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
            rpm = rate_limits.get(name, cls.sandbox_rate_limit if use_sandbox else cls.rate_limit)
            api = ApiClient(
                name,
                base_url,
                secret=secret,
                auth_headers=cls.auth_headers,
                error_parser=cls.parse_error,
                reads=Pacer(reads_in_flight, rpm * C.RATE_SHARE if rpm else None),
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

    def on_sandbox(self, name: str) -> bool:
        """Whether `name` runs on the embedded sandbox (no key, nothing billed), not live."""
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

    @property
    def tracker(self) -> Any:
        return self.engine.tracker

    def provider(self, name: str) -> Provider:
        """The client of one provider (raises a clear error if it has no key and no sandbox)."""
        if name in self._providers:
            return self._providers[name]
        if name in self._unavailable:
            raise AuthError(name, 401, "no_api_key", self._unavailable[name])
        known = ", ".join(REGISTRY)
        raise ValidationError("nbmedia", "provider", name, f"must be one of {known}")

    def default_provider(self, kind: str, capability: Capability | None = None) -> str:
        """The first provider (in registry order) that makes `kind` (and has `capability`)."""
        for name, cls in REGISTRY.items():
            if (kind in cls.requests or kind == "*") and (
                capability is None or cls.has(capability)
            ):
                return name
        raise ValidationError("nbmedia", "kind", kind, "no provider makes it")

    def _capable(self, provider: str | None, capability: Capability) -> Provider:
        p = self.provider(provider or self.default_provider("*", capability))
        if not p.has(capability):
            raise Unsupported(f"{p.title} has no {capability.value.replace('_', ' ')}")
        return p

    def _limits(self, limits: Mapping[str, int] | None) -> dict[str, int]:
        return {n: cls.concurrency for n, cls in REGISTRY.items()} | dict(limits or {})

    # ---- preparing requests ------------------------------------------------------------------
    def prepare(
        self, provider: str, kind: str, text: str | None = None, /, **fields: Any
    ) -> tuple[Job, RequestModel]:
        """Validates a request (raising ValidationError) and makes its Job; sends nothing and
        writes nothing."""
        self._check_open()
        p = self.provider(provider)
        if text is not None and kind in p.text_field:
            fields = {p.text_field[kind]: text, **fields}
        hook = p.webhook_field
        if (
            self._receiver is not None
            and hook
            and hook in p.requests[kind].model_fields
            and fields.get(hook) is None
        ):  # this kernel receives webhooks: the provider is told where
            fields = {**fields, hook: f"{self._receiver.url}/{provider}"}
        request = p.make_request(kind, fields)
        wire = request.wire()
        job = self.engine.new_job(provider, kind, prompt=p.label(kind, wire, fields), request=wire)
        return job, request

    def _remake(self, job: Job, fields: dict[str, Any]) -> RequestModel:
        fields = dict(fields)
        text = fields.pop("text", None)
        p = self.provider(job.provider)
        if text is not None and job.kind in p.text_field:
            fields = {p.text_field[job.kind]: text, **fields}
        return p.make_request(job.kind, fields)

    async def _inputs_ready(self, fields: Mapping[str, Any]) -> None:
        """An earlier job given as an input is waited for, so one line can chain two jobs."""
        for value in fields.values():
            items = value.values() if isinstance(value, Mapping) else value
            for item in items if isinstance(items, (list, tuple, type({}.values()))) else [value]:
                if isinstance(item, Job) and not item.done:
                    await self.engine.wait(item)

    # ---- the private coroutines behind the verbs ----------------------------------------------
    async def _submit(
        self, provider: str | None, kind: str, text: str | None, fields: dict[str, Any]
    ) -> Job:
        provider = provider or self.default_provider(kind)
        await self._inputs_ready(fields)
        job, request = self.prepare(provider, kind, text, **fields)
        return await self.engine.send(job, request)

    async def _compare(
        self,
        prompt: str,
        providers: list[str] | tuple[str, ...] | None,
        kind: str,
        per_provider: Mapping[str, Mapping[str, Any]] | None,
        common: dict[str, Any],
    ) -> Comparison:
        names = list(providers) if providers else [
            n for n in self._providers if kind in self._providers[n].requests
        ]  # fmt: skip
        per_provider = dict(per_provider or {})
        unknown = set(per_provider) - set(names)
        if unknown:
            raise ValidationError(
                "nbmedia", "per_provider", sorted(unknown), "names providers not in providers="
            )
        plans = [  # every request validated before the first is sent
            (name, *self.prepare(name, kind, prompt, **common, **per_provider.get(name, {})))
            for name in names
        ]
        jobs = {}
        for name, job, request in plans:
            jobs[name] = await self.engine.send(job, request)
        return Comparison(prompt, jobs, table=self.table_of, rate=self.rate, rating=self.rating)

    async def _estimate(
        self, provider: str | None, kind: str | None, fields: dict[str, Any]
    ) -> pd.DataFrame:
        import pandas as pd

        p = self._capable(provider, Capability.ESTIMATE)
        kind = kind or next(iter(p.requests))
        return pd.DataFrame.from_records(await p.estimate(p.make_request(kind, fields)))

    async def _vault(self, provider: str | None) -> pd.DataFrame:
        import pandas as pd

        p = self._capable(provider, Capability.VAULT)
        df = pd.DataFrame.from_records(await p.vault())
        if "created_at" in df:
            df["created_at"] = pd.to_datetime(df["created_at"], utc=True)
        return df

    async def _remote_jobs(self, provider: str, filters: dict[str, Any]) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame.from_records(await self.provider(provider).list_jobs(**filters))

    # ---- reading -----------------------------------------------------------------------------
    def job(self, id: str) -> Job:
        """A job by provider id or local id, live if this Studio follows it: found through
        the ledger's indexes (the newest row of a provider id several rows share), then its
        live object by local id; a job not written yet is looked for among the live ones."""
        found = self.ledger.find(id)
        return self.engine.adopt(found) if found is not None else self.engine.job(id)

    def jobs(self, notebook: bool | str = False) -> pd.DataFrame:
        """Every job in the ledger, newest first (a new Studio on the same root sees them too),
        with the notebook that made each; `notebook=True`: only this notebook's jobs (of every
        run in this folder), a name: only that notebook's."""
        from .lib.tables import jobs_table

        return jobs_table(self.ledger, self.notebook if notebook is True else (notebook or None))

    def table_of(self, jobs: list[Job]) -> pd.DataFrame:
        """The ledger rows of these jobs, in the order given."""
        from .lib.tables import jobs_frame

        found = [self.ledger.get(j.local_id) for j in jobs]
        return jobs_frame(j for j in found if j is not None)

    def segments(self, job: Job) -> pd.DataFrame:
        """The timed segments (start, end, text) of a finished job that has them."""
        import pandas as pd

        p = self.provider(job.provider)
        if not p.has(Capability.SEGMENTS):
            raise Unsupported(f"{p.title} jobs have no timed segments")
        return pd.DataFrame.from_records(p.segments(job), columns=["start", "end", "text"])

    def voices(self, provider: str | None = None) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame.from_records(
            self.provider(provider or self.default_provider("speech")).voices()
        )

    def subscribe(self, callback: Callable[[Job], None]) -> Callable[[], None]:
        """Calls `callback(job)` whenever any job changes; returns an unsubscribe function."""
        listeners = self.engine.listeners
        listeners.append(callback)
        return lambda: callback in listeners and listeners.remove(callback)

    def attach(self, job: Job, provider_id: str) -> Job:
        """Links an `unconfirmed` job to its id at the provider (found on its dashboard); the
        job is then followed and downloaded like any other."""
        return self.engine.attach(job, provider_id)

    def handle_webhook(self, provider: str, headers: Mapping[str, str], body: bytes) -> Job | None:
        """Verifies a webhook and checks the job it names at once."""
        return self.engine.webhook(provider, headers, body)

    # ---- ratings -----------------------------------------------------------------------------
    def rate(self, job: Job, rating: int | None) -> None:
        """Stores the user's 👍 (+1) / 👎 (-1) for a result in the ledger (None clears it)."""
        from .lib.ratings import RATINGS

        if rating not in RATINGS:
            raise ValidationError("nbmedia", "rating", rating, "must be 1 (👍), -1 (👎) or None")
        self.engine.annotate(job, rating=rating, prompt=job.prompt)

    def rating(self, job: Job) -> int | None:
        return self.engine.annotation(job, "rating")

    def leaderboard(self) -> pd.DataFrame:
        """Providers ranked by the user's own ratings across prompts (Wilson lower bound)."""
        from .lib.ratings import leaderboard

        rows = self.ledger.rows()
        return leaderboard(
            (r["provider"], r["prompt"], self.ledger.extra(r["local_id"]).get("rating"))
            for r in rows
        )

    # ---- widgets -----------------------------------------------------------------------------
    def form(self, provider: str | None = None, kind: str | None = None) -> Any:
        """A prompt form generated from the provider's request model (validated as you type)."""
        from .display import PromptForm

        p = self.provider(provider or self.default_provider(kind or "video"))
        kind = kind or next(iter(p.requests))
        if kind not in p.requests:
            raise ValidationError(
                p.name, "kind", kind, f"{p.title} makes only {', '.join(p.requests)}"
            )
        return self._owned(
            PromptForm(
                f"{p.title} · {kind}",
                p.requests[kind],
                validate=lambda values: p.make_request(kind, values),
                submit=lambda values: self._runner.run(self._submit(p.name, kind, None, values)),
                voices=p.voices(),
                sample=self._sampler(p.name),
                billed_samples=not self.on_sandbox(p.name),
                save_upload=self._save_upload,
                estimate=self._estimator(p, kind),
                media_fields=p.media_fields,
            )
        )

    def _estimator(self, p: Provider, kind: str) -> Callable[[dict[str, Any]], str] | None:
        if not p.has(Capability.ESTIMATE):
            return None
        return lambda values: p.describe_estimate(
            self._runner.run(p.estimate(p.make_request(kind, values)))
        )

    def voice_picker(self, provider: str | None = None) -> Any:
        """Every voice of a provider with a play-sample button."""
        from .display import VoicePicker

        p = self.provider(provider or self.default_provider("speech"))
        voices = p.voices()
        if not voices:
            raise NbmediaError(f"{p.title} offers no voices to pick from")
        picker = VoicePicker(
            voices, sample=self._sampler(p.name), billed=not self.on_sandbox(p.name)
        )
        return self._owned(picker)

    def job_table(self) -> Any:
        """The ledger as an interactive table, 25 jobs a page, that follows job changes."""
        from .display import JobTable
        from .display.players import output_from_path, player_html, thumbnail_for
        from .lib.tables import LedgerPages

        def thumb(_id: str | None, output_path: str | None) -> Path | None:
            return thumbnail_for(Path(output_path)) if output_path else None

        def play(output_path: str | None) -> str | None:
            return player_html(output_from_path(output_path)) if output_path else None

        return self._owned(
            JobTable(
                LedgerPages(self.ledger), subscribe=self.subscribe, thumbnail=thumb, player=play
            )
        )

    def _owned(self, widget: Any) -> Any:
        """A widget acting through this Studio: when it closes, the widget's output keeps
        only its saved view."""
        widget.owner = self._hooks
        return widget

    def voice_sample(
        self, provider: str, voice: str, *, text: str | None = None, confirm: bool = False
    ) -> Path | None:
        """A local audio file of `voice`: free on the sandbox; on a live provider only a billed
        speech request, made only with `confirm=True`. None when the provider has no samples."""
        p = self.provider(provider)
        dest = self.media.root / _safe_name(provider) / "samples" / f"{_safe_name(voice)}.wav"
        if self.on_sandbox(provider):
            if not dest.exists():
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(self._sandbox.voice_sample(provider, voice, text))
            return dest
        if "speech" in p.requests and confirm:
            voice_field = next(
                n for n, f in p.requests["speech"].model_fields.items()
                if isinstance(f.json_schema_extra, dict) and f.json_schema_extra.get("voice")
            )  # fmt: skip
            job = self._runner.run(
                self._submit(
                    provider,
                    "speech",
                    text or f"Hello, this is the voice {voice}.",
                    {voice_field: voice},
                )
            )
            return job.wait().path
        return None

    def _sampler(self, provider: str) -> Callable[[str, bool], Path | None] | None:
        p = self.provider(provider)
        if not self.on_sandbox(provider) and "speech" not in p.requests:
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
        from .lib.plots import timeline

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
        from .lib.export import export

        nb = notebook or os.environ.get("JPY_SESSION_NAME")
        return export(
            self.jobs() if jobs is None else jobs, Path(path), notebook=Path(nb) if nb else None
        )

    def preview(self, page: str | os.PathLike[str]) -> Any:
        """An exported page shown in the notebook, its players working (an IFrame of it does
        not play inside JupyterLab)."""
        from .display.exportpreview import ExportPreview

        return ExportPreview(Path(page))

    # ---- lifetime ----------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise NbmediaError("this Studio is closed")

    async def _receive_webhooks(
        self, port: int, host: str, public_url: str | None
    ) -> WebhookReceiver:
        if self._receiver is not None:
            raise NbmediaError(f"a webhook receiver already runs at {self._receiver.url}")
        receiver = await WebhookReceiver(
            self.engine, host=host, port=port, public_url=public_url
        ).start()
        self._receiver = receiver
        self.engine.webhook_url = receiver.url
        return receiver

    def _stop_receiving(self) -> None:
        if self._receiver is not None:
            self._receiver.close()
            self._receiver = None
            self.engine.webhook_url = None

    async def _aclose(self) -> None:
        self._stop_receiving()
        await self.engine.tracker.stop()
        await asyncio.gather(*(p.api.aclose() for p in self._providers.values()))


class AsyncStudio(_StudioBase):
    """The async core: the same verbs as Studio, as coroutines, for async code.

    async with nm.AsyncStudio() as s:
        job = await s.generate("Neon rain")
        await job
    """

    async def generate(self, prompt: str, provider: str | None = None, **fields: Any) -> Job:
        """A video from a prompt; returns the Job at once (await it for the finished job)."""
        return await self._submit(provider, "video", prompt, fields)

    async def speech(self, text: str, provider: str | None = None, **fields: Any) -> Job:
        return await self._submit(provider, "speech", text, fields)

    async def music(self, prompt: str, provider: str | None = None, **fields: Any) -> Job:
        return await self._submit(provider, "music", prompt, fields)

    async def describe(self, video: Any, provider: str | None = None, **fields: Any) -> Job:
        return await self._submit(provider, "describe", None, {"video": video, **fields})

    async def lipsync(self, video: Any = None, provider: str | None = None, **fields: Any) -> Job:
        fields = {k: v for k, v in {"video": video, **fields}.items() if v is not None}
        return await self._submit(provider, "lipsync", None, fields)

    async def submit(
        self, provider: str | None, kind: str, text: str | None = None, /, **fields: Any
    ) -> Job:
        return await self._submit(provider, kind, text, fields)

    async def compare(
        self,
        prompt: str,
        providers: list[str] | tuple[str, ...] | None = None,
        *,
        kind: str = "video",
        per_provider: Mapping[str, Mapping[str, Any]] | None = None,
        **common: Any,
    ) -> Comparison:
        return await self._compare(prompt, providers, kind, per_provider, common)

    async def batch(
        self, requests: pd.DataFrame, *, limits: Mapping[str, int] | None = None
    ) -> Batch:
        batch = await Batch.aplan(
            self.engine, self.prepare, requests, self._limits(limits), self.default_provider
        )
        self._batches.append(batch)
        return batch.start()

    async def estimate(
        self, provider: str | None = None, kind: str | None = None, **fields: Any
    ) -> pd.DataFrame:
        return await self._estimate(provider, kind, fields)

    async def update(self, job: Job, **fields: Any) -> Job:
        self._check_open()
        return await self.engine.update(job, fields)

    async def download(self, job: Job, *, force: bool = False) -> Job:
        return await self.engine.download_again(job, force=force)

    async def vault(self, provider: str | None = None) -> pd.DataFrame:
        return await self._vault(provider)

    async def remote_jobs(self, provider: str, **filters: Any) -> pd.DataFrame:
        return await self._remote_jobs(provider, filters)

    async def wait(self, job: Job, timeout: float | None = None) -> Job:
        return await self.engine.wait(job, timeout)

    async def receive_webhooks(
        self, port: int = 0, *, host: str = "127.0.0.1", public_url: str | None = None
    ) -> WebhookReceiver:
        """Starts a webhook receiver in this kernel; see `Studio.receive_webhooks`."""
        return await self._receive_webhooks(port, host, public_url)

    async def aclose(self) -> None:
        """Stops following (jobs keep running at the provider; a new Studio resumes them)."""
        if self._closed:
            return
        self._closed = True
        self.engine.close()
        self._hooks.stop_views()
        await self._aclose()
        await asyncio.gather(*(b.stop() for b in self._batches))  # none writes after this
        self.ledger.close()

    async def __aenter__(self) -> AsyncStudio:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class Studio(_StudioBase):
    """Talks to every provider, follows their jobs live and keeps them all in one table.

    `keys` maps provider name → API key and falls back on the environment (each provider's
    `key_env`, e.g. `MERCADREAM_API_KEY`). `sandbox=None` sends each provider without a key to
    the embedded sandbox, `True` sends all of them there, `False` none (a provider without a key
    is then unavailable). A running `nbmedia.sandbox.Sandbox` may be passed to use that one.
    """

    _current: Studio | None = None

    def __init__(
        self,
        root: str | os.PathLike[str] = ".",
        keys: Mapping[str, str] | None = None,
        sandbox: Any = None,
        *,
        notebook: str | None = None,
    ) -> None:
        super().__init__(root, keys, sandbox, notebook=notebook)
        atexit.register(self.close)
        Studio._current = self

    @classmethod
    def current(cls) -> Studio:
        """The Studio made last in this process (the magic uses it), made on first use."""
        if cls._current is None or cls._current._closed:
            cls._current = cls()
        return cls._current

    def _run(self, coro: Any) -> Any:
        return self._runner.run(coro)

    def generate(self, prompt: str, provider: str | None = None, **fields: Any) -> Job:
        """A video from a prompt; returns the Job at once (display it for live progress)."""
        return self._run(self._submit(provider, "video", prompt, fields))

    def speech(self, text: str, provider: str | None = None, **fields: Any) -> Job:
        """Speech from text (a voice-over)."""
        return self._run(self._submit(provider, "speech", text, fields))

    def music(self, prompt: str, provider: str | None = None, **fields: Any) -> Job:
        """A music track from a description."""
        return self._run(self._submit(provider, "music", prompt, fields))

    def describe(self, video: Any, provider: str | None = None, **fields: Any) -> Job:
        """A description of `video` (a file, URL, media id or an earlier job), with the
        provider's own fields (output, language, format, …)."""
        return self._run(self._submit(provider, "describe", None, {"video": video, **fields}))

    def lipsync(self, video: Any = None, provider: str | None = None, **fields: Any) -> Job:
        """`video` lip-synced to the provider's audio fields (recorded audio, or text and a
        voice); fields given as None are left out, so a video the provider already holds can
        be named instead (e.g. `video_asset_id=`)."""
        fields = {k: v for k, v in {"video": video, **fields}.items() if v is not None}
        return self._run(self._submit(provider, "lipsync", None, fields))

    def submit(
        self, provider: str | None, kind: str, text: str | None = None, /, **fields: Any
    ) -> Job:
        """Validates, writes the job to the ledger, then sends it; the Job comes back at once."""
        return self._run(self._submit(provider, kind, text, fields))

    def compare(
        self,
        prompt: str,
        providers: list[str] | tuple[str, ...] | None = None,
        *,
        kind: str = "video",
        per_provider: Mapping[str, Mapping[str, Any]] | None = None,
        **common: Any,
    ) -> Comparison:
        """The same prompt at several providers (every one that makes `kind` by default);
        display the result for a side-by-side grid. `common` fields go to every provider,
        `per_provider={"name": {...}}` to one. Every request is validated before the first is
        sent, so a typo costs nothing anywhere."""
        return self._run(self._compare(prompt, providers, kind, per_provider, common))

    def batch(self, requests: pd.DataFrame, *, limits: Mapping[str, int] | None = None) -> Batch:
        """A DataFrame of requests (columns provider, kind, prompt/text and any fields) → jobs.

        Every row is validated, then recorded, before the first is sent; rows go out in the
        background within each provider's concurrency (`limits`, else the smallest plan's),
        waiting out 429s. Display the Batch for overall progress; `batch.wait()`;
        `batch.table()` joins the results. A Studio stopped mid-batch leaves the rest to the
        next Studio on the folder (`studio.resumed_batch`).
        """
        self._check_open()
        return Batch.plan(
            self.engine, self.prepare, requests, self._limits(limits), self.default_provider
        ).start()

    def estimate(
        self, provider: str | None = None, kind: str | None = None, **fields: Any
    ) -> pd.DataFrame:
        """The provider's cost estimate for a request, before anything is spent."""
        return self._run(self._estimate(provider, kind, fields))

    def update(self, job: Job, **fields: Any) -> Job:
        """Changes a job's media at the provider (where it allows): metadata fields update in
        place and return the same job; generation fields start a new generation of the same
        media, returned as a new Job (the old one keeps its outputs)."""
        self._check_open()
        return self._run(self.engine.update(job, fields))

    def download(self, job: Job, *, force: bool = False) -> Job:
        """Fetches a finished job's files again (all of them with `force`), re-reading the job
        first so that expired provider links are replaced by fresh ones."""
        return self._run(self.engine.download_again(job, force=force))

    def vault(self, provider: str | None = None) -> pd.DataFrame:
        """The provider's own store of finished assets, newest first."""
        return self._run(self._vault(provider))

    def remote_jobs(self, provider: str, **filters: Any) -> pd.DataFrame:
        """The provider's own job list (not the ledger), with its filters."""
        return self._run(self._remote_jobs(provider, filters))

    def receive_webhooks(
        self, port: int = 0, *, host: str = "127.0.0.1", public_url: str | None = None
    ) -> WebhookReceiver:
        """Starts a webhook receiver in this kernel (on `host:port`, 0: a free port). Jobs
        made from now on give their provider its address, `<url>/<provider>` (`public_url`:
        your tunnel's address, for real providers). A signed webhook (MercaDream, sync.so)
        then settles its job without a status request; an unsigned callback (Mesh API,
        Vimmerse) has the job re-read once; status checks become a slow safety net."""
        return self._run(self._receive_webhooks(port, host, public_url))

    def close(self) -> None:
        """Stops following (jobs keep running at the provider; a new Studio resumes them)."""
        if self._closed:
            return
        self._closed = True
        self._stop_receiving()
        self.engine.close()  # no step may write to the ledger once it is closed
        self._hooks.stop_views()
        for batch in self._batches:  # rows not sent stay planned for the next Studio
            batch.cancel()
        self._runner.cancel_pending()
        loop = self._runner.loop
        if not loop.is_closed() and not loop.is_running():
            with contextlib.suppress(RuntimeError):
                loop.run_until_complete(self._aclose())
        # inside a running loop (an async main, a kernel) the HTTP clients are left to the
        # garbage collector: closing them would need an await the caller cannot give
        self._runner.close()
        self.ledger.close()

    def __enter__(self) -> Studio:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Hooks:
    """How a job is waited for and shown: registered on every job the engine adopts."""

    def __init__(self, engine: Engine, runner: LoopRunner) -> None:
        self._engine = engine
        self._runner = runner

    def wait(self, job: Job, timeout: float | None, progress: bool | None) -> Job:
        from .display.textprogress import TextProgress

        if progress is None:
            progress = not _in_kernel() and sys.stderr.isatty()
        bar = TextProgress(job) if progress and not job.done else None
        try:
            return self._runner.run(self._engine.wait(job, timeout))
        finally:
            if bar is not None:
                bar.close()

    async def wait_async(self, job: Job, timeout: float | None) -> Job:
        return await self._engine.wait(job, timeout)

    def display(self, job: Job) -> None:
        from IPython.display import display

        if _in_kernel():
            from .display.jobview import show_job

            show_job(job)  # a mime bundle updated in place: what is saved is what was seen
        else:
            display(repr(job))

    def stop_views(self) -> None:
        """The Studio closed: its jobs on screen say they are no longer followed, and its
        widgets keep only their saved views."""
        from .display.live import stop_views
        from .display.snapshot import freeze_owned

        stop_views(lambda job: job._hooks is self)
        freeze_owned(self)


def _sandbox_key(base: str, root: Path) -> str:
    """The sandbox key of a folder: stable across restarts (a new Studio on the same root sees
    its jobs), distinct between folders (their rate and concurrency limits do not mix)."""
    digest = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:10]
    return f"{base}_{digest}"


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "_"


def _read_keys(keys: Mapping[str, str] | None) -> dict[str, Secret]:
    out: dict[str, Secret] = {}
    for name, cls in REGISTRY.items():
        value = (keys or {}).get(name) or os.environ.get(cls.key_env, "")
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
