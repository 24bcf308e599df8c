"""Turns a pydantic failure into nbmedia.ValidationError: one field, its value, the rule broken."""

from __future__ import annotations

from typing import Any, TypeVar

import pydantic

from .errors import ValidationError

M = TypeVar("M", bound=pydantic.BaseModel)


class RequestModel(pydantic.BaseModel):
    """Base of every provider request model: unknown fields are typos, so they are errors."""

    model_config = pydantic.ConfigDict(extra="forbid", validate_assignment=True)

    def wire(self) -> dict[str, Any]:
        """The JSON body: only what the user set or the model requires, never None."""
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)


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
