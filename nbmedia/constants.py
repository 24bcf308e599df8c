"""Every default of nbmedia's network and polling policy, in one place."""

from __future__ import annotations

CONNECT_TIMEOUT = 5.0
"""Seconds to open a connection to an API."""
READ_TIMEOUT = 30.0
"""Seconds to wait for an API response."""
DOWNLOAD_READ_TIMEOUT = 300.0
"""Seconds between chunks of a streamed download (large files, slow CDNs)."""

MAX_RETRIES = 4
"""Retries after the first attempt for connection errors, 5xx and 429."""
BACKOFF_BASE = 0.5
"""First backoff in seconds; doubles each retry, with full jitter."""
BACKOFF_MAX = 30.0
"""Longest single backoff we choose ourselves."""
RETRY_AFTER_MAX = 120.0
"""Longest wait we accept from a server's Retry-After before giving the error to the caller."""

POLL_FIRST = 0.5
"""Seconds before the first status poll of a new job."""
POLL_FACTOR = 1.5
"""Each poll waits this much longer than the previous one..."""
POLL_MAX = 10.0
"""...up to this many seconds between polls of one job."""

DOWNLOAD_CHUNK = 1 << 16

KEY_ENV = {
    "mercadream": "MERCADREAM_API_KEY",
    "vimmerse": "VIMMERSE_API_KEY",
    "viddyscribe": "VIDDYSCRIBE_API_KEY",
    "meshapi": "MESHAPI_API_KEY",
    "syncso": "SYNC_API_KEY",
}
"""The environment variable that holds each provider's key."""

LEDGER_DIR = ".nbmedia"
LEDGER_FILE = "ledger.sqlite"
MEDIA_DIR = "media"

BATCH_DEFAULT_CONCURRENCY = 2
"""Open jobs per provider in a batch when no limit is given: the smallest documented plan's
(MercaDream Regular: 2 concurrent); raise it with `studio.batch(df, limits={...})`."""
BATCH_CONCURRENCY = {"syncso": 1, "mercadream": 2}
"""Known smallest-plan concurrency (sync.so Hobbyist 1, MercaDream Regular 2)."""
