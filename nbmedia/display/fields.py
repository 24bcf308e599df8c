"""One input widget per request-model field, chosen from the field's type and limits.

enum → dropdown, bounded number → slider, text with a maximum → text area with a live counter,
boolean → checkbox, voice → VoicePicker, media lists → upload + URLs, nested model → sub-form.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import annotated_types as at
import ipywidgets as W
import pydantic
from pydantic.fields import FieldInfo

UNSET: Any = object()
"""A field the user left alone: not sent, so the provider's documented default applies."""

DEFAULT = ""
"""The dropdown value of "(provider default)": ipywidgets reads None as "nothing selected"."""

SaveUpload = Callable[[str, bytes], Path]


def unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    """`X | None` → (X, True)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def bounds(info: FieldInfo) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in info.metadata:
        if isinstance(m, at.Ge):
            out["min"] = m.ge
        elif isinstance(m, at.Gt):
            out["min"] = m.gt
        elif isinstance(m, at.Le):
            out["max"] = m.le
        elif isinstance(m, at.Lt):
            out["max"] = m.lt
        elif isinstance(m, at.MaxLen):
            out["max_length"] = m.max_length
        elif isinstance(m, at.MinLen):
            out["min_length"] = m.min_length
    return out


def default_of(info: FieldInfo) -> Any:
    if info.default_factory is not None:
        return info.default_factory()  # type: ignore[call-arg]
    return None if info.default is pydantic.fields.PydanticUndefined else info.default


class FieldInput(W.VBox):
    """A labelled input, its error line, and a `value()` for the request (UNSET if untouched)."""

    def __init__(
        self, name: str, control: W.Widget, info: FieldInfo, extra: list[W.Widget] | None = None
    ) -> None:
        self.name = name
        self.control = control
        self.error = W.HTML(layout=W.Layout(min_height="0"))
        self.error.add_class("nbmedia-field-error")
        help_text = info.description or ""
        label = W.HTML(f"<b>{name}</b> <span style='color:#666'>{help_text}</span>")
        super().__init__([label, control, *(extra or []), self.error])
        self.add_class("nbmedia-field")
        self.add_class(f"nbmedia-field-{name}")

    def value(self) -> Any:
        raise NotImplementedError

    def observe_value(self, callback: Callable[[Any], None]) -> None:
        self.control.observe(lambda _change: callback(None), "value")

    def show_error(self, message: str | None) -> None:
        self.error.value = f"<span style='color:#c62828'>{message}</span>" if message else ""


class PlainInput(FieldInput):
    """Dropdowns, sliders, checkboxes: the control's value is the field's value."""

    def __init__(self, name: str, control: W.Widget, info: FieldInfo, default: Any) -> None:
        super().__init__(name, control, info)
        self._default = default

    def value(self) -> Any:
        v = self.control.value
        return UNSET if v is None or (isinstance(v, str) and v == DEFAULT) else v


class OptionalNumber(FieldInput):
    """A bounded number that may be left unset (provider decides): a checkbox enables it."""

    def __init__(self, name: str, slider: W.Widget, info: FieldInfo) -> None:
        self.enabled = W.Checkbox(
            value=False, description="set", indent=False, layout=W.Layout(width="60px")
        )
        slider.disabled = True
        box = W.HBox([self.enabled, slider])
        self.slider = slider
        super().__init__(name, box, info)
        self.enabled.observe(lambda ch: setattr(slider, "disabled", not ch["new"]), "value")

    def value(self) -> Any:
        return self.slider.value if self.enabled.value else UNSET

    def observe_value(self, callback: Callable[[Any], None]) -> None:
        self.enabled.observe(lambda _c: callback(None), "value")
        self.slider.observe(lambda _c: callback(None), "value")


class TextInput(FieldInput):
    """Free text; a text area with a live `n / max` counter when there is a maximum."""

    def __init__(
        self,
        name: str,
        info: FieldInfo,
        default: Any,
        max_length: int | None,
        parse: Callable[[str], Any] | None = None,
    ) -> None:
        long = (
            max_length is not None
            and max_length > 200
            or name in ("prompt", "text", "narration", "script")
        )
        cls = W.Textarea if long else W.Text
        control = cls(
            value="" if default in (None, UNSET) else str(default),
            continuous_update=True,
            layout=W.Layout(width="100%"),
        )
        self.counter = W.HTML()
        self.counter.add_class("nbmedia-counter")
        self.max_length = max_length
        self._parse = parse
        super().__init__(name, control, info, [self.counter] if max_length else [])
        control.observe(self._count, "value")
        self._count(None)

    def _count(self, _change: Any) -> None:
        if self.max_length:
            n = len(self.control.value)
            colour = "#c62828" if n > self.max_length else "#666"
            self.counter.value = f"<span style='color:{colour}'>{n} / {self.max_length}</span>"

    def value(self) -> Any:
        text = self.control.value
        if text == "":
            return UNSET
        return self._parse(text) if self._parse else text


class MediaInput(FieldInput):
    """Files to upload and/or URLs (one per line), for fields that take media."""

    def __init__(
        self,
        name: str,
        info: FieldInfo,
        accept: str,
        save: SaveUpload | None,
        many: bool,
        item_type: str | None = None,
    ) -> None:
        self.upload = W.FileUpload(accept=accept, multiple=many, description="upload")
        self.urls = W.Textarea(
            placeholder="or URLs, one per line", layout=W.Layout(width="100%", height="48px")
        )
        self._save = save
        self._many = many
        self._item_type = item_type
        self._saved: dict[str, Path] = {}
        super().__init__(name, W.HBox([self.upload]), info, [self.urls])

    def observe_value(self, callback: Callable[[Any], None]) -> None:
        self.upload.observe(lambda _c: callback(None), "value")
        self.urls.observe(lambda _c: callback(None), "value")

    def sources(self) -> list[Any]:
        out: list[Any] = []
        for f in self.upload.value:
            name = f["name"]
            if name not in self._saved and self._save is not None:
                self._saved[name] = self._save(name, bytes(f["content"]))
            if name in self._saved:
                out.append(self._saved[name])
        out += [u.strip() for u in self.urls.value.splitlines() if u.strip()]
        return out

    def value(self) -> Any:
        items = self.sources()
        if not items:
            return UNSET
        if self._item_type is not None:
            items = [{"type": _media_type(i, self._item_type), "url": i} for i in items]
        return items if self._many else items[0]


def _media_type(source: Any, default: str) -> str:
    suffix = Path(str(source).split("?")[0]).suffix.lower()
    if suffix in (".mp4", ".mov", ".webm"):
        return "video"
    if suffix in (".mp3", ".wav", ".m4a", ".flac"):
        return "audio"
    return default


class JsonInput(TextInput):
    """Anything else: JSON (or plain text) in a text box."""

    def __init__(self, name: str, info: FieldInfo, default: Any) -> None:
        shown = "" if default in (None, UNSET, [], {}) else json.dumps(default)
        super().__init__(name, info, shown or None, None, parse=_json_or_text)


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def literal_choices(annotation: Any) -> tuple[Any, ...] | None:
    if typing.get_origin(annotation) is Literal:
        return typing.get_args(annotation)
    return None
