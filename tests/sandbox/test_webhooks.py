"""The sandbox's webhook sender on its own: deliveries of different jobs go out concurrently (a
slow receiver delays only its own job), one job's deliveries keep their order, and the
reorder fault still swaps two of them."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from nbmedia.sandbox.services.faults import Faults
from nbmedia.sandbox.services.webhooks import Delivery, WebhookSender
from tests.conftest import wait_until

pytestmark = pytest.mark.timeout(60)

SLOW_SECONDS = 2.0


class Hooks:
    """A loopback receiver: ``/slow`` answers after ``SLOW_SECONDS``, ``/jitter`` after up to
    20 ms, anything else at once; records (path, body, arrival time) when it answers."""

    def __init__(self) -> None:
        self.got: list[tuple[str, bytes, float]] = []
        lock = threading.Lock()
        got = self.got

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                arrived = time.monotonic()
                if self.path == "/slow":
                    time.sleep(SLOW_SECONDS)
                elif self.path == "/jitter":
                    time.sleep(random.uniform(0, 0.02))
                with lock:
                    got.append((self.path, body, arrived))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # the default 5 drops concurrent connects (1 s SYN retry)

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def bodies(self, path: str) -> list[bytes]:
        return [body for p, body, _ in list(self.got) if p == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hooks() -> Iterator[Hooks]:
    h = Hooks()
    yield h
    h.close()


@pytest.fixture
def faults() -> Faults:
    return Faults()


@pytest.fixture
def sender(faults: Faults) -> Iterator[WebhookSender]:
    s = WebhookSender(faults)
    yield s
    s.close()


def delivery(url: str, job: str, n: int) -> Delivery:
    return Delivery("test", url, f"event-{n}", f"{job}:{n}".encode(), {}, key=job)


def test_a_slow_receiver_delays_only_its_own_job(hooks: Hooks, sender: WebhookSender) -> None:
    sender.send(delivery(f"{hooks.url}/slow", "slow-job", 0))
    sender.send(delivery(f"{hooks.url}/slow", "slow-job", 1))
    time.sleep(0.05)  # the slow job's first delivery is in flight
    sent = time.monotonic()
    for n in range(10):
        sender.send(delivery(f"{hooks.url}/fast", f"job-{n}", 0))
    wait_until(lambda: len(hooks.bodies("/fast")) == 10, timeout=5, what="the fast deliveries")
    arrivals = [t for p, _, t in hooks.got if p == "/fast"]
    assert max(arrivals) - sent < 0.5
    assert hooks.bodies("/slow") == []  # still sleeping on the first one
    wait_until(lambda: len(hooks.bodies("/slow")) == 2, timeout=10, what="the slow deliveries")
    assert hooks.bodies("/slow") == [b"slow-job:0", b"slow-job:1"]


def test_each_jobs_deliveries_arrive_in_order(hooks: Hooks, sender: WebhookSender) -> None:
    jobs, events = [f"job-{n}" for n in range(40)], 5
    for n in range(events):
        for job in jobs:
            sender.send(delivery(f"{hooks.url}/jitter", job, n))
    total = len(jobs) * events
    wait_until(lambda: len(hooks.bodies("/jitter")) == total, timeout=20, what="all deliveries")
    received = [body.decode().split(":") for body in hooks.bodies("/jitter")]
    for job in jobs:
        assert [int(n) for j, n in received if j == job] == list(range(events)), job
    # the receiver records a body before it answers: the sender's log settles a moment later
    wait_until(
        lambda: all(r.outcome != "pending" for r in list(sender.log)),
        timeout=5,
        what="the sender's log to settle",
    )
    assert len(sender.log) == total
    assert all(r.outcome == "delivered" and r.attempts == 1 for r in sender.log)


def test_reorder_swaps_two_deliveries_of_one_job(
    hooks: Hooks, sender: WebhookSender, faults: Faults
) -> None:
    faults.webhook_reorder = True
    sender.send(delivery(f"{hooks.url}/a", "job", 0))
    time.sleep(0.1)  # held back, waiting for the job's next delivery
    sender.send(delivery(f"{hooks.url}/a", "job", 1))
    wait_until(lambda: len(hooks.bodies("/a")) == 2, timeout=5, what="both deliveries")
    assert hooks.bodies("/a") == [b"job:1", b"job:0"]


def test_a_held_delivery_goes_out_alone_after_the_hold(
    hooks: Hooks, sender: WebhookSender, faults: Faults
) -> None:
    faults.webhook_reorder = True
    sender.send(delivery(f"{hooks.url}/a", "lonely", 0))
    wait_until(lambda: hooks.bodies("/a") == [b"lonely:0"], timeout=5, what="the delivery")


def test_close_sends_what_is_queued(hooks: Hooks, faults: Faults) -> None:
    sender = WebhookSender(faults)
    for n in range(5):
        sender.send(delivery(f"{hooks.url}/jitter", "job", n))
    sender.close()
    assert hooks.bodies("/jitter") == [f"job:{n}".encode() for n in range(5)]
