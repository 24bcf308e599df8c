"""The sandbox kit and app plumbing on their own: provider discovery (packages and, until
round 2, modules), rate windows, plan markers, JSON bodies, and the render pool's stop."""

from __future__ import annotations

import threading
import time

import pytest

from nbmedia.sandbox import app
from nbmedia.sandbox.kit.bodies import NotAnObject, json_object
from nbmedia.sandbox.kit.gates import plan_for
from nbmedia.sandbox.kit.rates import RateWindows
from nbmedia.sandbox.services.renderpool import RenderPool


def test_discovery_finds_every_provider_and_no_infrastructure() -> None:
    names = sorted(m.NAME for m in app.PROVIDERS)
    assert names == ["mercadream", "meshapi", "syncso", "viddyscribe", "vimmerse"]
    packaged = {m.NAME for m in app.PROVIDERS if hasattr(m, "__path__")}
    assert {"mercadream", "meshapi", "viddyscribe", "vimmerse"} <= packaged
    assert all(callable(m.build) and callable(m.error) for m in app.PROVIDERS)


def test_rate_window_counts_then_says_how_long_to_wait() -> None:
    windows = RateWindows(window=0.5)
    assert [windows.hit("k", 2) for _ in range(2)] == [None, None]
    assert windows.hit("k", 2) == 1  # whole seconds, at least one
    assert windows.hit("other", 2) is None  # buckets are separate
    time.sleep(0.55)
    assert windows.hit("k", 2) is None  # the window slid past both


def test_plan_markers_pick_the_first_plan_named() -> None:
    markers = (("_free_", "free"), ("_regular_", "regular"))
    assert plan_for("mk_test_regular_x", markers, "pro") == "regular"
    assert plan_for("mk_test_x", markers, "pro") == "pro"


def test_json_object_tells_bad_json_from_a_non_object() -> None:
    assert json_object(b'{"a": 1}') == {"a": 1}
    with pytest.raises(NotAnObject):
        json_object(b"[1]")
    with pytest.raises(ValueError):
        json_object(b"{")


def test_render_pool_stop_drops_queued_work_and_refuses_new() -> None:
    pool = RenderPool(1)
    release = threading.Event()
    ran: list[str] = []
    pool.submit(release.wait, 5)
    pool.submit(ran.append, "queued")
    assert pool.active == 2
    threading.Timer(0.2, release.set).start()  # the running one ends while stop waits for it
    began = time.monotonic()
    pool.stop(timeout=5)
    assert time.monotonic() - began < 2
    pool.submit(ran.append, "after stop")
    assert pool.stopping and pool.active == 0
    assert ran == []  # the queued one was cancelled, and nothing starts after the stop
