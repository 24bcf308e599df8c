"""Helpers the MercaDream, Vimmerse and Mesh API contract modules share (optional for the
others): running a documented example as the page prints it, and checking that a request
model refuses a value by naming the field."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

import nbmedia as nm

EXAMPLES = Path(__file__).parent / "examples"
"""The providers' documented examples, copied verbatim (each file names its source)."""


def example(name: str, replace: Mapping[str, str]) -> str:
    """An example's text with only `replace` applied (base URL, key); each must be found."""
    text = (EXAMPLES / name).read_text()
    for old, new in replace.items():
        assert old in text, f"{old!r} is not in {name}: the example changed"
        text = text.replace(old, new)
    return text


def run_python(name: str, replace: Mapping[str, str]) -> dict[str, Any]:
    """Executes a documented Python example; its module namespace afterwards."""
    namespace: dict[str, Any] = {"__name__": "__example__"}
    exec(compile(example(name, replace), str(EXAMPLES / name), "exec"), namespace)
    return namespace


def run_curl(name: str, replace: Mapping[str, str]) -> httpx.Response:
    """Sends what a documented curl command sends (-X, -H, -d), with httpx, reading the
    command as a shell would (quotes, line continuations); the comment lines are skipped."""
    lines = [ln for ln in example(name, replace).splitlines() if not ln.startswith("#")]
    args = shlex.split("\n".join(lines).replace("\\\n", " "))  # as a shell joins lines
    assert args[0] == "curl", args
    method, url, headers, data = "GET", None, {}, None
    it = iter(args[1:])
    for arg in it:
        if arg in ("-X", "--request"):
            method = next(it)
        elif arg in ("-H", "--header"):
            key, _, value = next(it).partition(":")
            headers[key.strip()] = value.strip()
        elif arg in ("-d", "--data", "--data-raw"):
            data = next(it)
            method = "POST" if method == "GET" else method
        elif arg.startswith("-"):
            raise AssertionError(f"curl option {arg} is not understood by this runner")
        else:
            url = arg
    assert url is not None
    return httpx.request(method, url, headers=headers, content=data, trust_env=False, timeout=30)


def refused(make: Callable[[], object], field: str) -> nm.ValidationError:
    """`make()` raises nbmedia's ValidationError naming `field` (and a rule); that error."""
    with pytest.raises(nm.ValidationError) as info:
        make()
    err = info.value
    assert err.field == field or err.field.startswith(field + "."), (err.field, field, str(err))
    assert err.rule and field.split(".")[-1] in str(err), str(err)
    return err
