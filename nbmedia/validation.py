"""Turns a pydantic failure into nbmedia.ValidationError: one field, its value, the rule broken."""

from __future__ import annotations

import types
import typing
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pydantic

from .errors import ValidationError

M = TypeVar("M", bound=pydantic.BaseModel)

MAX_TEXT = 100_000
"""The longest text any request field takes where its provider documents no limit (the
longest documented one is 5,000 characters): a larger value is a mistake, refused before
anything is sent."""


class FieldRule(ValueError):
    """A rule across fields, broken by `field` (raised in a model validator, so that the error
    names that field, not the whole request)."""

    def __init__(self, field: str, rule: str, value: Any = None) -> None:
        super().__init__(rule)
        self.field = field
        self.rule = rule
        self.value = value


class RequestModel(pydantic.BaseModel):
    """Base of every provider request model: unknown fields are typos, so they are errors;
    so are values no field takes whatever its type says: NaN and infinities, a bool given for
    a number, text with a lone surrogate (it cannot be sent as UTF-8), a text longer than any
    field takes, and blank text where text is required."""

    model_config = pydantic.ConfigDict(
        extra="forbid", validate_assignment=True, allow_inf_nan=False
    )

    @pydantic.field_validator("*", mode="before")
    @classmethod
    def _sendable(cls, value: Any, info: pydantic.ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if field is None:
            return value
        if isinstance(value, bool) and _numbers_only(field.annotation):
            raise ValueError(f"must be a number, not {value}")
        for text in _texts(value):
            if len(text) > MAX_TEXT and not text.startswith("data:"):  # files: own limits
                raise ValueError(f"is longer than any field takes ({MAX_TEXT:,} characters)")
            try:
                text.isascii() or text.encode("utf-8")  # no copy of a large data: URI
            except UnicodeEncodeError as exc:
                raise ValueError(
                    f"holds a lone surrogate at character {exc.start}: it cannot be sent as UTF-8"
                ) from None
        if isinstance(value, str) and value and not value.strip() and _required_text(field):
            raise ValueError("must not be blank")
        return value

    def wire(self) -> dict[str, Any]:
        """The JSON body: only what the user set or the model requires, never None."""
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)


def is_http_url(text: str) -> bool:
    """An http:// or https:// URL with a host ("http://" alone is not one)."""
    return text.startswith(("http://", "https://")) and bool(urlsplit(text).hostname)


def http_url(value: str | None) -> str | None:
    """A field validator for URLs the provider calls or fetches (webhooks, callbacks)."""
    if value is not None and not is_http_url(value):
        raise ValueError("must be an http:// or https:// URL with a host")
    return value


def build(provider: str, model: type[M], fields: dict[str, Any]) -> M:
    """Validates `fields` against `model`, raising ValidationError for the first broken rule."""
    try:
        return model.model_validate(fields)
    except pydantic.ValidationError as exc:
        raise to_validation_error(provider, model, exc, fields) from None


def to_validation_error(
    provider: str, model: type[pydantic.BaseModel], exc: pydantic.ValidationError, fields: Any
) -> ValidationError:
    err = exc.errors(include_url=False)[0]
    loc = ".".join(str(p) for p in err["loc"]) or "request"
    value = err.get("input")
    named = (err.get("ctx") or {}).get("error")
    if isinstance(named, FieldRule):  # a rule across fields names the one that broke it
        field = ".".join([*(str(p) for p in err["loc"]), named.field])
        shown = named.value
        if shown is None and isinstance(value, dict):
            shown = value.get(named.field)
        return ValidationError(provider, field, shown, named.rule)
    if err["type"] == "extra_forbidden":
        known = ", ".join(model.model_fields)
        rule = f"not a field of this request (known fields: {known})"
    elif err["type"] == "missing":
        rule = "required"
        value = None
    else:
        rule = err["msg"]
        if rule.startswith("Value error, "):
            rule = rule[len("Value error, ") :]
        if err["type"] == "literal_error":
            rule = "must be one of " + rule.removeprefix("Input should be ")
        rule = rule.replace("Input should be", "must be").replace("String should have", "must have")
    return ValidationError(provider, loc, value, rule)


def _leaves(annotation: Any) -> list[Any]:
    """The plain types (and literal values) an annotation admits."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return [type(a) for a in args]
    if origin is typing.Annotated:
        return _leaves(args[0])
    if args and origin in (typing.Union, types.UnionType):
        return [leaf for a in args for leaf in _leaves(a)]
    return [origin or annotation]


def _numbers_only(annotation: Any) -> bool:
    """Whether the field takes numbers and not bools (pydantic would take True as 1)."""
    leaves = [t for t in _leaves(annotation) if t is not type(None)]
    return bool(leaves) and bool not in leaves and all(t in (int, float) for t in leaves)


def _required_text(field: Any) -> bool:
    """A text field with a minimum length: blank text is no text."""
    return any((getattr(m, "min_length", None) or 0) >= 1 for m in field.metadata)


def _texts(value: Any, depth: int = 0) -> list[str]:
    """The strings in a value (in lists and dicts too, a few levels down)."""
    if isinstance(value, str):
        return [value]
    if depth > 3:
        return []
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in (*_texts(k, depth + 1), *_texts(v, depth + 1))]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _texts(v, depth + 1)]
    return []
