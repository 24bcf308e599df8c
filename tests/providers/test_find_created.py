"""`find_created` over real HTTP against the sandbox: a create whose answer was lost is found,
told apart from an identical earlier one, and a create that never arrived is not invented.

Direct provider clients (no Studio); each test has a sandbox account of its own.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest

from nbmedia.errors import ProviderError, TransportError
from nbmedia.models import Job
from nbmedia.providers.base import Capability, Provider, Unsupported
from tests.conftest import provider_client

pytestmark = pytest.mark.timeout(120)

TEXT = "The answer to this create is lost on the way back."


@dataclass
class Case:
    kind: str
    fields: dict[str, Any]
    path: str
    """What the sandbox's faults match (the create's path under the provider's mount)."""
    other: dict[str, Any] = field(default_factory=dict)
    """The same prompt with another field changed: never taken for the lost create."""


CASES = {
    "mercadream": Case(
        "speech",
        {"text": TEXT, "format": "wav", "speed": 1.25},
        "/mercadream/v2/speech",
        {"speed": 1.5},
    ),
    "meshapi": Case(
        "video",
        {"prompt": TEXT, "duration": 4, "ratio": "1:1"},
        "/meshapi/v1/video/generations",
        {"duration": 5},
    ),
    "syncso": Case(
        "lipsync",
        {
            # unreachable on the sandbox (offline): the generation is made, then REJECTED
            "video": "https://example.com/talk.mp4",
            "text": TEXT,
            "voice_id": "21m00Tcm4TlvDq8ikWAM",
            "sync_mode": "loop",
        },
        "/syncso/v2/generate",
        {"sync_mode": "bounce"},
    ),
}


def prepare(p: Provider, case: Case, **changes: Any) -> tuple[Job, Any]:
    request = p.make_request(case.kind, {**case.fields, **changes})
    job = Job(provider=p.name, kind=case.kind, request=request.wire(), local_id=uuid.uuid4().hex)
    return job, request


async def newest_id(p: Provider) -> str:
    rows = await p.list_jobs()
    return rows[0]["id"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_lost_answer_found_and_told_apart_from_the_same_prompt(sandbox, name) -> None:
    case = CASES[name]
    p = provider_client(sandbox, name, max_retries=0)  # no idempotent re-send for sync.so
    assert p.has(Capability.FIND_CREATED)
    sandbox.faults.fail_next_jobs(3)  # nothing to render: matching does not need outputs

    async def main() -> None:
        first, request = prepare(p, case)
        await p.submit(first, request)
        assert first.id

        sandbox.faults.drop_after_receive_next(1, path=case.path)
        lost, request = prepare(p, case)  # the same prompt and fields
        with pytest.raises(TransportError) as info:
            await p.submit(lost, request)
        assert info.value.may_have_reached_server and lost.id is None
        made = await newest_id(p)  # a fresh account: its newest job is the one just made
        assert made != first.id

        found = await p.find_created(lost, claimed={first.id})
        assert found is lost and lost.id == made

        # the other way round: the first row's job, when the lost one is claimed
        # (the same request: Mesh API requests carry the seed the client drew for them)
        again = Job(p.name, case.kind, request=first.request, local_id=uuid.uuid4().hex)
        again.created_at = first.created_at
        assert (await p.find_created(again, claimed={made})).id == first.id
        # everything claimed: nothing left to take
        spare = Job(p.name, case.kind, request=first.request, local_id=uuid.uuid4().hex)
        assert await p.find_created(spare, claimed={first.id, made}) is None
        # the same prompt with another field: never matched on the prompt alone
        other, _ = prepare(p, case, **case.other)
        assert await p.find_created(other, claimed=()) is None
        await p.api.aclose()

    asyncio.run(main())


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_create_that_never_arrived_is_not_found(sandbox, name) -> None:
    case = CASES[name]
    p = provider_client(sandbox, name, max_retries=0)
    sandbox.faults.fail_next_jobs(1)

    async def main() -> None:
        earlier, request = prepare(p, case)
        await p.submit(earlier, request)
        sandbox.faults.rate_limit_next(1, retry_after=1, path=case.path)  # rejected unprocessed
        never, request = prepare(p, case)
        with pytest.raises(ProviderError) as info:
            await p.submit(never, request)
        assert info.value.http_status == 429
        assert await p.find_created(never, claimed={earlier.id}) is None
        assert never.id is None
        await p.api.aclose()

    asyncio.run(main())


def test_a_job_from_before_the_window_is_not_taken(sandbox) -> None:
    import datetime as dt

    case = CASES["mercadream"]
    p = provider_client(sandbox, "mercadream")
    sandbox.faults.fail_next_jobs(1)

    async def main() -> None:
        old, request = prepare(p, case)
        await p.submit(old, request)
        later, _ = prepare(p, case)
        later.created_at = old.created_at + dt.timedelta(minutes=5)  # recorded long after
        assert await p.find_created(later, claimed=()) is None
        await p.api.aclose()

    asyncio.run(main())


@pytest.mark.parametrize("name", ["vimmerse", "viddyscribe"])
def test_providers_without_a_list_say_so(sandbox, name) -> None:
    p = provider_client(sandbox, name)
    assert not p.has(Capability.FIND_CREATED)
    job = Job(provider=name, kind=next(iter(p.requests)), local_id="x")
    with pytest.raises(Unsupported):
        asyncio.run(p.find_created(job, claimed=()))
