"""VoicePicker: every voice a provider offers, with a play-sample button.

The picker never fetches anything itself: the Studio hands it the voice list and a `sample`
function (free speech made on the spot on the sandbox; on a live provider only a published
sample, or a billed request after the user ticks the confirmation box).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as W
import traitlets
from IPython.display import HTML

from .fields import DEFAULT
from .live import Bundle
from .players import relative_src
from .snapshot import Snapshotted

SampleFn = Callable[[str, bool], Path | None]
"""(voice id, billed request confirmed) → a local audio file, or None if there is no sample."""


class VoicePicker(Snapshotted, W.VBox):
    """A voice dropdown, its sample player and (for billed samples) a confirmation box; saved as
    the voice picked and the last sample played."""

    value = traitlets.Unicode(allow_none=True)

    def __init__(
        self,
        voices: list[dict[str, Any]],
        *,
        value: str | None = None,
        sample: SampleFn | None = None,
        billed: bool = False,
        description: str = "voice",
        allow_none: bool = False,
    ) -> None:
        options: list[tuple[str, str | None]] = (
            [("(provider default)", DEFAULT)] if allow_none else []
        )
        options += [(_label(v), v["id"]) for v in voices]
        known = {v["id"] for v in voices}
        if value is not None and value not in known:
            options.append((value, value))
        self.dropdown = W.Dropdown(
            options=options,
            value=value if value is not None else (DEFAULT if allow_none else options[0][1]),
            description=description,
        )
        self.play = W.Button(
            description="▶ sample",
            tooltip="play a sample of this voice",
            layout=W.Layout(width="110px"),
        )
        self.play.add_class("nbmedia-voice-sample")
        self.confirm = W.Checkbox(
            value=False, description="allow a billed sample request", indent=False
        )
        self.status = W.HTML()
        self.player = W.Output()
        self._sample = sample
        self._sample_html = ""
        self.confirm.layout.display = None if billed else "none"
        if sample is None:
            self.play.disabled = True
            self.play.tooltip = "this provider publishes no voice samples"
        row = W.HBox([self.dropdown, self.play, self.confirm])
        super().__init__([row, self.status, self.player])
        self.add_class("nbmedia-voice-picker")
        self.value = self.dropdown.value or None
        self.dropdown.observe(self._changed, "value")
        self.play.on_click(self._play)

    def snapshot(self) -> Bundle:
        label = next((text for text, v in self.dropdown.options if v == self.dropdown.value), "")
        return {
            "text/plain": f"voice: {label or '(provider default)'}",
            "text/html": (
                "<div class='nbmedia-voice-picker'>voice: "
                f"<b>{html.escape(label or '(provider default)')}</b>{self._sample_html}</div>"
            ),
        }

    def _changed(self, change: dict[str, Any]) -> None:
        self.value = change["new"] or None
        self.snapshot_changed()

    def _play(self, _button: W.Button | None = None) -> None:
        if self._sample is None or self.dropdown.value in (None, DEFAULT):
            return
        if self.confirm.layout.display != "none" and not self.confirm.value:
            self.status.value = "<span style='color:#c62828'>tick the box first: this sample is a billed request</span>"
            return
        self.play.disabled = True
        self.status.value = "making a sample…"
        try:
            path = self._sample(self.dropdown.value, bool(self.confirm.value))
        except Exception as exc:  # shown, not raised: a widget callback has no caller
            self.status.value = f"<span style='color:#c62828'>{type(exc).__name__}: {exc}</span>"
            return
        finally:
            self.play.disabled = False
        if path is None:
            self.status.value = "no sample available for this voice"
            return
        self.status.value = ""
        self.player.outputs = ()
        src = html.escape(relative_src(path))
        self.player.append_display_data(
            HTML(f'<audio class="nbmedia-sample" controls autoplay src="{src}"></audio>')
        )
        self._sample_html = f'<div><audio controls preload="none" src="{src}"></audio></div>'
        self.snapshot_changed()


def _label(voice: dict[str, Any]) -> str:
    name = voice.get("name") or voice["id"]
    lang = voice.get("language")
    return (
        f"{name} ({lang})"
        if lang and name != voice["id"]
        else (f"{name} [{lang}]" if lang else name)
    )
