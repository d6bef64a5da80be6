"""The yardstick of benchmarks/scoring_side_by_side.py: the smallest honest FastAPI + ONNX Runtime
scoring app. No authentication, no batching, no logging, no prediction log: one text in, the
same runtime class as the platform scores it on the request's thread, one answer out.

    .venv/bin/python benchmarks/minimal_app.py MODEL_DIR PORT
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

from sentimentops.inference.runtime.onnx_transformer import OnnxTransformer


class TextIn(BaseModel):
    text: str


class ScoreOut(BaseModel):
    label: str
    probability: float


def build(model_dir: Path) -> FastAPI:
    model = OnnxTransformer(model_dir)
    app = FastAPI()

    @app.post("/score")
    def score(body: TextIn) -> ScoreOut:  # a plain def: FastAPI runs it in its thread pool
        probabilities = model.predict_proba([body.text])[0]
        best = int(probabilities.argmax())
        return ScoreOut(label=model.labels[best], probability=float(probabilities[best]))

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


if __name__ == "__main__":
    uvicorn.run(
        build(Path(sys.argv[1])),
        host="127.0.0.1",
        port=int(sys.argv[2]),
        log_level="warning",
        access_log=False,
    )
