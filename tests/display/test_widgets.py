"""Widgets built from the request models, driven through their traitlets (no browser here)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import nbmedia as nm
from nbmedia.display import PromptForm
from nbmedia.display.textprogress import TextProgress
from nbmedia.magic import parse_args
from tests import mediacheck

pytestmark = pytest.mark.timeout(180)


def test_form_has_documented_defaults(studio) -> None:
    form: PromptForm = studio.form("mercadream", "video")
    assert form.inputs["resolution"].control.value == "4k"
    assert form.inputs["duration"].control.value == 30
    assert form.inputs["fps"].control.value == 24
    assert form.inputs["style"].control.value == "cinematic"
    assert form.submit_button.disabled  # the prompt is required and empty
    speech = studio.form("mercadream", "speech")
    assert speech.inputs["speed"].control.value == 1.0
    assert speech.inputs["format"].control.value == "mp3"
    assert speech.inputs["voice_id"].picker.dropdown.value == "neural-narrator-m"


def test_invalid_input_shows_the_rule_and_disables_submit(studio, sandbox) -> None:
    form = studio.form("mercadream", "video")
    prompt = form.inputs["prompt"]
    prompt.control.value = "x" * 1001
    assert form.submit_button.disabled
    assert "at most 1000" in prompt.error.value
    assert "1001 / 1000" in prompt.counter.value
    prompt.control.value = "Neon rain"
    assert not form.submit_button.disabled and prompt.error.value == ""
    assert "9 / 1000" in prompt.counter.value


def test_submit_shows_progress_then_the_player(studio) -> None:
    form = studio.form("mercadream", "speech")
    form.inputs["text"].control.value = "Submitted from the form."
    form.inputs["format"].control.value = "wav"
    job = form.send()
    assert job is not None and form.results.children[0].job is job
    job.wait(timeout=60)
    view = form.results.children[0]
    assert view.bar.value == 1.0 and "<audio" in view.player.outputs[0]["data"]["text/html"]
    assert form.inputs["text"].control.value == "Submitted from the form."  # the form stays


def test_every_provider_gets_a_form(studio) -> None:
    for name in studio.providers:
        provider = studio.provider(name)
        for kind in provider.requests:
            form = studio.form(name, kind)
            assert form.inputs, (name, kind)


def test_vimmerse_form_nested_audio_option_and_narrator_picker(studio) -> None:
    form = studio.form("vimmerse")
    assert form.inputs["quantity"].control.value == 1 and form.inputs["quantity"].control.max == 4
    audio = form.inputs["audio_option"]
    picker = audio.inputs["narrator"].picker
    assert len(picker.dropdown.options) == 22
    form.inputs["prompt"].control.value = "Mountains"
    assert not form.submit_button.disabled
    assert form.values().get("audio_option") in (None, {"narrator": "AutoV", "native_audio": False})


def test_voice_picker_plays_real_speech(studio) -> None:
    picker = studio.voice_picker("vimmerse")
    picker.dropdown.value = "Rachel"
    picker.play.click()  # what the ▶ sample button does
    html = picker.player.outputs[0]["data"]["text/html"]
    assert "<audio" in html
    path = studio.root / "media" / "vimmerse" / "samples" / "Rachel.wav"
    assert mediacheck.audio_rms(path) > 0.02
    other = studio.voice_sample("vimmerse", "Bill")
    mediacheck.assert_different_bytes(other.read_bytes(), path.read_bytes(), "two voice samples")


def test_job_table_filters_and_refreshes(studio) -> None:
    table = studio.job_table()
    assert "0 of 0" in table.count.value
    job = studio.speech("in the table", format="wav")
    video = studio.generate("table video", duration=15, resolution="720p")
    job.wait(timeout=60)
    video.wait(timeout=120)
    assert "2 of 2" in table.count.value
    table.kind.value = "video"
    assert "1 of 2" in table.count.value
    table.play(video.id, str(video.path))
    assert "<video" in table.player.outputs[0]["data"]["text/html"]
    assert any(type(w).__name__ == "Image" for w in table.grid.children)


def test_ratings_and_leaderboard(studio) -> None:
    a = studio.speech("one", format="wav")
    b = studio.speech("two", format="wav")
    studio.rate(a, 1)
    studio.rate(b, -1)
    board = studio.leaderboard()
    assert board.loc[0, "provider"] == "mercadream" and board.loc[0, "up"] == 1
    assert board.loc[0, "down"] == 1
    with pytest.raises(nm.ValidationError):
        studio.rate(a, 5)


def test_magic_arguments() -> None:
    assert parse_args("video --provider meshapi --duration 5 --generate_audio") == (
        "video",
        "meshapi",
        {"duration": 5, "generate_audio": True},
    )
    assert parse_args("speech --voice-id Rachel --speed=1.5") == (
        "speech",
        None,
        {"voice_id": "Rachel", "speed": 1.5},
    )
    with pytest.raises(nm.ValidationError):
        parse_args("")


def test_terminal_progress_bar(studio) -> None:
    job = studio.speech("A progress bar in the terminal.", format="wav")
    out = io.StringIO()
    bar = TextProgress(job, out)
    job.wait(timeout=60)
    bar.close()
    text = out.getvalue()
    assert "mercadream/speech [" in text and "100% succeeded" in text and text.endswith("\n")


def test_batch_within_limits_joins_results(studio, sandbox) -> None:
    import pandas as pd

    from nbmedia.display import BatchProgress

    df = pd.DataFrame(
        {
            "provider": ["mercadream"] * 4 + ["vimmerse"] * 2,
            "kind": ["speech"] * 4 + ["video"] * 2,
            "prompt": [f"row {i}" for i in range(6)],
            "format": ["wav"] * 4 + [None] * 2,
            "duration": [None] * 4 + [1, 1],
        }
    )
    open_counts: list[int] = []
    studio.subscribe(
        lambda _job: open_counts.append(
            sum(1 for j in batch.jobs if j.provider == "mercadream" and j.id and not j.done)
        )
    )
    batch = studio.batch(df, limits={"mercadream": 2})
    view = BatchProgress(batch)
    batch.wait(timeout=180)
    assert open_counts and max(open_counts) <= 2
    table = batch.table()
    assert list(table["status"]) == ["succeeded"] * 6
    assert table["output_path"].map(lambda p: Path(p).exists()).all()
    assert view.bar.value == 1.0
    assert list(table["prompt"]) == list(df["prompt"])


def test_batch_validates_every_row_first(studio, sandbox) -> None:
    import pandas as pd

    before = len(sandbox.request_log)
    df = pd.DataFrame({"kind": ["speech", "speech"], "prompt": ["ok", "bad"], "speed": [1.0, 9.0]})
    with pytest.raises(nm.ValidationError) as info:
        studio.batch(df)
    assert info.value.field.startswith("row 1") and "speed" in info.value.field
    assert len(sandbox.request_log) == before
