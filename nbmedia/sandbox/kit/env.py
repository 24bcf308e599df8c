"""The one thing the app hands each provider package: its name, URL and the shared services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..services.audit import Audit
    from ..services.clock import Clock
    from ..services.faults import Faults
    from ..services.rendercache import RenderCache
    from ..services.renderpool import RenderPool
    from ..services.store import Files
    from ..services.webhooks import WebhookSender


@dataclass(frozen=True)
class Env:
    """What the sandbox gives one provider: shared services, nothing provider-specific."""

    name: str
    base_url: str
    """The provider's drop-in base URL, ``{sandbox url}/{name}``."""
    clock: Clock
    faults: Faults
    files: Files
    webhooks: WebhookSender
    render: RenderPool
    """Where renders run; stopping the sandbox cancels them quietly."""
    webhook_secret: str
    audit: Audit
    """Where a provider records each job it creates (``audit.created``) and registers how to
    read a job's current status (``audit.register``)."""
    rendercache: RenderCache
    """Where a renderer asks for an identical earlier render before making its own."""

    @property
    def sandbox_url(self) -> str:
        """The sandbox's own URL (the base URL without ``/{name}``): inputs it served are local."""
        return self.base_url[: -len(self.name) - 1]
