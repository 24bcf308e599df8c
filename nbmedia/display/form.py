"""PromptForm: a form generated from a provider's request model, validated as the user types.

No form is written by hand per provider: a new provider's request model gets a form for free.
The form only renders and collects; validating and submitting are functions the Studio hands it.
"""

from __future__ import annotations

import html
import typing
from collections.abc import Callable
from typing import Any

import ipywidgets as W
import pydantic

from ..errors import NbmediaError, ValidationError
from ..models import Job
from .fields import (
    DEFAULT,
    UNSET,
    FieldInput,
    JsonInput,
    MediaInput,
    OptionalNumber,
    PlainInput,
    SaveUpload,
    TextInput,
    bounds,
    default_of,
    literal_choices,
    unwrap_optional,
)
from .jobview import job_html, job_text
from .live import Bundle
from .progress import JobProgress
from .snapshot import Snapshotted
from .voice import SampleFn, VoicePicker

SLIDER_SPAN = 10_000
"""Bounded numbers with a wider range get a bounded box instead of a slider."""


class PromptForm(Snapshotted, W.VBox):
    """Inputs for every field of `model`, an error line per field, a submit button, results;
    saved as the values filled in and the jobs submitted (their players once done)."""

    def __init__(
        self,
        title: str,
        model: type[pydantic.BaseModel],
        *,
        validate: Callable[[dict[str, Any]], Any],
        submit: Callable[[dict[str, Any]], Job],
        voices: list[dict[str, Any]] | None = None,
        sample: SampleFn | None = None,
        billed_samples: bool = False,
        save_upload: SaveUpload | None = None,
        estimate: Callable[[dict[str, Any]], str] | None = None,
        values: dict[str, Any] | None = None,
        media_fields: dict[str, tuple[str, bool, str | None]] | None = None,
    ) -> None:
        self.model = model
        self.title = title
        self.jobs: list[Job] = []
        """The jobs submitted from this form, newest first."""
        self.media_fields = dict(media_fields or {})
        """Fields that take files: name → (accept, several?, item type when each item is
        {type, url}); the provider declares them."""
        self._validate = validate
        self._submit = submit
        self._estimate = estimate
        self._voice_args = {"voices": voices or [], "sample": sample, "billed": billed_samples}
        self._save = save_upload
        self.inputs: dict[str, FieldInput | SubForm] = build_inputs(model, self, values or {})
        self.submit_button = W.Button(description="Submit", button_style="primary", icon="play")
        self.submit_button.add_class("nbmedia-submit")
        self.form_error = W.HTML()
        self.form_error.add_class("nbmedia-form-error")
        self.estimate_label = W.HTML()
        self.results = W.VBox()
        self.results.add_class("nbmedia-results")
        children: list[W.Widget] = [W.HTML(f"<h4 style='margin:4px 0'>{title}</h4>")]
        children += list(self.inputs.values())
        buttons: list[W.Widget] = [self.submit_button]
        if estimate is not None:
            self.estimate_button = W.Button(description="Estimate cost", icon="calculator")
            self.estimate_button.on_click(lambda _b: self._run_estimate())
            buttons.append(self.estimate_button)
        children += [W.HBox([*buttons, self.estimate_label]), self.form_error, self.results]
        super().__init__(children)
        self.add_class("nbmedia-form")
        for field in self.inputs.values():
            field.observe_value(lambda _v: self.check())
        self.submit_button.on_click(lambda _b: self.send())
        self.check()

    def values(self) -> dict[str, Any]:
        """The request as the user has filled it in (untouched optional fields left out)."""
        out = {}
        for name, field in self.inputs.items():
            value = field.value()
            if value is not UNSET:
                out[name] = value
        return out

    def check(self) -> bool:
        """Validates with the same rules as the API call; shows the message next to its field."""
        for field in self.inputs.values():
            field.show_error(None)
        self.form_error.value = ""
        try:
            self._validate(self.values())
        except ValidationError as err:
            top = err.field.split(".", 1)[0]
            message = f"{err.field}={_short(err.value)}: {err.rule}"
            if top in self.inputs:
                self.inputs[top].show_error(message)
            else:
                self.form_error.value = f"<span style='color:#c62828'>{message}</span>"
            self.submit_button.disabled = True
            return False
        except NbmediaError as err:
            self.form_error.value = f"<span style='color:#c62828'>{err}</span>"
            self.submit_button.disabled = True
            return False
        self.submit_button.disabled = False
        self.snapshot_changed()
        return True

    def send(self) -> Job | None:
        """Submits once valid; the job's live progress appears under the form, newest first."""
        if not self.check():
            return None
        self.submit_button.disabled = True
        try:
            job = self._submit(self.values())
        except NbmediaError as err:
            self.form_error.value = (
                f"<span style='color:#c62828'>{type(err).__name__}: {err}</span>"
            )
            return None
        finally:
            self.submit_button.disabled = False
        self.results.children = (JobProgress(job), *self.results.children)
        self.jobs.insert(0, job)
        job.on_change(self.snapshot_changed)
        self.snapshot_changed()
        return job

    def snapshot(self) -> Bundle:
        values = {k: v for k, v in self.values().items() if not isinstance(v, (bytes, list))}
        shown = ", ".join(f"{k}={_short(v)}" for k, v in values.items())
        return {
            "text/plain": "\n".join(
                [f"{self.title} form: {shown}"] + [job_text(j) for j in self.jobs]
            ),
            "text/html": (
                f"<div class='nbmedia-form'><b>{html.escape(self.title)}</b>"
                f"<div style='color:#555'>{html.escape(shown)}</div>"
                + "".join(job_html(j) for j in self.jobs)
                + "</div>"
            ),
        }

    def _run_estimate(self) -> None:
        if self._estimate is None or not self.check():
            return
        try:
            self.estimate_label.value = self._estimate(self.values())
        except NbmediaError as err:
            self.estimate_label.value = f"<span style='color:#c62828'>{err}</span>"


class SubForm(W.Accordion):
    """A nested request object (e.g. Vimmerse's audio_option), folded until opened."""

    def __init__(
        self, name: str, model: type[pydantic.BaseModel], form: PromptForm, values: dict[str, Any]
    ) -> None:
        self.name = name
        self.inputs = build_inputs(model, form, values, prefix=name)
        self.box = W.VBox(list(self.inputs.values()))
        super().__init__([self.box])
        self.set_title(0, name)
        self.add_class(f"nbmedia-field-{name}")
        self.error = W.HTML()
        self.box.children = (*self.box.children, self.error)

    def value(self) -> Any:
        out = {}
        for name, field in self.inputs.items():
            value = field.value()
            if value is not UNSET:
                out[name] = value
        return out or UNSET

    def observe_value(self, callback: Callable[[Any], None]) -> None:
        for field in self.inputs.values():
            field.observe_value(callback)

    def show_error(self, message: str | None) -> None:
        self.error.value = f"<span style='color:#c62828'>{message}</span>" if message else ""
        if message:
            self.selected_index = 0


def build_inputs(
    model: type[pydantic.BaseModel], form: PromptForm, values: dict[str, Any], prefix: str = ""
) -> dict[str, FieldInput | SubForm]:
    out: dict[str, FieldInput | SubForm] = {}
    for name, info in model.model_fields.items():
        out[name] = make_input(name, info, form, values.get(name, UNSET))
    return out


def make_input(name: str, info: Any, form: PromptForm, given: Any) -> FieldInput | SubForm:
    annotation, optional = unwrap_optional(info.annotation)
    default = default_of(info) if given is UNSET else given
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    limits = bounds(info)
    if extra.get("voice"):
        picker = VoicePicker(
            form._voice_args["voices"],
            value=default,
            sample=form._voice_args["sample"],
            billed=form._voice_args["billed"],
            description="",
            allow_none=default is None,
        )
        return _VoiceInput(name, picker, info)
    if name in form.media_fields:
        accept, many, item_type = form.media_fields[name]
        return MediaInput(name, info, accept, form._save, many, item_type)
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return SubForm(name, annotation, form, default if isinstance(default, dict) else {})
    choices = literal_choices(annotation)
    if choices is not None:
        options = [("(provider default)", DEFAULT)] if default is None else []
        options += [(str(c), c) for c in choices]
        return PlainInput(
            name,
            W.Dropdown(options=options, value=DEFAULT if default is None else default),
            info,
            default,
        )
    if annotation is bool:
        if optional and default is None:
            dd = W.Dropdown(
                options=[("(provider default)", DEFAULT), ("yes", True), ("no", False)],
                value=DEFAULT,
            )
            return PlainInput(name, dd, info, None)
        return PlainInput(name, W.Checkbox(value=bool(default), indent=False), info, default)
    if (
        annotation in (int, float)
        and "min" in limits
        and "max" in limits
        and limits["max"] - limits["min"] <= SLIDER_SPAN
    ):
        if annotation is int:
            slider: W.Widget = W.IntSlider(
                min=limits["min"],
                max=limits["max"],
                value=default if default is not None else limits["min"],
                continuous_update=True,
            )
        else:
            slider = W.FloatSlider(
                min=limits["min"],
                max=limits["max"],
                step=0.05,
                value=default if default is not None else limits["min"],
                continuous_update=True,
            )
        if default is None:
            return OptionalNumber(name, slider, info)
        return PlainInput(name, slider, info, default)
    if annotation in (int, float):
        parse = int if annotation is int else float
        return TextInput(name, info, default, None, parse=lambda t, p=parse: _number(t, p))
    if annotation is str:
        return TextInput(name, info, default, limits.get("max_length"))
    if typing.get_origin(annotation) is list and typing.get_args(annotation) == (str,):
        return TextInput(
            name, info, None, None, parse=lambda t: [s.strip() for s in t.split(",") if s.strip()]
        )
    return JsonInput(name, info, default)


class _VoiceInput(FieldInput):
    def __init__(self, name: str, picker: VoicePicker, info: Any) -> None:
        self.picker = picker
        super().__init__(name, picker, info)

    def value(self) -> Any:
        v = self.picker.dropdown.value
        return UNSET if v is None or v == DEFAULT else v

    def observe_value(self, callback: Callable[[Any], None]) -> None:
        self.picker.dropdown.observe(lambda _c: callback(None), "value")


def _number(text: str, parse: Callable[[str], Any]) -> Any:
    try:
        return parse(text)
    except ValueError:
        return text  # the model's rule names what is wrong with it


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 50 else text[:47] + "…"
