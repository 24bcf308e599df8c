"""ipywidgets views over Studio state. No network code here: widgets only render jobs."""

from .progress import JobProgress

__all__ = ["JobProgress"]
