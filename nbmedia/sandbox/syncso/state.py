"""The state behind the routes of one sandbox: the gate, idempotency keys, generations, the
asset library and batches, sharing one creation stamp counter."""

from __future__ import annotations

import asyncio
import shutil

from ..kit.env import Env
from ..kit.stamps import Stamps
from .assets import Assets
from .batches import Batches
from .bodies import Body
from .errors import ApiError, bad_request
from .gate import Gate
from .generations import Generation, Generations
from .idempotency import Idempotency
from .inputs import fetch_inputs, new_scratch, store_uploads
from .validation import validate


class SyncSo:
    """One sandbox's sync.so: its parts, and the create flow that uses most of them."""

    def __init__(self, env: Env) -> None:
        self.env = env
        stamps = Stamps()
        self.gate = Gate(env.faults)
        self.idempotency = Idempotency()
        self.generations = Generations(env, stamps)
        self.assets = Assets(env, stamps)
        self.batches = Batches(env, stamps, self.generations)

    async def create(self, key: str, body: Body) -> Generation:
        """Validate, check credit and concurrency, store uploads, fetch inputs, create."""
        stored: list[str] = []
        try:
            if not isinstance(body.fields, dict):
                raise bad_request("the request body must be a JSON object")
            store_uploads(self.env, body, stored)
            spec = validate(body.fields)
            self.assets.resolve(key, spec)
            self.gate.check_credit_and_concurrency(key, lambda: self.generations.active(key))
        except ApiError:
            for name in stored:
                self.env.files.path(name).unlink(missing_ok=True)
            raise
        scratch = new_scratch(self.env)
        try:
            unreachable = await asyncio.to_thread(fetch_inputs, self.env, spec, scratch)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        return self.generations.create(key, spec, scratch, unreachable)
