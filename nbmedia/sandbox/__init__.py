"""The embedded sandbox: every provider's HTTP API on loopback, with real media made offline.

``start()`` serves a new one from a background thread; ``shared()`` is the process-wide one
that ``Studio`` uses when a provider has no key. Nothing here imports the client library.
"""

from .app import RequestLog, RequestRecord, Sandbox, shared, start

__all__ = ["RequestLog", "RequestRecord", "Sandbox", "shared", "start"]
