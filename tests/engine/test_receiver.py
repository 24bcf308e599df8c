"""The webhook receiver over real sockets: requests that arrive in pieces, too big, cut short or
never finished get their status, and none stops the receiver from taking the next."""

from __future__ import annotations

import asyncio
import time

import pytest

import nbmedia as nm
from nbmedia.engine import receiver as receiver_module


def exchange(studio: nm.Studio, url: str, *pieces: bytes, eof: bool = True) -> bytes:
    """Writes `pieces` a moment apart on one connection (the Studio's loop, as in a kernel),
    then half-closes it (`eof`) and reads until the receiver closes it."""
    host, port = url.removeprefix("http://").split(":")

    async def talk() -> bytes:
        reader, writer = await asyncio.open_connection(host, int(port))
        for piece in pieces:
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.05)
        if eof and writer.can_write_eof():
            writer.write_eof()
        try:
            return await asyncio.wait_for(reader.read(), 5)
        except ConnectionResetError:  # answered and closed with our bytes unread: a reset
            return b"HTTP/1.1 000 reset\r\n\r\n"
        finally:
            writer.close()

    return studio.engine.runner.run(talk())


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def test_a_delivery_in_pieces_is_read_whole(studio: nm.Studio) -> None:
    receiver = studio.receive_webhooks()
    body = b'{"job_id": "x"}'
    head = f"POST /mercadream HTTP/1.1\r\nContent-Length: {len(body)}\r\n"
    answer = exchange(studio, receiver.url, head.encode()[:9], head.encode()[9:], b"\r\n",
                      body[:5], body[5:])  # fmt: skip
    assert status_of(answer) == 401  # whole, then refused for having no signature
    assert receiver.counts.received == 1 and "signature" in receiver.counts.refused[0]


@pytest.mark.parametrize(
    ("pieces", "status"),
    [
        ([b"POST /mercadream HTTP/1.1\r\nContent-Length: 10\r\n\r\n{}"], 400),  # cut short
        ([b"GARBAGE\r\n\r\n"], 400),  # not a request line
        ([b"POST /mercadream HTTP/1.1\r\nContent-Length: nine\r\n\r\n"], 400),
        ([b"POST /mercadream HTTP/1.1\r\nContent-Length: -5\r\n\r\n"], 400),
        ([f"POST /x HTTP/1.1\r\nContent-Length: {(1 << 20) + 1}\r\n\r\n".encode()], 413),
        # a head with no end: 413, or a reset if the close beats our read (bytes unread)
        ([b"POST /x HTTP/1.1\r\nX-Pad: " + b"a" * (1 << 17)], {413, 0}),
        ([b"PUT /mercadream HTTP/1.1\r\nContent-Length: 0\r\n\r\n"], 405),
    ],
)
def test_a_malformed_delivery_gets_its_status_and_the_next_is_taken(
    studio: nm.Studio, pieces: list[bytes], status: int | set[int]
) -> None:
    receiver = studio.receive_webhooks()
    got = status_of(exchange(studio, receiver.url, *pieces))
    assert got in status if isinstance(status, set) else got == status
    after = exchange(studio, receiver.url, b"POST /nowhere HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
    assert status_of(after) == 404  # still listening, and this one was read


def test_a_delivery_never_finished_is_answered_after_the_read_timeout(
    studio: nm.Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(receiver_module, "READ_TIMEOUT", 0.2)
    receiver = studio.receive_webhooks()
    head = b"POST /mercadream HTTP/1.1\r\nContent-Length: 10\r\n\r\n"  # then nothing
    assert status_of(exchange(studio, receiver.url, head, eof=False)) == 400
    assert receiver.counts.received == 0


def test_deliveries_share_a_connection_until_the_sender_closes_it(studio: nm.Studio) -> None:
    receiver = studio.receive_webhooks()
    one = b"POST /nowhere HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"
    last = b"POST /nowhere HTTP/1.1\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"
    answers = exchange(studio, receiver.url, one + one, last, eof=False)  # two in one packet
    assert answers.count(b"HTTP/1.1 404") == 3 and answers.count(b"Connection: keep-alive") == 2
    assert answers.endswith(b"Connection: close\r\n\r\n") and receiver.counts.received == 3


def test_an_idle_kept_connection_is_closed_after_the_read_timeout(
    studio: nm.Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(receiver_module, "READ_TIMEOUT", 0.2)
    receiver = studio.receive_webhooks()
    one = b"POST /nowhere HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"
    assert status_of(exchange(studio, receiver.url, one, eof=False)) == 404  # then closed


def test_a_kept_connection_waits_the_read_timeout_from_its_last_answer(
    studio: nm.Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The quiet timer counts from the latest answer, not the connection's first one."""
    monkeypatch.setattr(receiver_module, "READ_TIMEOUT", 0.6)
    receiver = studio.receive_webhooks()
    host, port = receiver.url.removeprefix("http://").split(":")
    one = b"POST /nowhere HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"

    async def talk() -> tuple[list[bytes], float]:
        reader, writer = await asyncio.open_connection(host, int(port))
        heads = []
        try:
            for _ in range(4):  # 0.25 s apart: the last 0.75 s after the first answer
                writer.write(one)
                heads.append(await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5))
                answered = time.monotonic()
                await asyncio.sleep(0.25)
            assert await asyncio.wait_for(reader.read(), 5) == b""  # then closed
            return heads, time.monotonic() - answered
        finally:
            writer.close()

    heads, quiet = studio.engine.runner.run(talk())
    assert [status_of(h) for h in heads] == [404] * 4
    assert 0.5 <= quiet <= 3.0 and receiver.counts.received == 4


def test_stopping_closes_the_connections_kept_for_senders(studio: nm.Studio) -> None:
    receiver = studio.receive_webhooks()
    host, port = receiver.url.removeprefix("http://").split(":")

    async def kept_then_stopped() -> bytes:
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"POST /nowhere HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)  # kept open
        await asyncio.wait_for(receiver.stop(), 2)  # not held up by the idle connection
        rest = await asyncio.wait_for(reader.read(), 2)  # closed by the receiver
        writer.close()
        return answer + rest

    answer = studio.engine.runner.run(kept_then_stopped())
    assert status_of(answer) == 404 and b"keep-alive" in answer and not receiver._open
