"""Shared fixtures: one sandbox for the whole session, reset between tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import nbmedia as nm
from nbmedia.sandbox import Sandbox, start

SANDBOX_SPEED = 20.0
"""Jobs run 20x faster than at the default speed; rendering real media is the floor."""


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """A started sandbox on a free loopback port, shared by every test in the session."""
    sb = start(speed=SANDBOX_SPEED)
    yield sb
    sb.stop()


@pytest.fixture
def studio(tmp_path: Path, sandbox: Sandbox) -> Iterator[nm.Studio]:
    """A Studio on the session's sandbox with its own folder (ledger and media)."""
    s = nm.Studio(root=tmp_path, sandbox=sandbox)
    yield s
    s.close()


@pytest.fixture(autouse=True)
def _sandbox_hygiene(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that turns a fault knob or the speed does not leak it into the next test."""
    if "sandbox" not in request.fixturenames:
        yield
        return
    sb: Sandbox = request.getfixturevalue("sandbox")
    speed = sb.speed
    yield
    sb.faults.reset()
    sb.speed = speed
