"""The two faces of one implementation: Studio (sync) and AsyncStudio (async), and the verbs
that take their provider from the kind."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import nbmedia as nm
from nbmedia.providers import REGISTRY
from nbmedia.providers.base import Capability, Unsupported
from nbmedia.sandbox import Sandbox


def test_async_studio_has_the_same_verbs_as_coroutines(tmp_path: Path, sandbox: Sandbox) -> None:
    async def main() -> tuple[nm.Job, nm.Job]:
        async with nm.AsyncStudio(root=tmp_path, sandbox=sandbox) as s:
            speech = await s.speech("Said from async code.", format="wav")
            video = await s.generate("Made from async code", duration=15, resolution="720p")
            await speech
            done = await s.wait(video, 120)
            assert len(s.jobs()) == 2
            return speech, done

    speech, video = asyncio.run(main())
    assert speech.path is not None and speech.path.read_bytes()[:4] == b"RIFF"
    assert video.path is not None and video.path.read_bytes()[4:8] == b"ftyp"
    again = nm.Studio(root=tmp_path, sandbox=sandbox)  # the same ledger, seen from sync code
    try:
        assert set(again.jobs()["status"]) == {"succeeded"}
    finally:
        again.close()


def test_sync_and_async_faces_offer_the_same_verbs() -> None:
    public = {n for n in dir(nm.Studio) if not n.startswith("_")}
    public_async = {n for n in dir(nm.AsyncStudio) if not n.startswith("_")}
    assert public - {"close", "current"} == public_async - {"aclose", "wait"}


def test_the_default_provider_is_the_first_that_makes_the_kind(studio: nm.Studio) -> None:
    for kind in ("video", "speech", "describe", "lipsync"):
        name = studio.default_provider(kind)
        assert kind in REGISTRY[name].requests
    with pytest.raises(nm.ValidationError, match="kind='hologram'"):
        studio.default_provider("hologram")


def test_a_capability_a_provider_lacks_is_a_clear_error(studio: nm.Studio) -> None:
    lacking = next(n for n, cls in REGISTRY.items() if not cls.has(Capability.ESTIMATE))
    with pytest.raises(Unsupported, match="has no estimate"):
        studio.estimate(lacking)
    with pytest.raises(nm.ValidationError, match="provider='nope'"):
        studio.generate("x", provider="nope")


def test_an_async_batch_leaves_the_loop_free_while_its_rows_are_checked(tmp_path, sandbox) -> None:
    import pandas as pd

    async def main() -> None:
        async with nm.AsyncStudio(tmp_path, sandbox=sandbox) as studio:
            turns = 0

            async def count() -> None:
                nonlocal turns
                while True:
                    turns += 1
                    await asyncio.sleep(0)

            counter = asyncio.get_running_loop().create_task(count())
            await asyncio.sleep(0)
            rows = pd.DataFrame(
                {
                    "provider": "mercadream",
                    "kind": "speech",
                    "text": [f"row {i}" for i in range(120)],
                }
            )
            before = turns
            batch = await studio.batch(rows, limits={"mercadream": 2})
            assert turns - before >= 2  # other tasks ran between slices of rows
            assert len(batch.jobs) == 120
            counter.cancel()

    asyncio.run(main())


def test_a_studio_shows_its_providers_where_they_run_and_open_jobs(
    tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = "md-canary-4f7e0c2b9a"
    monkeypatch.setenv("NBMEDIA_MERCADREAM_BASE_URL", sandbox.base_url("mercadream"))
    studio = nm.Studio(tmp_path, keys={"mercadream": canary}, sandbox=False)
    try:
        page = studio._repr_html_()
        host = sandbox.base_url("mercadream").split("//", 1)[1].split("/", 1)[0]
        assert f"live · {host}" in page and canary not in page  # its own key: live, unshown
        assert "not set up: no key (SYNC_API_KEY)" in page and "0 open jobs" in page
        for cls in REGISTRY.values():
            assert cls.title in page and all(what in page for what in cls.makes)
    finally:
        studio.close()
    box = nm.Studio(tmp_path / "box", sandbox=sandbox)
    try:
        job = box.speech("Shown as open", format="wav")
        assert "1 open job" in box._repr_html_() and box._repr_html_().count("<td") == 4 * 5
        job.wait(timeout=60)
        assert "0 open jobs" in box._repr_html_() and ">sandbox<" in box._repr_html_()
    finally:
        box.close()
