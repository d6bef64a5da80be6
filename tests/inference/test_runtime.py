from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sentimentops.core.errors import InvalidInput
from sentimentops.inference.artifacts import load_scorer
from sentimentops.inference.runtime.onnx_transformer import OnnxTransformer, head_tail
from tests.inference.factories import make_onnx_artifact


def test_onnx_runtime_scores_real_graph(tmp_path: Path) -> None:
    scorer = load_scorer(make_onnx_artifact(tmp_path))
    probs = scorer.predict_proba(["a wonderful moving film", "the worst boring book", "ok"])
    assert probs.shape == (3, 2)
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert probs[0, 1] > 0.9
    assert probs[1, 0] > 0.9
    assert probs[2, 1] == pytest.approx(0.5)
    assert scorer.labels == ("negative", "positive")


def test_head_tail_keeps_both_ends() -> None:
    ids = list(range(20))
    assert head_tail(ids, 8, 3) == [0, 1, 2, 15, 16, 17, 18, 19]
    assert head_tail(ids[:5], 8, 3) == ids[:5]
    assert head_tail(ids, 4, 10) == [0, 1, 2, 3]


def test_long_text_verdict_at_the_end_is_seen(tmp_path: Path) -> None:
    scorer = OnnxTransformer(make_onnx_artifact(tmp_path, max_length=16))
    text = " ".join(["the film"] * 300 + ["awful"])
    feeds = scorer.encode([text])
    assert feeds["input_ids"].shape == (1, 16)
    assert scorer.predict_proba([text])[0, 0] > 0.8


def test_occlusion_explanation_points_at_the_words(tmp_path: Path) -> None:
    scorer = load_scorer(make_onnx_artifact(tmp_path))
    weights = dict(scorer.explain("the film was wonderful", max_tokens=10))
    assert max(weights, key=lambda w: weights[w]) == "wonderful"
    assert weights["the"] == pytest.approx(0.0, abs=1e-6)


def test_unknown_or_broken_artifacts_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"no model\.json"):
        load_scorer(tmp_path)
    (tmp_path / "model.json").write_text('{"format": "pickle/v1"}')
    with pytest.raises(InvalidInput, match="unknown serving artifact format"):
        load_scorer(tmp_path)
    (tmp_path / "model.json").write_text("{not json")
    with pytest.raises(InvalidInput, match="not valid JSON"):
        load_scorer(tmp_path)


def test_onnx_file_must_stay_inside_the_artifact(tmp_path: Path) -> None:
    artifact = make_onnx_artifact(tmp_path / "m")
    manifest = (artifact / "model.json").read_text().replace('"model.onnx"', '"../evil.onnx"')
    (artifact / "model.json").write_text(manifest)
    with pytest.raises(ValueError, match="inside the artifact"):
        OnnxTransformer(artifact)
