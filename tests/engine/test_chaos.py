"""The small chaos run (`bench/chaos.py`): jobs over every provider and kind under the fault
mix, the Studio's process SIGKILLed half way, a new one resuming; then the ledger and the media
folder against the sandbox's own audit. Everything the provider made is in the ledger (or
honestly `unconfirmed`), once, in its true state, with its files verified and fetched once."""

from __future__ import annotations

import pytest

from bench import chaos

pytestmark = pytest.mark.timeout(900)


def test_a_killed_studio_under_faults_loses_nothing() -> None:
    figures = chaos.run(105, "kill", seed=7)
    print(figures.line())
    assert figures.clean, "\n".join([figures.line(), *figures.notes])
    assert any(note.startswith("killed after") for note in figures.notes)
    assert figures.n - figures.failed - figures.unconfirmed > 60  # most of them made it


def test_two_studios_on_one_folder_lose_nothing_and_fetch_each_file_once() -> None:
    figures = chaos.run(35, "two-studios", seed=3)
    print(figures.line())
    assert figures.clean, "\n".join([figures.line(), *figures.notes])
