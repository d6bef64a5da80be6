"""The numpy serving runtime reproduces the scikit-learn pipeline exactly, from a pickle-free
artifact."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sentimentops.core.errors import InvalidInput
from sentimentops.inference.runtime.linear import LinearModel
from sentimentops.training.config import TfidfLrConfig, default_config_path, load_config
from sentimentops.training.reference_data import LABEL_NAMES
from sentimentops.training.tfidf_lr import TfidfLrModel

ODD_TEXTS = [
    "",
    "   ",
    "!!!",
    "Ｇｒｅａｔ movie<br /><br />loved it 😀",
    "zero\u200bwidth and\ttabs\nand CAPS and ünïcödé and ﬁ",
    "a",
    "word " * 300,
]


def _fit(frame: pd.DataFrame, task: str, nb_scale: bool = False) -> TfidfLrModel:
    config = load_config(default_config_path(task, "tfidf_lr"))
    assert isinstance(config, TfidfLrConfig)
    config = config.model_copy(
        update={"classifier": config.classifier.model_copy(update={"nb_scale": nb_scale})}
    )
    train = frame[frame["split"] == "train"]
    return TfidfLrModel.fit(
        config, train["text"].tolist(), train["label"].to_numpy(), LABEL_NAMES[task]
    )


@pytest.mark.parametrize("nb_scale", [False, True])
def test_runtime_matches_sklearn_on_sarcasm(
    sarcasm_sample: pd.DataFrame, tmp_path: Path, nb_scale: bool
) -> None:
    model = _fit(sarcasm_sample, "sarcasm", nb_scale)
    files = model.save(tmp_path)
    assert {p.suffix for p in files} <= {".json", ".npz"}
    runtime = LinearModel.load(tmp_path)
    texts = [*sarcasm_sample[sarcasm_sample["split"] != "train"]["text"].tolist(), *ODD_TEXTS]
    expected = model.predict_proba(texts)
    got = runtime.predict_proba(texts)
    assert got.shape == expected.shape == (len(texts), 2)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
    assert runtime.labels == ("not_sarcastic", "sarcastic")
    assert runtime.predict(texts) == [runtime.labels[i] for i in expected.argmax(axis=1)]


def test_runtime_matches_sklearn_on_long_reviews(imdb_sample: pd.DataFrame, tmp_path: Path) -> None:
    model = _fit(imdb_sample, "sentiment")
    model.save(tmp_path)
    runtime = LinearModel.load(tmp_path)
    texts = imdb_sample[imdb_sample["split"] == "test"]["text"].tolist()
    np.testing.assert_allclose(
        runtime.predict_proba(texts), model.predict_proba(texts), rtol=0, atol=1e-9
    )


def test_explain_is_exact(sarcasm_sample: pd.DataFrame, tmp_path: Path) -> None:
    _fit(sarcasm_sample, "sarcasm").save(tmp_path)
    runtime = LinearModel.load(tmp_path)
    for text in [*sarcasm_sample["text"].head(50), "area man well-made don't stop"]:
        words = runtime.explain(text, max_tokens=1000)
        logit = float(runtime.decision_function([text])[0])
        sign = 1.0 if logit >= 0 else -1.0
        total = sum(weight for _, weight in words) + sign * float(runtime.intercept[0])
        assert total == pytest.approx(sign * logit, abs=1e-9)
        assert [w for w, _ in words] == runtime._preprocess(text).split()
    assert runtime.explain("", max_tokens=5) == []
    assert len(runtime.explain("one two three four", max_tokens=2)) == 2


def test_load_refuses_tampered_artifacts(sarcasm_sample: pd.DataFrame, tmp_path: Path) -> None:
    _fit(sarcasm_sample, "sarcasm").save(tmp_path)
    manifest = json.loads((tmp_path / "model.json").read_text())

    def write(**changes: object) -> None:
        (tmp_path / "model.json").write_text(json.dumps({**manifest, **changes}))

    for bad in (
        {"format": "pickle"},
        {"arrays_file": "../../etc/passwd"},
        {"preprocess": "unknown-v9"},
        {"labels": ["a", "b", "c"]},
    ):
        write(**bad)
        with pytest.raises(InvalidInput):
            LinearModel.load(tmp_path)
    write()
    # An object array inside the .npz would need pickle: refused by allow_pickle=False.
    np.savez(tmp_path / "arrays.npz", coef=np.array([object()], dtype=object))
    with pytest.raises(InvalidInput):
        LinearModel.load(tmp_path)


def test_temperature_and_vocabulary_coverage(sarcasm_sample: pd.DataFrame, tmp_path: Path) -> None:
    _fit(sarcasm_sample, "sarcasm").save(tmp_path)
    plain = LinearModel.load(tmp_path)
    manifest = json.loads((tmp_path / "model.json").read_text())
    assert "temperature" not in manifest
    assert "ood" not in manifest
    headlines = sarcasm_sample[sarcasm_sample["split"] == "train"]["text"].head(50).tolist()
    foreign = ["Der Zug kommt heute wieder viel zu spät an", "Qué día tan maravilloso hace hoy"]
    texts = [*headlines, *foreign]
    assert plain.score(texts).in_domain.all()  # no threshold: everything is in domain

    (tmp_path / "model.json").write_text(
        json.dumps({**manifest, "temperature": 2.0, "ood": {"threshold": 0.5}})
    )
    tempered = LinearModel.load(tmp_path)
    hot, cool = plain.predict_proba(texts), tempered.predict_proba(texts)
    assert np.array_equal(hot.argmax(axis=1), cool.argmax(axis=1))
    np.testing.assert_allclose(
        cool[:, 1], 1 / (1 + np.exp(-plain.decision_function(texts) / 2.0)), rtol=1e-9
    )
    # Contexts are accepted and not read: a bag of n-grams has no place for them.
    np.testing.assert_allclose(tempered.predict_proba(texts, ["a parent"] * len(texts)), cool)

    coverage = tempered.coverage(texts)
    # The headlines it was fitted on (min_df 2 leaves out their rarest words) and two texts
    # in languages it never saw.
    assert coverage[:50].mean() > 0.7
    assert coverage[50:].max() < 0.2
    scored = tempered.score(texts)
    assert scored.in_domain.tolist() == (coverage >= 0.5).tolist()
    assert scored.in_domain[:50].mean() > 0.9
    assert not scored.in_domain[50:].any()
    assert scored.routes == ["main"] * len(texts)
    np.testing.assert_allclose(scored.probabilities, cool)
    assert tempered.coverage(["", "!!!"]).tolist() == [1.0, 1.0]  # no words: nothing unknown

    (tmp_path / "model.json").write_text(json.dumps({**manifest, "temperature": 0}))
    with pytest.raises(InvalidInput, match="temperature"):
        LinearModel.load(tmp_path)
