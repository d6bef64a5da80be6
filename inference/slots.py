"""Which model version serves which task, and swapping it without dropping requests.

A `ServingModel` is immutable once installed. A request takes a lease on the model it starts
with and finishes on it even if a swap happens meanwhile; the replaced model is closed once its
last lease is returned. Installing is one reference assignment, so readers never see a
half-installed model.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from sentimentops.inference.batching import MicroBatcher
from sentimentops.inference.runtime.base import Scorer

_TaskT = TypeVar("_TaskT", bound=str)

SMOKE_TEXTS = ["a wonderful, moving film", "the worst thing i have ever read", "ok"]


class SmokeTestFailed(Exception):
    pass


@dataclass(eq=False)
class ServingModel:
    task: str
    name: str
    version: str
    alias: str
    scorer: Scorer
    batcher: MicroBatcher
    _leases: int = 0
    _idle: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def label(self) -> str:
        return f"{self.name}/{self.version}"

    @asynccontextmanager
    async def lease(self) -> AsyncIterator[ServingModel]:
        self._leases += 1
        self._idle.clear()
        try:
            yield self
        finally:
            self._leases -= 1
            if self._leases == 0:
                self._idle.set()

    async def retire(self) -> None:
        """Wait for in-flight requests on this version, then release its resources."""
        if self._leases:
            await self._idle.wait()
        await self.batcher.close()


def smoke_test(scorer: Scorer) -> None:
    """Refuse a model whose outputs are not a probability distribution over its labels."""
    try:
        probs = scorer.predict_proba(SMOKE_TEXTS)
    except Exception as exc:
        raise SmokeTestFailed(f"scoring failed: {exc}") from exc
    if probs.shape != (len(SMOKE_TEXTS), len(scorer.labels)):
        raise SmokeTestFailed(
            f"output shape {probs.shape}, expected ({len(SMOKE_TEXTS)}, {len(scorer.labels)})"
        )
    if not np.all(np.isfinite(probs)) or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-4):
        raise SmokeTestFailed("outputs are not probabilities")


def canary_bucket(tenant: str, request_key: str) -> float:
    """A stable number in [0, 1) per tenant and request key, for the canary split."""
    digest = hashlib.sha256(f"{tenant}\x00{request_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class ModelSlots:
    """The installed models per task and alias, and the canary share per tenant."""

    def __init__(self) -> None:
        self._models: dict[tuple[str, str], ServingModel] = {}
        # (tenant, task) → share to staging; "*" stands for every tenant or every task.
        self._canary: dict[tuple[str, str], float] = {}
        self._lock = asyncio.Lock()
        # Strong references: the event loop keeps only weak ones to tasks.
        self._retiring: set[asyncio.Task[None]] = set()

    def get(self, task: str, alias: str) -> ServingModel | None:
        return self._models.get((task, alias))

    def tasks_ready(self) -> dict[str, bool]:
        return {task: self.get(task, "production") is not None for task in self.tasks()}

    def tasks(self) -> set[str]:
        return {task for task, _ in self._models}

    def set_canary(self, share: float, tenant: str = "*", task: str = "*") -> None:
        if not 0.0 <= share <= 1.0:
            raise ValueError("canary share must be between 0 and 1")
        self._canary[(tenant, task)] = share

    def canary_share(self, tenant: str, task: str = "*") -> float:
        for key in ((tenant, task), (tenant, "*"), ("*", task), ("*", "*")):
            if key in self._canary:
                return self._canary[key]
        return 0.0

    def canary_shares(self, tenant: str, tasks: Iterable[_TaskT]) -> dict[_TaskT, float]:
        """The tenant's share per task: set_canary stores shares per task, so no single number
        describes a canary of one task."""
        return {task: self.canary_share(tenant, task) for task in tasks}

    def route(self, task: str, *, tenant: str, request_key: str) -> ServingModel | None:
        """The model that answers this request: staging for the tenant's canary share."""
        production = self.get(task, "production")
        staging = self.get(task, "staging")
        share = self.canary_share(tenant, task)
        if staging is not None and share > 0 and canary_bucket(tenant, request_key) < share:
            return staging
        return production or staging

    async def install(self, model: ServingModel) -> ServingModel | None:
        """Smoke-test and install; returns the model it replaced (already retiring)."""
        smoke_test(model.scorer)
        model.batcher.start()
        async with self._lock:
            previous = self._models.get((model.task, model.alias))
            self._models[(model.task, model.alias)] = model
        if previous is not None and previous is not model:
            task = asyncio.get_running_loop().create_task(previous.retire())
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)
        return previous

    async def close(self) -> None:
        if self._retiring:
            await asyncio.gather(*self._retiring)
        for model in list(self._models.values()):
            await model.retire()
        self._models.clear()
