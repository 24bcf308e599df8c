"""Outputs updated in place by display id, so the last state shown is the state saved.

A job is tracked by a background task created in an earlier cell; what it sends carries that
cell's parent header, and nbclient keeps only messages of the cell it is executing (JupyterLab
routes updates by display id whatever their header). So every update here is sent with the
header of the cell running now, and one sent between cells is sent again when the next cell
starts: a notebook executed headless records the final player too.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from typing import Any

from ..models import Job

Bundle = dict[str, Any]
"""A mime bundle: mime type → data (always with text/plain)."""


class _Cells:
    """The kernel's current execute request, learnt from IPython's cell events."""

    parent: dict[str, Any] | None = None
    running = False
    shell: Any = None
    late: dict[int, LiveOutput] = {}
    """Outputs updated while no cell ran: sent again from the next cell."""
    each_cell: list[Callable[[], None]] = []
    """Called as every cell starts: views that show what no job event announces."""

    @classmethod
    def watch(cls) -> Any:
        """The shell, with our cell events registered once (from inside a running cell)."""
        try:
            from IPython import get_ipython
        except ImportError:
            return None
        shell = get_ipython()
        if shell is None or shell is cls.shell:
            return shell
        cls.shell = shell
        cls._learn(shell)
        cls.running = True  # we are called from a cell
        shell.events.register("pre_run_cell", cls._pre_run_cell)
        shell.events.register("post_run_cell", cls._post_run_cell)
        return shell

    @classmethod
    def _learn(cls, shell: Any) -> None:
        kernel = getattr(shell, "kernel", None)
        if kernel is not None and hasattr(kernel, "get_parent"):
            cls.parent = kernel.get_parent("shell") or None

    @classmethod
    def _pre_run_cell(cls, _info: Any = None) -> None:
        cls._learn(cls.shell)
        cls.running = True
        late, cls.late = cls.late, {}
        for output in late.values():
            output.resend()
        for refresh in list(cls.each_cell):
            refresh()

    @classmethod
    def _post_run_cell(cls, _result: Any = None) -> None:
        cls.running = False


class LiveOutput:
    """One output of the current cell, replaced in place by `update` from any task."""

    def __init__(self, bundle: Bundle) -> None:
        from IPython.display import display

        self._shell = _Cells.watch()
        self._bundle = bundle
        self.handle = display(bundle, raw=True, display_id=True)

    @property
    def bundle(self) -> Bundle:
        """What the output shows now."""
        return self._bundle

    def update(self, bundle: Bundle) -> None:
        """Shows `bundle` instead; recorded by the cell running now (or by the next one)."""
        if bundle == self._bundle:
            return
        self._bundle = bundle
        self._send()
        if _Cells.running:
            _Cells.late.pop(id(self), None)
        else:
            _Cells.late[id(self)] = self

    def update_later(self, bundle: Bundle) -> None:
        """Shows `bundle` from the start of the next cell: for a widget's saved view, which must
        not be redrawn while the user works in it."""
        if bundle != self._bundle:
            self._bundle = bundle
            _Cells.late[id(self)] = self

    def resend(self) -> None:
        self._send()

    def _send(self) -> None:
        if self.handle is None:
            return
        pub = getattr(self._shell, "display_pub", None)
        token = None
        if _Cells.parent is not None and hasattr(pub, "set_thread_parent"):
            token = pub.set_thread_parent(_Cells.parent)  # this task only, until reset
        try:
            self.handle.update(self._bundle, raw=True)
        finally:
            if token is not None:
                pub.reset_thread_parent(token)


_views: weakref.WeakSet[LiveView] = weakref.WeakSet()


class LiveView:
    """A LiveOutput kept current with some jobs: it re-renders on their changes and clock ticks,
    and lets go of them once all have ended (the final render is the one saved)."""

    def __init__(
        self, jobs: Iterable[Job], render: Callable[[bool], Bundle], *, ticks: bool = True
    ) -> None:
        """`ticks`: also re-render once a second for the elapsed time (not for a view whose
        finished players a redraw would reload while others still run)."""
        self.jobs = list(jobs)
        self._render = render
        self.output = LiveOutput(render(False))
        self._stops: list[Callable[[], None]] = []
        if not self.finished:
            for job in self.jobs:
                self._stops.append(job.on_change(self._changed))
                if ticks:
                    self._stops.append(job.on_tick(self._changed))
            _views.add(self)

    @property
    def finished(self) -> bool:
        return all(job.done for job in self.jobs)

    def refresh(self) -> None:
        """Renders again (something the jobs do not carry changed, e.g. a rating)."""
        self.output.update(self._render(False))

    def refresh_each_cell(self) -> None:
        """Renders again as every later cell starts (sent only if it changed): for what can
        change without a job event, such as a rating given from code."""
        _Cells.each_cell.append(self._refresh_quietly)

    def _refresh_quietly(self) -> None:
        try:
            self.refresh()
        except Exception:  # a view must never break the user's cell
            import logging

            logging.getLogger("nbmedia").exception("refreshing a view failed")

    def _changed(self, _job: Job) -> None:
        self.refresh()
        if self.finished:
            self._let_go()

    def stop(self) -> None:
        """Nobody follows these jobs any more: the output says so instead of looking live."""
        if self._stops:
            self._let_go()
            self.output.update(self._render(True))

    def _let_go(self) -> None:
        for stop in self._stops:
            stop()
        self._stops = []
        _views.discard(self)


def stop_views(unfollowed: Callable[[Job], bool]) -> None:
    """Marks as stopped every live view of an open job that is `unfollowed` now (its Studio
    closed), instead of leaving it at "running · 32 %" forever."""
    for view in list(_views):
        if any(unfollowed(job) and not job.done for job in view.jobs):
            view.stop()
