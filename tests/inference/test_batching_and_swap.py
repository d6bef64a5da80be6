from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from sentimentops.inference.artifacts import load_scorer
from sentimentops.inference.batching import MicroBatcher
from sentimentops.inference.runtime.base import Contexts, FloatArray, Scored
from sentimentops.inference.slots import ModelSlots, ServingModel, SmokeTestFailed
from tests.inference.factories import make_onnx_artifact


class SlowEcho:
    """Scores a text as its length, slowly, recording each call's batch and contexts; a text
    is in domain when it has a context."""

    labels = ("short", "long")

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.contexts: list[list[str | None]] = []
        self.lock = threading.Lock()

    def predict_proba(self, texts: Sequence[str], contexts: Contexts = None) -> FloatArray:
        with self.lock:
            self.calls.append(list(texts))
            self.contexts.append(list(contexts) if contexts is not None else [None] * len(texts))
        time.sleep(0.02)
        p = np.array([min(len(t), 100) / 100 for t in texts], dtype=np.float64)
        return np.stack([1 - p, p], axis=1)

    def score(self, texts: Sequence[str], contexts: Contexts = None) -> Scored:
        given = list(contexts) if contexts is not None else [None] * len(texts)
        in_domain = np.array([c is not None for c in given], dtype=bool)
        return Scored.single(self.predict_proba(texts, contexts), in_domain)

    def explain(self, text: str, *, max_tokens: int) -> list[tuple[str, float]]:
        return []


async def test_concurrent_requests_share_batches_and_get_their_own_results() -> None:
    model = SlowEcho()
    sizes: list[int] = []
    batcher = MicroBatcher(
        model.score, n_labels=2, max_batch=64, max_wait_ms=5, on_batch=sizes.append
    )
    texts = [f"{'x' * i}" for i in range(1, 41)]
    results = await asyncio.gather(*(batcher.score([t]) for t in texts))
    for text, scored in zip(texts, results, strict=True):
        assert scored.probabilities.shape == (1, 2)
        assert scored.probabilities[0, 1] == pytest.approx(len(text) / 100)
        assert scored.routes == ["main"]
        assert scored.languages == [None]
    assert len(model.calls) < len(texts)  # batched, not one call per request
    assert max(sizes) > 1
    await batcher.close()


async def test_idle_request_is_scored_immediately() -> None:
    model = SlowEcho()
    batcher = MicroBatcher(model.score, n_labels=2, max_batch=32, max_wait_ms=500)
    started = time.perf_counter()
    await batcher.score(["alone"])
    assert time.perf_counter() - started < 0.4  # did not wait for max_wait_ms
    await batcher.close()


async def test_batches_are_grouped_by_length() -> None:
    model = SlowEcho()
    batcher = MicroBatcher(model.score, n_labels=2, max_batch=4)
    texts = ["a" * n for n in (50, 1, 40, 2, 30, 3, 20, 4)]
    scored = await batcher.score(texts)
    assert np.allclose(scored.probabilities[:, 1], [len(t) / 100 for t in texts])
    assert [len(c) for c in model.calls] == [4, 4]
    assert sorted(len(t) for t in model.calls[0]) == [1, 2, 3, 4]
    await batcher.close()


async def test_contexts_travel_with_their_texts_through_a_batch() -> None:
    model = SlowEcho()
    batcher = MicroBatcher(model.score, n_labels=2, max_batch=3, max_wait_ms=20)
    first = ["b" * n for n in (40, 2, 30, 5)]
    first_contexts = [f"parent of {len(t)}" for t in first]
    second = ["c" * n for n in (1, 35)]
    one, two = await asyncio.gather(
        batcher.score(first, first_contexts), batcher.score(second, [None, "parent of 35"])
    )
    # Sorting by length inside the batch never separates a text from its context.
    for texts, contexts in zip(model.calls, model.contexts, strict=True):
        for text, context in zip(texts, contexts, strict=True):
            assert context in (None, f"parent of {len(text)}")
    assert np.allclose(one.probabilities[:, 1], [len(t) / 100 for t in first])
    assert one.in_domain.tolist() == [True] * 4
    assert np.allclose(two.probabilities[:, 1], [0.01, 0.35])
    assert two.in_domain.tolist() == [False, True]
    assert len(one) == 4
    assert len(two) == 2
    with pytest.raises(ValueError, match="2 texts but 1 contexts"):
        await batcher.score(["x", "y"], ["only one"])
    await batcher.close()


async def test_scoring_errors_reach_every_waiting_request() -> None:
    def broken(texts: Sequence[str], contexts: Sequence[str | None] | None) -> Scored:
        raise RuntimeError("model exploded")

    batcher = MicroBatcher(broken, n_labels=2)
    results = await asyncio.gather(
        batcher.score(["a"]), batcher.score(["b"]), return_exceptions=True
    )
    assert all(isinstance(r, RuntimeError) for r in results)
    await batcher.close()


def _serving(directory: Path, version: str, alias: str = "production") -> ServingModel:
    scorer = load_scorer(directory)
    return ServingModel(
        task="sentiment",
        name="sentiment",
        version=version,
        alias=alias,
        scorer=scorer,
        batcher=MicroBatcher(scorer.score, n_labels=len(scorer.labels)),
    )


async def test_ten_swaps_under_load_drop_nothing(tmp_path: Path) -> None:
    artifacts = [make_onnx_artifact(tmp_path / f"v{i}", strength=1.0 + i) for i in range(11)]
    slots = ModelSlots()
    await slots.install(_serving(artifacts[0], "1"))
    answered: list[str] = []
    failures: list[BaseException] = []
    stop = asyncio.Event()
    last_answered = asyncio.Event()

    async def client(n: int) -> None:
        i = 0
        while not stop.is_set():
            model = slots.route("sentiment", tenant="t", request_key=f"{n}-{i}")
            assert model is not None
            try:
                async with model.lease() as leased:
                    scored = await leased.batcher.score(["a wonderful film"])
                    assert scored.probabilities.shape == (1, 2)
                    answered.append(leased.version)
                    if leased.version == "11":
                        last_answered.set()
            except BaseException as exc:  # noqa: BLE001 - counted below
                failures.append(exc)
            i += 1

    clients = [asyncio.create_task(client(n)) for n in range(8)]
    try:
        for version in range(2, 12):
            await asyncio.sleep(0.03)
            await slots.install(_serving(artifacts[version - 1], str(version)))
        # Until the last version has answered (a loaded machine may need more than 30 ms).
        await asyncio.wait_for(last_answered.wait(), timeout=10)
    finally:
        stop.set()
        await asyncio.gather(*clients)
        await slots.close()
    assert failures == []
    assert len(answered) > 50
    assert set(answered) >= {"1", "11"}  # every response named the version that answered


async def test_corrupt_model_is_refused_and_old_one_keeps_serving(tmp_path: Path) -> None:
    slots = ModelSlots()
    await slots.install(_serving(make_onnx_artifact(tmp_path / "good"), "1"))
    bad_dir = make_onnx_artifact(tmp_path / "bad")
    (bad_dir / "model.onnx").write_bytes(b"\x00garbage")
    with pytest.raises(Exception):  # noqa: B017, PT011 - ORT raises its own error types
        _serving(bad_dir, "2")

    class Wrong(SlowEcho):
        def predict_proba(self, texts: Sequence[str], contexts: Contexts = None) -> FloatArray:
            return np.full((len(texts), 2), 0.9)

    wrong = Wrong()
    with pytest.raises(SmokeTestFailed, match="not probabilities"):
        await slots.install(
            ServingModel(
                "sentiment",
                "sentiment",
                "3",
                "production",
                wrong,
                MicroBatcher(wrong.score, n_labels=2),
            )
        )
    current = slots.get("sentiment", "production")
    assert current is not None
    assert current.version == "1"
    await slots.close()


def _routed_version(slots: ModelSlots, tenant: str, request_key: str) -> str:
    served = slots.route("sentiment", tenant=tenant, request_key=request_key)
    assert served is not None, "no model installed for sentiment"
    return served.version


async def test_canary_share_routes_a_stable_fraction_to_staging(tmp_path: Path) -> None:
    slots = ModelSlots()
    await slots.install(_serving(make_onnx_artifact(tmp_path / "p"), "1"))
    await slots.install(_serving(make_onnx_artifact(tmp_path / "s"), "2", alias="staging"))
    slots.set_canary(0.25, tenant="acme")
    picks = [_routed_version(slots, "acme", str(i)) for i in range(2000)]
    assert 0.2 < picks.count("2") / len(picks) < 0.3
    assert all(_routed_version(slots, "other", str(i)) == "1" for i in range(200))
    with pytest.raises(ValueError, match="between 0 and 1"):
        slots.set_canary(1.5)
    await slots.close()
