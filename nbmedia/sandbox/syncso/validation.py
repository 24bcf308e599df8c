"""A create (or estimate) body checked the way sync.so's class-validator does: one 400 lists
every problem; the documented ``generation_*`` conditions the body alone decides are kept on
the ``Spec`` to fail the generation instead."""

from __future__ import annotations

import json
from typing import Any

from .checks import is_http_url, is_media_url
from .contract import (
    FIELDS,
    ITEM_FIELDS,
    MODELS,
    OUTPUT_FILE_NAME,
    PROVIDER_FIELDS,
    SCRIPT_MAX_CHARS,
    TTS_PROVIDERS,
    VOICE_SETTING,
)
from .errors import GenerationFailure, Problems, bad_request
from .options import check_options, check_segments
from .spec import Item, Spec


def validate(body: Any) -> Spec:
    """The body as a ``Spec``, or the 400 that lists everything wrong with it."""
    problems = Problems()
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    problems.unknown(body, FIELDS, "")
    model = body.get("model")
    if model is None:
        problems.add("model should not be empty")
    elif model not in MODELS:
        problems.add(f"model must be one of the following values: {', '.join(MODELS)}")
    model_ok = model if model in MODELS else None
    raw_input = body.get("input")
    items: list[Item] = []
    if not isinstance(raw_input, list) or not raw_input:
        problems.add("input must be a non-empty array")
        raw_input = []
    for n, raw in enumerate(raw_input):
        item = _check_item(raw, n, problems)
        if item is not None:
            items.append(item)
    videos = [i for i in items if i.type == "video"]
    if len(videos) > 1:
        problems.add(f"input must contain exactly one video item (got {len(videos)})")
    refs = [i.ref_id for i in items if i.type != "video" and i.ref_id]
    for ref in sorted({r for r in refs if refs.count(r) > 1}):
        problems.add(f"refId {json.dumps(ref)} is used by more than one input")
    options = check_options(body.get("options"), model_ok, problems)
    segments = check_segments(body.get("segments"), items, problems)
    webhook = body.get("webhookUrl")
    if webhook is not None and not is_http_url(webhook):
        problems.add("webhookUrl must be a URL address")
    name = body.get("outputFileName")
    if name is not None and not (isinstance(name, str) and OUTPUT_FILE_NAME.fullmatch(name)):
        problems.add(
            "outputFileName must be 1-255 characters: letters, digits, underscores and hyphens "
            "only (.mp4 is added)"
        )
    problems.raise_if_any()
    assert isinstance(model, str)
    spec = Spec(
        model=model,
        items=items,
        input=list(raw_input),
        options=options,
        segments=segments,
        webhook_url=webhook,
        output_file_name=name,
    )
    spec.deferred = _deferred_failure(spec)
    return spec


def _check_item(raw: Any, n: int, problems: Problems) -> Item | None:
    where = f"input.{n}."
    if not isinstance(raw, dict):
        problems.add(f"input.{n} must be an object")
        return None
    kind = raw.get("type")
    if kind not in ITEM_FIELDS:
        problems.add(f"{where}type must be one of the following values: video, audio, text")
        return None
    problems.unknown(raw, ITEM_FIELDS[kind], where)
    item = Item(n, kind)
    ref = raw.get("refId")
    if ref is not None and not (isinstance(ref, str) and ref):
        problems.add(f"{where}refId must be a non-empty string")
    item.ref_id = ref if isinstance(ref, str) and ref else None
    if kind in ("video", "audio"):
        _check_media_source(raw, item, where, problems)
    else:
        _check_tts(raw, item, where, problems)
    return item


def _check_media_source(raw: dict[str, Any], item: Item, where: str, problems: Problems) -> None:
    """A video or audio item names its file by ``url`` or by ``assetId``, never both."""
    url, asset = raw.get("url"), raw.get("assetId")
    if url is not None and asset is not None:
        problems.add(f"{where}give either url or assetId, not both")
    elif asset is not None:
        if isinstance(asset, str) and asset.strip():
            item.asset_id = asset
        else:
            problems.add(f"{where}assetId must be a non-empty string")
    elif url is None:
        problems.add(f"{where}url should not be empty (or give assetId)")
    elif not is_media_url(url):
        problems.add(f"{where}url must be a URL address (http, https or a data: URI)")
    else:
        item.url = url


def _check_tts(raw: dict[str, Any], item: Item, where: str, problems: Problems) -> None:
    """A text item: the TTS ``provider`` with its voice and script."""
    provider = raw.get("provider")
    if not isinstance(provider, dict):
        problems.add(f"{where}provider must be an object")
        return
    pw = f"{where}provider."
    problems.unknown(provider, PROVIDER_FIELDS, pw)
    problems.one_of(provider, "name", pw, TTS_PROVIDERS)
    if provider.get("name") is None:
        problems.add(f"{pw}name should not be empty")
    for name in ("voiceId", "script"):
        value = provider.get(name)
        if not (isinstance(value, str) and value.strip()):
            problems.add(f"{pw}{name} must be a non-empty string")
    problems.number(provider, "stability", pw, VOICE_SETTING)
    problems.number(provider, "similarityBoost", pw, VOICE_SETTING)
    voice, script = provider.get("voiceId"), provider.get("script")
    item.voice_id = voice if isinstance(voice, str) else None
    item.script = script if isinstance(script, str) else None


def _deferred_failure(spec: Spec) -> GenerationFailure | None:
    """The documented generation errors that the body alone decides."""
    if spec.segments and not MODELS[spec.model].segments:
        with_segments = ", ".join(m for m, info in MODELS.items() if info.segments)
        return GenerationFailure(
            "generation_unsupported_model",
            f"{spec.model} does not support segments; models that do: {with_segments}.",
        )
    if spec.video is None:
        return GenerationFailure("generation_video_missing", "The input has no video item.")
    if not spec.audio:
        return GenerationFailure(
            "generation_audio_missing", "The input has no audio or text-to-speech item."
        )
    for item in spec.audio:
        if item.script is not None and len(item.script) > SCRIPT_MAX_CHARS:
            return GenerationFailure(
                "generation_text_length_exceeded",
                f"input.{item.index}: the script has {len(item.script)} characters; "
                f"the limit is {SCRIPT_MAX_CHARS}.",
            )
    return None
