from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from sentimentops.core.errors import InvalidInput
from sentimentops.inference.artifacts import load_scorer
from sentimentops.inference.runtime.onnx_transformer import OnnxTransformer, head_tail
from sentimentops.inference.runtime.ood import MahalanobisDetector
from tests.inference.factories import edit_manifest, make_onnx_artifact, token_id


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


def test_temperature_softens_probabilities_and_keeps_the_label(tmp_path: Path) -> None:
    texts = ["a wonderful moving film", "the worst boring book", "good but awful and bad"]
    plain = load_scorer(make_onnx_artifact(tmp_path / "plain", strength=2.0))
    tempered = load_scorer(make_onnx_artifact(tmp_path / "tempered", strength=2.0, temperature=4.0))
    hot, cool = plain.predict_proba(texts), tempered.predict_proba(texts)
    assert np.array_equal(hot.argmax(axis=1), cool.argmax(axis=1))
    assert np.all(cool.max(axis=1) < hot.max(axis=1))
    # Logits (0, 4) for two positive words: softmax(4 / 4) instead of softmax(4).
    assert cool[0, 1] == pytest.approx(1 / (1 + np.exp(-1.0)))
    assert hot[0, 1] == pytest.approx(1 / (1 + np.exp(-4.0)))
    np.testing.assert_allclose(tempered.score(texts).probabilities, cool)
    edit_manifest(tmp_path / "tempered", temperature=0)
    with pytest.raises(ValidationError, match="temperature"):
        OnnxTransformer(tmp_path / "tempered")


def test_context_follows_the_text_after_sep(tmp_path: Path) -> None:
    scorer = OnnxTransformer(make_onnx_artifact(tmp_path, context_tokens=4))
    cls, sep, pad = token_id("[CLS]"), token_id("[SEP]"), token_id("[PAD]")
    feeds = scorer.encode(
        ["good film", "good film", "good film"], ["i have read the worst book", None, ""]
    )
    ids = feeds["input_ids"]
    # The context keeps its last 4 tokens (the words nearest the reply), framed by [SEP].
    expected = [cls, token_id("good"), token_id("film"), sep]
    expected += [token_id(w) for w in ("read", "the", "worst", "book")] + [sep]
    assert ids[0].tolist() == expected
    assert ids[1].tolist() == [cls, token_id("good"), token_id("film"), sep] + [pad] * 5
    assert ids[2].tolist() == ids[1].tolist()  # an empty context is no context
    assert feeds["attention_mask"][1].tolist() == [1] * 4 + [0] * 5
    # The graph reads the context: a negative parent turn pulls the answer down.
    alone, replied = scorer.predict_proba(["good film"] * 2, [None, "the worst book"])
    assert replied[1] < alone[1]
    np.testing.assert_allclose(scorer.predict_proba(["good film"]), [alone])


def test_context_is_ignored_without_context_tokens(tmp_path: Path) -> None:
    scorer = OnnxTransformer(make_onnx_artifact(tmp_path))
    assert scorer.spec.context_tokens == 0
    texts = ["good film", "awful"]
    with_context = scorer.encode(texts, ["the worst book", "a wonderful film"])
    for name, value in scorer.encode(texts).items():
        np.testing.assert_array_equal(with_context[name], value)
    np.testing.assert_allclose(
        scorer.predict_proba(texts, ["the worst book", None]), scorer.predict_proba(texts)
    )


def test_context_cannot_crowd_out_the_text(tmp_path: Path) -> None:
    scorer = OnnxTransformer(make_onnx_artifact(tmp_path, max_length=16, context_tokens=6))
    text = " ".join(["the film"] * 50 + ["awful"])
    [row] = scorer.encode([text], [" ".join(["wonderful"] * 40)])["input_ids"].tolist()
    sep = token_id("[SEP]")
    assert len(row) == 16
    assert row[-8:] == [sep, *[token_id("wonderful")] * 6, sep]
    assert row[-9] == token_id("awful")  # the text's tail survives


def test_normaliser_named_in_the_manifest_runs_before_tokenising(tmp_path: Path) -> None:
    plain = OnnxTransformer(make_onnx_artifact(tmp_path / "plain"))
    normalised = OnnxTransformer(make_onnx_artifact(tmp_path / "norm", normalize="norm-v1"))
    # Cyrillic look-alikes and an elongation: unknown words until norm-v1 folds them.
    text = "а gооооd film"
    assert plain.predict_proba([text])[0, 1] == pytest.approx(0.5)
    assert normalised.predict_proba([text])[0, 1] > 0.85
    edit_manifest(tmp_path / "norm", normalize="norm-v99")
    with pytest.raises(ValueError, match="unknown text normaliser"):
        OnnxTransformer(tmp_path / "norm")


def _blobs(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    targets = rng.integers(0, 2, size=n)
    centres = np.array([[-4.0] * 8, [4.0] * 8])
    scale = np.linspace(0.5, 2.0, 8)
    return centres[targets] + rng.normal(size=(n, 8)) * scale, targets


def test_mahalanobis_detector_keeps_the_blobs_and_flags_far_points(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    train, targets = _blobs(rng, 4000)
    validation, _ = _blobs(rng, 4000)
    fresh, _ = _blobs(rng, 4000)
    detector = MahalanobisDetector.fit(train, targets, 2)
    assert detector.threshold == float("inf")  # everything is in domain until a threshold
    assert detector.means.shape == (2, 8)
    assert detector.precision.shape == (8, 8)
    detector = detector.with_threshold(validation, 0.95)
    assert detector.in_domain(validation).mean() == pytest.approx(0.95, abs=0.002)
    assert detector.in_domain(fresh).mean() == pytest.approx(0.95, abs=0.02)
    far = np.array([[0.0] * 8, [40.0] * 8, [4.0] * 7 + [-30.0]])
    assert detector.in_domain(far).tolist() == [False, False, False]
    assert detector.in_domain(np.array([[-4.0] * 8, [4.0] * 8])).tolist() == [True, True]

    detector.save(tmp_path)
    loaded = MahalanobisDetector.load(tmp_path, detector.threshold)
    np.testing.assert_allclose(loaded.distances(fresh), detector.distances(fresh))
    np.savez_compressed(tmp_path / "ood.npz", means=detector.means, precision=np.eye(3))
    with pytest.raises(ValueError, match="does not fit"):
        MahalanobisDetector.load(tmp_path, 1.0)


def test_mahalanobis_distances_are_the_quadratic_form() -> None:
    """The factored computation (precision = L Lᵀ) gives (x - m)ᵀ P (x - m), smallest over the
    class means; a precision that is not positive definite takes the direct form."""
    rng = np.random.default_rng(1)
    train, targets = _blobs(rng, 500)
    detector = MahalanobisDetector.fit(train, targets, 2)
    x = rng.normal(size=(7, 8)) * 3
    direct = np.min(
        [np.einsum("ij,jk,ik->i", x - m, detector.precision, x - m) for m in detector.means],
        axis=0,
    )
    np.testing.assert_allclose(detector.distances(x), direct, rtol=1e-9)
    indefinite = np.diag([1.0, -1.0] + [1.0] * 6)
    flat = MahalanobisDetector(detector.means, indefinite, 1.0)
    expected = np.min([np.einsum("ij,jk,ik->i", x - m, indefinite, x - m) for m in flat.means], 0)
    np.testing.assert_allclose(flat.distances(x), expected)


def _ood_manifest(threshold: float) -> dict[str, object]:
    return {"method": "mahalanobis", "file": "ood.npz", "threshold": threshold, "quantile": 0.95}


def test_detector_in_the_artifact_marks_far_texts_out_of_domain(tmp_path: Path) -> None:
    artifact = make_onnx_artifact(tmp_path, embedding=True)
    scorer = OnnxTransformer(artifact)
    usual = ["a good film", "the worst book", "i love it", "boring", "great and moving", "bad"]
    usual = usual * 20
    logits, embedding = scorer.run(usual)
    assert embedding is not None
    np.testing.assert_array_equal(embedding, logits)
    targets = logits.argmax(axis=1)
    noisy = embedding + np.random.default_rng(1).normal(scale=0.3, size=embedding.shape)
    detector = MahalanobisDetector.fit(noisy, targets, 2).with_threshold(noisy, 0.99)
    detector.save(artifact)
    edit_manifest(artifact, ood=_ood_manifest(detector.threshold))

    served = load_scorer(artifact)
    texts = ["a good film", " ".join(["good"] * 30), "the worst book"]
    scored = served.score(texts)
    assert scored.in_domain.tolist() == [True, False, True]
    assert scored.routes == ["main"] * 3
    assert scored.languages == [None] * 3
    np.testing.assert_allclose(scored.probabilities, served.predict_proba(texts))
    assert len(served.score([])) == 0


def test_detector_without_an_embedding_output_is_refused(tmp_path: Path) -> None:
    artifact = make_onnx_artifact(tmp_path)
    MahalanobisDetector(np.zeros((2, 2)), np.eye(2), 1.0).save(artifact)
    edit_manifest(artifact, ood=_ood_manifest(1.0))
    with pytest.raises(ValueError, match="graph has no embedding"):
        OnnxTransformer(artifact)
    edit_manifest(artifact, ood={**_ood_manifest(1.0), "method": "knn"})
    with pytest.raises(ValueError, match="unknown out-of-distribution detector"):
        OnnxTransformer(artifact)


def test_a_graph_with_embedding_but_no_detector_calls_everything_in_domain(
    tmp_path: Path,
) -> None:
    scorer = OnnxTransformer(make_onnx_artifact(tmp_path, embedding=True))
    scored = scorer.score([" ".join(["good"] * 30), "ok"])
    assert scored.in_domain.tolist() == [True, True]
