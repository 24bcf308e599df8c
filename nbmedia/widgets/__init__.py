"""ipywidgets views over Studio state. No network code here: widgets only render jobs."""

from .compare import CompareGrid
from .progress import JobProgress

__all__ = ["CompareGrid", "JobProgress"]
