"""``kit.stamps.Stamps``: creation stamps never tie, even for objects made in the same
millisecond from several threads, so "newest first" lists and time bounds are exact."""

from __future__ import annotations

import threading
import time

from nbmedia.sandbox.kit.stamps import Stamps


def test_stamps_strictly_increase_across_threads() -> None:
    stamps = Stamps()
    got: list[tuple[int, int]] = []
    lock = threading.Lock()

    def take() -> None:
        mine = [stamps.next() for _ in range(500)]
        with lock:
            got.extend(mine)

    before = int(time.time() * 1000)
    threads = [threading.Thread(target=take) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got.sort(key=lambda s: s[1])
    assert [seq for _, seq in got] == list(range(1, 2001))
    ms = [m for m, _ in got]
    assert all(a < b for a, b in zip(ms, ms[1:], strict=False))  # no tie, in sequence order
    assert ms[0] >= before  # wall-clock milliseconds, not a bare counter


def test_stamps_follow_the_clock_once_it_is_ahead() -> None:
    stamps = Stamps()
    first, _ = stamps.next()
    time.sleep(0.05)
    later, seq = stamps.next()
    assert later - first >= 40 and seq == 2
