"""ipywidgets views over Studio state. No network code here: widgets only render jobs."""

from .batch import BatchProgress
from .compare import CompareGrid
from .form import PromptForm
from .progress import JobProgress
from .table import JobTable
from .voice import VoicePicker

__all__ = ["BatchProgress", "CompareGrid", "JobProgress", "JobTable", "PromptForm", "VoicePicker"]
