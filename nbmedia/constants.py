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

PREPARE_WAIT_MAX = 120.0
"""Seconds to wait for a provider to finish preparing an input (an upload being verified)
before giving its error to the caller..."""
PREPARE_STEP_MAX = 2.0
"""...checking again after growing pauses of at most this many seconds."""

POLL_ERROR_MAX = 300.0
"""A job whose status checks or downloads keep failing is retried at most this far apart
(the backoff grows from POLL_FIRST: whatever goes wrong, one request per job per step)."""
GIVE_UP_STATUSES = (401, 403, 404)
"""A status check answered with one of these..."""
GIVE_UP_AFTER = 3
"""...this many times in a row ends the job failed with the provider's code."""

COMMIT_DELAY = 0.01
"""Seconds a ledger write that a restart would learn again anyway (a job seen finished, its
files verified) waits to share its commit with the others of the moment."""

FIND_CREATED_WINDOW = 20.0
"""Seconds a create whose answer was lost is searched for in the provider's list; found
nowhere by then, by at least FIND_CREATED_TRIES list answers (a failed call is no answer),
it was not created."""
FIND_CREATED_TRIES = 3
REPLAY_WINDOW = 3600.0
"""Seconds after its first send within which a lost create of a provider that deduplicates by
Idempotency-Key is sent again with the same key and body instead of searched for (sync.so's
guide asks to keep the key across restarts but names no lifetime: an hour stays well inside
any plausible one, and a replay after a key expired would bill twice)."""
REPLAY_TRIES = 5
"""Replays of one lost create that get no answer (a cut connection, a 5xx, a 409 while the
first is still handled, a 429) before the provider's list is searched instead."""
NOT_CREATED_RESENDS = 2
"""Times a create proven not made (above) is sent again by the Studio that holds its request
(a 5xx or a cut connection before the provider made it must not cost the user the job)."""

READS_IN_FLIGHT = 16
"""Status reads (GETs and list calls) in flight at once per provider (a Studio knob)."""
RATE_SHARE = 0.9
"""Share of a plan's documented requests per minute that nbmedia uses (reads and creates
together, creates first: a read waits while a create does)."""
RATE_BURST_S = 60.0
"""Seconds of the rate that may go out at once after a quiet spell (plans count requests per
minute: a minute's allowance may be spent in a burst, then one as each token comes back)."""

TURN_MIN = 0.1
"""The least delay the tracker's turn sets for itself (its turn costs a pass over the open
jobs)."""
TURN_JOIN = 0.05
"""Pokes (a step ended, a webhook came) within this long of the last turn wait for one turn
together: a thousand downloads ending make tens of passes over the open jobs, not thousands."""
WHOLE_PASS = 5.0
"""The longest the tracker goes without a turn that looks at every open job (other turns look
only at jobs whose schedule changed or that its queue says are due): a net for a change made
behind the schedule's back."""
SWEEP_PERIOD = 1.0
"""Seconds between two list sweeps of one provider (each reads every due open job)."""
ABSORB_SLICE = 50
"""A sweep's answers are taken this many at a time (one ledger transaction each), the event
loop free in between."""
SWEEP_GATHER = 0.5
"""A sweep also reads jobs due within this many seconds (one sweep, not many small ones)."""
REREAD_GATHER = 0.25
"""Seconds a sweep waits after an unsigned callback, so that callbacks a moment apart are
re-read by one list call."""
REREAD_SPACING = 0.6
"""...and callbacks bring a provider's next sweep no nearer than this after its last one
began: a burst of them (a batch ending) is re-read by a list call or two a second, not four,
each reading every page of the window its jobs span."""
SWEEP_PAGES = 50
"""List pages one sweep reads at most; jobs beyond them are read on the next sweep."""
ETA_HISTORY = 20
"""Latest succeeded jobs of a provider and kind whose median duration is a new job's expected
one (the time left shown where the provider gives no estimate)."""
NEAR_ETA = 2.0
"""Seconds before its estimated completion from which a job is checked every period."""
PER_JOB_FIRST = 1.5
"""Seconds before the first status GET of a job at a provider without a list..."""
PER_JOB_MAX = 4.0
"""...the longest pause between two of them while its end cannot be estimated..."""
PER_JOB_NEAR = 2.0
"""...between two of them once it is near (or past) its estimated end..."""
PER_JOB_LONG = 30.0
"""...and the longest while the estimate is far."""
AIM_CLOSE = 8.0
"""Within this many seconds of its estimated end, a job without a list is next checked just
past that end (AIM_PAST after it); further away, at 85% of the way there."""
AIM_PAST = 0.5
WEBHOOK_SAFETY = 60.0
"""Seconds past its estimate (or its start) before a job followed by a verified webhook is
checked anyway, in case the webhook never comes; the pause then doubles..."""
WEBHOOK_SAFETY_MAX = 300.0
"""...up to this."""
LIVE_SYNC_EVERY = 60.0
"""Seconds between direct GETs of a job that a provider's stored list shows unchanged (an API
whose list does not refresh an open job by itself)."""

PLAN_SLICE = 25
"""Rows of a batch validated, then written (one commit each slice), between two pauses of an
async caller's loop: a thousand rows in one step held the kernel's loop for half a second."""
CREATES_AT_ONCE = 16
"""Rows of a batch being sent at once per provider (each writes its ledger row and builds its
request as it starts: a thousand starting in one turn of the loop would stall it)."""

DOWNLOADS_IN_FLIGHT = 4
"""Files fetched at once per Studio."""
DOWNLOAD_FAILURES_TO_RAISE = 3
"""After this many failed attempts `wait()` raises DownloadError (the engine keeps trying)."""
DOWNLOAD_NOTED_AFTER = 1.0
"""A download still running after this many seconds (or one that failed) is written to the
ledger as `downloading`, so every table shows it; a quicker one is not: a kill in between loses
nothing, the restart reads the job again and finds it finished (one write less per job)."""

LEASE_TTL = 20.0
"""Seconds without a heartbeat after which another Studio may take a job over (a killed
kernel's jobs are resumed by the next Studio on the folder after this long)."""
LEASE_RENEW = 5.0
"""Seconds between heartbeats of a Studio's leases."""
WATCH_INTERVAL = 2.0
"""Seconds between re-reads of a job another Studio follows (its row in the ledger)."""

TICK = 1.0
"""Seconds between clock ticks sent to jobs on screen (their elapsed time), no network; ticks
are not changes (listeners of changes do not hear them)."""

DOWNLOAD_MIN_FREE = 4 << 20
"""Bytes that must be free in the media folder before a file is fetched (below it the disk
counts as full: no transfer is made that could not be kept)."""

WEBHOOK_TOLERANCE = 300.0
"""Seconds a signed webhook's timestamp may be from now; within them a delivery seen before
is a replay."""

MAX_REDIRECTS = 5
"""Redirects followed for one call (each hop carries the key only to the API's own origin)."""

DOWNLOAD_CHUNK = 1 << 16

LEDGER_DIR = ".nbmedia"
LEDGER_FILE = "ledger.sqlite"
MEDIA_DIR = "media"

RATE_LIMIT_WAIT = 10.0
"""Seconds a batch waits on a 429 that names no Retry-After before sending the row again."""
