"""Dynamic micro-batching.

Requests queue up while the model is busy and are scored together on the next pass, so batches
grow with load and a request on an idle service is scored at once (no fixed wait on the hot
path). Under load an optional bounded wait (`max_wait_ms`) lets a batch fill further. Within a
pass, texts are sorted by length and cut into sub-batches, so padding stays small.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from sentimentops.inference.runtime.base import Contexts, Scored, length_sorted

ScoreFn = Callable[[Sequence[str], Contexts], Scored]


@dataclass
class _Pending:
    texts: list[str]
    contexts: list[str | None]
    future: asyncio.Future[Scored]
    enqueued: float = field(default_factory=time.perf_counter)


class BatcherClosed(Exception):
    pass


class MicroBatcher:
    """One per loaded model; the model runs on a single dedicated thread."""

    def __init__(
        self,
        score: ScoreFn,
        *,
        n_labels: int,
        max_batch: int = 32,
        max_wait_ms: float = 2.0,
        on_batch: Callable[[int], None] = lambda _size: None,
    ) -> None:
        self._score = score
        self._n_labels = n_labels
        self._max_batch = max_batch
        self._max_wait = max_wait_ms / 1000
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scorer")
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._on_batch = on_batch

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def score(self, texts: list[str], contexts: Sequence[str | None] | None = None) -> Scored:
        """Score `texts` (each with its context or None) in the next batch."""
        if self._closed:
            raise BatcherClosed("model is being unloaded")
        given: list[str | None] = list(contexts) if contexts is not None else [None] * len(texts)
        if len(given) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(given)} contexts")
        self.start()
        future: asyncio.Future[Scored] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(texts, given, future))
        return await future

    async def close(self) -> None:
        """Stop taking work, finish what is queued, release the thread."""
        self._closed = True
        if self._task is not None:
            await self._queue.join()
            self._task.cancel()
        self._executor.shutdown(wait=True)

    async def _collect(self) -> list[_Pending]:
        first = await self._queue.get()
        batch, size = [first], len(first.texts)
        while size < self._max_batch and not self._queue.empty():
            item = self._queue.get_nowait()
            batch.append(item)
            size += len(item.texts)
        if len(batch) > 1 and size < self._max_batch and self._max_wait > 0:
            # Several requests arrived together: we are under load, so a short bounded wait
            # buys a fuller batch for a small latency cost.
            deadline = time.perf_counter() + self._max_wait
            while size < self._max_batch and (remaining := deadline - time.perf_counter()) > 0:
                try:
                    item = await asyncio.wait_for(self._queue.get(), timeout=remaining)
                except TimeoutError:
                    break
                batch.append(item)
                size += len(item.texts)
        return batch

    def _score_grouped(self, texts: list[str], contexts: list[str | None]) -> Scored:
        batches = length_sorted(texts, contexts, self._max_batch)
        parts = [self._score(batch, given) for _chunk, batch, given in batches]
        order = [i for chunk, _batch, _given in batches for i in chunk]
        return Scored.concat(parts, self._n_labels).take(np.argsort(order))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._collect()
            texts = [t for item in batch for t in item.texts]
            contexts = [c for item in batch for c in item.contexts]
            self._on_batch(len(texts))
            try:
                scored = await loop.run_in_executor(
                    self._executor, self._score_grouped, texts, contexts
                )
            except Exception as exc:  # noqa: BLE001 - delivered to every waiting request
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(exc)
            else:
                offset = 0
                for item in batch:
                    n = len(item.texts)
                    if not item.future.done():
                        item.future.set_result(scored.take(range(offset, offset + n)))
                    offset += n
            finally:
                for _ in batch:
                    self._queue.task_done()
