"""What the sandbox runs for every fake API alike: the job clock, the fault knobs, the file
store, webhook delivery, input fetching, voice samples, the render cache and pool, the audit,
and the offline media renderers (``media/``). Nothing here knows a provider."""
