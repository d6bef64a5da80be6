"""Routed serving artifacts (inference/runtime/routed.py): one version made of real ONNX
components, each text answered by the one that can read it, with lingua detecting languages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sentimentops.core.errors import InvalidInput
from sentimentops.inference.artifacts import load_scorer
from sentimentops.inference.runtime import routed
from sentimentops.inference.runtime.routed import RoutedModel
from sentimentops.inference.slots import smoke_test
from tests.inference.factories import (
    ROUTED_MIN_WORDS,
    ROUTED_STRENGTHS,
    edit_manifest,
    make_routed_artifact,
    routed_manifest,
)

COMPONENTS = {name: name for name in ROUTED_STRENGTHS}
SHORT_ENGLISH = "the film was good"
LONG_ENGLISH = "i have read the book and it was a good thing in the end ok"  # 15 words
SPANISH = "La película es maravillosa y muy emotiva, me encanta good"
GERMAN = "Der Film ist wirklich wunderbar und sehr bewegend, good"
LONG_SPANISH = (
    "El libro es largo pero la historia me ha gustado mucho desde el principio hasta el final "
    "y lo recomiendo a todos mis amigos good"
)
AMBIGUOUS = "lol good"  # too short to detect: stays on the default


def _sigmoid(x: float) -> float:
    return float(1 / (1 + np.exp(-x)))


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> RoutedModel:
    scorer = load_scorer(make_routed_artifact(tmp_path_factory.mktemp("routed")))
    assert isinstance(scorer, RoutedModel)
    return scorer


def test_each_text_goes_to_the_component_that_reads_it(model: RoutedModel) -> None:
    texts = [SHORT_ENGLISH, LONG_ENGLISH, SPANISH, GERMAN, LONG_SPANISH, AMBIGUOUS]
    scored = model.score(texts)
    assert scored.routes == [
        "general",
        "long_reviews",
        "multilingual",
        "multilingual",
        "multilingual",
        "general",
    ]
    assert scored.languages == ["en", "en", "es", "de", "es", None]
    assert scored.in_domain.tolist() == [True] * len(texts)
    # Each answer is that component's own: one "good" read at its strength.
    expected = [ROUTED_STRENGTHS[route] for route in scored.routes]
    np.testing.assert_allclose(scored.probabilities[:, 1], [_sigmoid(s) for s in expected])
    np.testing.assert_allclose(model.predict_proba(texts), scored.probabilities)
    assert len(scored) == len(texts)


def test_long_texts_start_at_min_words(model: RoutedModel) -> None:
    just_long = " ".join(["good"] + ["the"] * (ROUTED_MIN_WORDS - 1))
    just_short = " ".join(["good"] + ["the"] * (ROUTED_MIN_WORDS - 2))
    assert model.score([just_long, just_short]).routes == ["long_reviews", "general"]


def test_contexts_reach_the_components_in_order(model: RoutedModel) -> None:
    texts = [SPANISH, SHORT_ENGLISH, GERMAN]
    scored = model.score(texts, ["parent one", None, "parent three"])
    # The components ignore contexts (context_tokens 0); the split keeps texts in place.
    np.testing.assert_allclose(scored.probabilities, model.score(texts).probabilities)
    assert scored.routes == ["multilingual", "general", "multilingual"]


def test_a_version_without_a_language_component_marks_foreign_texts(tmp_path: Path) -> None:
    languages = {**routed_manifest()["languages"], "component": None}
    components = {"general": "general", "long_reviews": "long_reviews"}
    model = load_scorer(make_routed_artifact(tmp_path, languages=languages, components=components))
    scored = model.score([SPANISH, SHORT_ENGLISH, GERMAN, AMBIGUOUS])
    assert scored.routes == ["general"] * 4
    assert scored.languages == ["es", "en", "de", None]
    assert scored.in_domain.tolist() == [False, True, False, True]
    assert scored.probabilities[0, 1] == pytest.approx(_sigmoid(ROUTED_STRENGTHS["general"]))


def test_low_confidence_detection_stays_on_the_default(tmp_path: Path) -> None:
    languages = {**routed_manifest()["languages"], "min_confidence": 1.0}
    model = load_scorer(make_routed_artifact(tmp_path, languages=languages))
    scored = model.score([SPANISH, GERMAN])
    assert scored.routes == ["general", "general"]
    assert scored.in_domain.tolist() == [True, True]


def test_without_rules_every_text_goes_to_the_default(tmp_path: Path) -> None:
    model = load_scorer(make_routed_artifact(tmp_path, long_texts=None, languages=None))
    scored = model.score([SPANISH, LONG_ENGLISH])
    assert scored.routes == ["general", "general"]
    assert scored.languages == [None, None]


def test_routed_model_passes_the_serving_smoke_test(model: RoutedModel) -> None:
    smoke_test(model)
    assert model.labels == ("negative", "positive")
    weights = dict(model.explain("the film was wonderful", max_tokens=10))
    assert max(weights, key=lambda w: weights[w]) == "wonderful"
    assert len(model.score([])) == 0


def _write(directory: Path, manifest: dict[str, Any]) -> None:
    (directory / "model.json").write_text(json.dumps({"format": routed.FORMAT, **manifest}))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"default": "missing"}, "unknown components"),
        ({"long_texts": {"component": "huge", "min_words": 5}}, "unknown components"),
        ({"components": {"general": "general", "long_reviews": "long_reviews"}},
         "unknown components"),  # the language rule names "multilingual"
        ({"components": {**COMPONENTS, "general": "../x"}}, "invalid component"),
        ({"components": {**COMPONENTS, "../x": "general"}}, "invalid component"),
        ({"components": {**COMPONENTS, "general": "/tmp"}}, "invalid component"),
        ({"languages": {**routed_manifest()["languages"], "detector": "fasttext"}},
         "unknown language detector"),
        ({"labels": ["neg", "pos"]}, "has labels"),
        ({"long_texts": {"component": "long_reviews", "min_words": 0}}, "min_words"),
        ({"components": {}}, "components"),
    ],
)  # fmt: skip
def test_malformed_manifests_are_refused(
    tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    directory = make_routed_artifact(tmp_path)
    _write(directory, routed_manifest(**changes))
    with pytest.raises(InvalidInput, match=message):
        load_scorer(directory)


def test_a_component_with_other_labels_is_refused(tmp_path: Path) -> None:
    directory = make_routed_artifact(tmp_path)
    edit_manifest(directory / "multilingual", labels=["sad", "happy"])
    with pytest.raises(InvalidInput, match="component multilingual has labels"):
        load_scorer(directory)


def test_a_routed_artifact_cannot_nest_another(tmp_path: Path) -> None:
    directory = make_routed_artifact(tmp_path)
    inner = make_routed_artifact(directory / "nested")
    assert isinstance(load_scorer(inner), RoutedModel)
    _write(directory, routed_manifest(components={**COMPONENTS, "nested": "nested"}))
    with pytest.raises(InvalidInput, match="cannot contain another routed"):
        load_scorer(directory)


def test_a_missing_component_is_refused(tmp_path: Path) -> None:
    directory = make_routed_artifact(tmp_path)
    (directory / "long_reviews" / "model.json").unlink()
    with pytest.raises(InvalidInput, match=r"no model\.json"):
        load_scorer(directory)


def test_write_manifest_validates(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="labels"):
        routed.write_manifest(tmp_path, routed_manifest(labels=["only"]))
    directory = make_routed_artifact(tmp_path / "ok")
    written = json.loads((directory / "model.json").read_text())
    assert written["format"] == routed.FORMAT
    assert written["languages"]["component"] == "multilingual"


def test_unknown_candidate_language_is_refused(tmp_path: Path) -> None:
    directory = make_routed_artifact(tmp_path)
    _write(
        directory,
        routed_manifest(languages={**routed_manifest()["languages"], "candidates": ["en", "xx"]}),
    )
    with pytest.raises(InvalidInput):
        load_scorer(directory)
