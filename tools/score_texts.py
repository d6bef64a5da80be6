"""score_texts: classify texts with a served model version (off the request path)."""

from __future__ import annotations

import asyncio
import threading
from typing import Literal

from pydantic import BaseModel, Field

from sentimentops.core.errors import NotFound
from sentimentops.core.vocabulary import Task
from sentimentops.inference.artifacts import load_scorer
from sentimentops.inference.runtime.base import Scorer
from sentimentops.inference.watcher import fetch_artifact
from sentimentops.tools.base import ToolContext, ToolInput, ToolOutput, ToolSpec

MAX_TEXTS = 256

_scorers: dict[tuple[str, str, str], Scorer] = {}
_lock = threading.Lock()


class ScoreTextsInput(ToolInput):
    task: Task
    texts: list[str] = Field(min_length=1, max_length=MAX_TEXTS)
    alias: Literal["production", "staging", "candidate"] = "production"  # candidate: not served


class Prediction(BaseModel):
    label: str
    probability: float


class ScoreTextsOutput(ToolOutput):
    model_name: str
    version: str
    predictions: list[Prediction]


def _scorer(ctx: ToolContext, task: str, alias: str) -> tuple[str, Scorer]:
    registry = ctx.registry()
    resolved = registry.version_for_alias(task, alias)
    if resolved is None:
        raise NotFound(f"{task} has no {alias} version")
    key = (ctx.settings.resolved_mlflow_tracking_uri, task, resolved.version)
    with _lock:
        cached = _scorers.get(key)
        if cached is not None:
            return resolved.version, cached
        directory = fetch_artifact(registry, resolved, ctx.settings.data_dir / "tool-model-cache")
        scorer = load_scorer(directory)
        _scorers[key] = scorer
        return resolved.version, scorer


async def score_texts(ctx: ToolContext, params: ScoreTextsInput) -> ScoreTextsOutput:
    """Score up to 256 texts for sentiment or sarcasm with the model behind an alias
    (production by default; staging or candidate to try a new version before it serves).
    Returns the predicted label and its probability per text. Read-only; not logged as
    served traffic."""

    def work() -> ScoreTextsOutput:
        version, scorer = _scorer(ctx, params.task, params.alias)
        probabilities = scorer.predict_proba(params.texts)
        labels = scorer.labels
        return ScoreTextsOutput(
            model_name=params.task,
            version=version,
            predictions=[
                Prediction(label=labels[int(row.argmax())], probability=float(row.max()))
                for row in probabilities
            ],
        )

    return await asyncio.to_thread(work)


SPEC = ToolSpec(
    name="score_texts",
    input_model=ScoreTextsInput,
    output_model=ScoreTextsOutput,
    run=score_texts,
    timeout_seconds=300,
)
