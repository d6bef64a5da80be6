"""The family interface and the notebook family: registry, configs, padding invariance, the
encoder matching the serving runtime, checkpoint/resume, and training through the service."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
import pytest
import torch
from tokenizers import Tokenizer

from sentimentops.core.errors import InvalidInput
from sentimentops.core.settings import Settings
from sentimentops.inference.artifacts import load_scorer
from sentimentops.inference.runtime.onnx_transformer import FORMAT, OnnxTransformer
from sentimentops.inference.text import normalize_v1
from sentimentops.training import service
from sentimentops.training.config import (
    CONFIGS_DIR,
    FAMILIES,
    AugmentConfig,
    DataConfig,
    EncodingConfig,
    MinilmConfig,
    NotebookConfig,
    OptimConfig,
    default_config_path,
    load_config,
)
from sentimentops.training.families import FitContext, FitData, get_family
from sentimentops.training.families.encoding import Encoder
from sentimentops.training.families.notebook import NotebookClassifier, build_vocabulary
from sentimentops.training.families.torch_loop import _batch_order, softmax
from sentimentops.training.families.trained import (
    TrainedTorchClassifier,
    domain_sample,
    training_inputs,
)
from tests.inference.factories import make_onnx_artifact


def _toml(table: Mapping[str, object], prefix: str = "") -> str:
    """A minimal TOML writer for config dicts (scalars, lists of scalars, nested tables); None
    (TOML has no null) leaves the key out, which means the same for optional fields."""
    lines, tables = [], []
    for key, value in table.items():
        if value is None:
            continue
        if isinstance(value, Mapping):
            tables.append(_toml(value, f"{prefix}{key}."))
        else:
            lines.append(f"{key} = {json.dumps(value)}")
    head = f"[{prefix.rstrip('.')}]\n" if prefix else ""
    return head + "\n".join(lines) + "\n\n" + "".join(tables)


def tiny_notebook(architecture: str = "dense", **optim: object) -> NotebookConfig:
    base = load_config(default_config_path("sarcasm", "notebook"))
    assert isinstance(base, NotebookConfig)
    settings = {"epochs": 1, "batch_size": 16, "checkpoint_every_steps": 1000, **optim}
    section = getattr(base, architecture)
    tuned = OptimConfig.model_validate({**section.optim.model_dump(), **settings})
    return base.model_copy(
        update={
            "architecture": architecture,
            "encoding": EncodingConfig(max_length=24, head_tokens=8),
            architecture: section.model_copy(update={"optim": tuned}),
        }
    )


def _fit_data(frame: pd.DataFrame, n_train: int, n_validation: int) -> FitData:
    train = frame[frame["split"] == "train"].head(n_train)
    validation = frame[frame["split"] == "validation"].head(n_validation)
    return FitData(
        train_texts=train["text"].tolist(),
        train_targets=train["label"].to_numpy(dtype=np.int64),
        validation_texts=validation["text"].tolist(),
        validation_targets=validation["label"].to_numpy(dtype=np.int64),
        labels=("negative", "positive"),
    )


def test_registry_covers_every_family_and_refuses_unknown_names() -> None:
    assert {get_family(name).name for name in FAMILIES} == set(FAMILIES)
    with pytest.raises(InvalidInput, match="unknown family"):
        get_family("bert")


def test_every_shipped_config_is_valid() -> None:
    files = sorted(CONFIGS_DIR.glob("*.toml"))
    assert len(files) >= 8
    for path in files:
        config = load_config(path)
        assert path.name.startswith(f"{config.family}_{config.task}")
    # The defaults are the general (every-domain) models; the single-source ones stay as
    # variants of the same family and task.
    for task, contexts in (("sentiment", False), ("sarcasm", True)):
        general = load_config(default_config_path(task, "minilm"))
        assert isinstance(general, MinilmConfig)
        assert general.data.mixture == "general"
        assert general.data.use_context is contexts
        assert (general.encoding.context_tokens > 0) is contexts
        assert general.encoding.normalize == "norm-v1"
        assert general.data.augment is not None
        assert general.export.quantize_int8
    imdb = load_config(CONFIGS_DIR / "minilm_sentiment_imdb.toml")
    assert isinstance(imdb, MinilmConfig)
    assert imdb.data.mixture == "reference"
    assert imdb.encoding.max_length == 512
    assert imdb.optim.epochs == 3
    headlines = load_config(CONFIGS_DIR / "minilm_sarcasm_headlines.toml")
    assert isinstance(headlines, MinilmConfig)
    assert headlines.data.mixture == "reference"
    assert headlines.optim.epochs == 4


def test_a_config_of_another_family_is_refused() -> None:
    with pytest.raises(InvalidInput, match="notebook config"):
        get_family("notebook").fit(
            load_config(default_config_path("sarcasm", "tfidf_lr")),
            FitData([], np.zeros(0, np.int64), [], np.zeros(0, np.int64), ("a", "b")),
            FitContext(),
        )


def test_vocabulary_is_deterministic_and_frequency_ordered() -> None:
    texts = ["b a a", "c b a", "d"] * 3
    config = tiny_notebook().vocabulary.model_copy(update={"size": 10, "min_frequency": 2})
    vocab = build_vocabulary(texts, config).get_vocab()
    assert vocab == build_vocabulary(list(reversed(texts)), config).get_vocab()
    assert [w for w, _ in sorted(vocab.items(), key=lambda kv: kv[1])] == [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "a",
        "b",
        "c",
        "d",
    ]


@pytest.mark.parametrize("architecture", ["dense", "cnn", "bilstm"])
def test_scores_do_not_depend_on_batch_padding(architecture: str) -> None:
    config = tiny_notebook(architecture)
    torch.manual_seed(0)
    module = NotebookClassifier(config, vocab_size=50, n_labels=2).eval()
    rows = [[2, 7, 8, 9, 10, 11, 3], [2, 5, 3], [2, 12, 13, 14, 3]]
    encoder = Encoder(build_vocabulary(["x"], config.vocabulary), 24, 8, 2, 3, 0)
    ids, mask = (torch.from_numpy(a) for a in encoder.pad(rows))
    with torch.no_grad():
        batched = module(ids, mask)
        for i, row in enumerate(rows):
            alone = module(torch.tensor([row]), torch.ones(1, len(row), dtype=torch.int64))
            torch.testing.assert_close(alone[0], batched[i], rtol=1e-5, atol=1e-5)


@pytest.fixture
def trained(sarcasm_sample: pd.DataFrame) -> TrainedTorchClassifier:
    model = get_family("notebook").fit(
        tiny_notebook("cnn"), _fit_data(sarcasm_sample, 256, 64), FitContext()
    )
    assert isinstance(model, TrainedTorchClassifier)
    return model


def test_export_serves_through_the_runtime_and_agrees(
    trained: TrainedTorchClassifier, sarcasm_sample: pd.DataFrame, tmp_path: Path
) -> None:
    data = _fit_data(sarcasm_sample, 0, 64)
    export = trained.export(
        tmp_path / "model",
        validation_texts=data.validation_texts,
        validation_targets=data.validation_targets,
        work_dir=tmp_path / "work",
        on_step=lambda _m: None,
    )
    assert export.metrics["export_agreement_fp32"] >= 0.995
    assert export.metrics["export_served_int8"] == 0.0
    manifest = json.loads((tmp_path / "model" / "model.json").read_text())
    assert manifest["format"] == FORMAT
    assert manifest["architecture"] == "cnn"
    scorer = load_scorer(tmp_path / "model")
    assert isinstance(scorer, OnnxTransformer)
    # The training-side encoder frames ids exactly as the runtime does, long texts included.
    texts = [*data.validation_texts[:8], " ".join(["word"] * 100) + " the end"]
    ids, mask = trained.encoder.pad(trained.encoder.ids(texts))
    feeds = scorer.encode(texts)
    np.testing.assert_array_equal(feeds["input_ids"], ids)
    np.testing.assert_array_equal(feeds["attention_mask"], mask)
    # The served probabilities are calibrated: PyTorch's logits divided by the fitted
    # temperature (log-probabilities differ from the logits by a constant per row).
    temperature = manifest["temperature"]
    assert temperature > 0
    assert export.metrics["calibration_temperature"] == temperature
    logits = np.log(trained.predict_proba(texts)) / temperature
    calibrated = np.exp(logits - logits.max(axis=1, keepdims=True))
    calibrated /= calibrated.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(scorer.predict_proba(texts), calibrated, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        softmax(scorer.run(texts)[0]), trained.predict_proba(texts), rtol=1e-4, atol=1e-5
    )
    assert "ood" not in manifest  # the notebook models have no pooled embedding to measure


def test_an_interrupted_training_resumes_to_the_same_weights(
    sarcasm_sample: pd.DataFrame, tmp_path: Path
) -> None:
    config = tiny_notebook("dense", epochs=2, checkpoint_every_steps=3)
    data = _fit_data(sarcasm_sample, 128, 8)  # 8 steps per epoch, 16 in all
    family = get_family("notebook")
    straight = family.fit(config, data, FitContext(checkpoint_dir=tmp_path / "a"))

    class Interrupted(Exception):
        pass

    def crash_at_step_11(_description: str, done: int, _total: int | None) -> None:
        if done == 11:
            raise Interrupted

    checkpoints = tmp_path / "b"
    with pytest.raises(Interrupted):
        family.fit(
            config, data, FitContext(on_progress=crash_at_step_11, checkpoint_dir=checkpoints)
        )
    assert (checkpoints / "checkpoint.pt").is_file()
    steps: list[str] = []
    resumed = family.fit(
        config, data, FitContext(on_step=steps.append, checkpoint_dir=checkpoints, resume=True)
    )
    assert isinstance(resumed, TrainedTorchClassifier)
    assert isinstance(straight, TrainedTorchClassifier)
    assert resumed.loop.resumed_at_step == 9
    assert "resuming from the checkpoint at step 9 of 16" in steps
    for name, value in straight.module.state_dict().items():
        torch.testing.assert_close(resumed.module.state_dict()[name], value, rtol=0, atol=0)
    # The finished state stays until the service has recorded the run (a crash in the export
    # resumes without retraining): resuming now trains nothing.
    again = family.fit(config, data, FitContext(checkpoint_dir=checkpoints, resume=True))
    assert isinstance(again, TrainedTorchClassifier)
    assert again.loop.resumed_at_step == 16
    for name, value in straight.module.state_dict().items():
        torch.testing.assert_close(again.module.state_dict()[name], value, rtol=0, atol=0)


def test_service_trains_and_registers_a_notebook_model(tmp_path: Path) -> None:
    settings = Settings(env="development", data_dir=tmp_path / "data")
    config = tiny_notebook("dense").model_dump(mode="json")
    config["export"]["agreement_samples"] = 300
    path = tmp_path / "notebook.toml"
    path.write_text(_toml(config))
    progress: list[tuple[int, int | None]] = []
    result = service.train(
        settings=settings,
        task="sarcasm",
        family="notebook",
        config_path=path,
        max_train_samples=256,
        max_eval_samples=200,
        on_progress=lambda _d, done, total: progress.append((done, total)),
    )
    assert progress[-1] == (16, 16)
    assert result.metrics["export_agreement_fp32"] >= 0.995
    assert 0.0 <= result.metrics["test_accuracy"] <= 1.0
    assert result.report["test"]["n"] == 200
    client = service.model_registry(settings).client
    tags = client.get_run(result.run_id).data.tags
    assert tags["sentimentops.family"] == "notebook"
    assert tags["sentimentops.max_eval_samples"] == "200"
    assert not (settings.data_dir / "checkpoints").exists() or not any(
        (settings.data_dir / "checkpoints").iterdir()
    )  # deleted once the run is recorded
    local = service.download_candidate(settings, "sarcasm", tmp_path / "served")
    scorer = load_scorer(local)
    assert scorer.predict_proba(["area man wins lottery"]).shape == (1, 2)

    # The same config on the same data, in a fresh store, reproduces the metrics (seeded,
    # deterministic on CPU; the bar is 0.1 point).
    again = service.train(
        settings=Settings(env="development", data_dir=tmp_path / "again"),
        task="sarcasm",
        family="notebook",
        config_path=path,
        max_train_samples=256,
        max_eval_samples=200,
    )
    for key in ("test_accuracy", "test_macro_f1", "test_roc_auc"):
        assert abs(again.metrics[key] - result.metrics[key]) <= 0.001, key


def test_mixed_precision_int8_keeps_the_most_sensitive_matrices_in_fp32(
    trained: TrainedTorchClassifier, sarcasm_sample: pd.DataFrame, tmp_path: Path
) -> None:
    data = _fit_data(sarcasm_sample, 256, 64)
    trained.calibration_texts = data.train_texts
    # A bar plain int8 rarely meets on a barely trained model: the search must run.
    export_config = trained.config.export.model_copy(
        update={
            "quantize_int8": True,
            "min_agreement": 1.0,
            "int8_max_fp32_nodes": 2,
            "int8_calibration_samples": 32,
        }
    )
    trained.config = trained.config.model_copy(update={"export": export_config})
    steps: list[str] = []
    export = trained.export(
        tmp_path / "model",
        validation_texts=data.validation_texts,
        validation_targets=data.validation_targets,
        work_dir=tmp_path / "work",
        on_step=steps.append,
    )
    metrics = export.metrics
    weight_nodes = {
        n.name
        for n in onnx.load(str(tmp_path / "work" / "onnx_fp32" / "model.onnx")).graph.node
        if n.op_type in ("MatMul", "Gemm")
    }
    int8_manifest = json.loads((tmp_path / "work" / "onnx_int8" / "model.json").read_text())
    kept = int8_manifest["int8_fp32_nodes"]
    assert set(kept) <= weight_nodes
    assert metrics["export_int8_fp32_nodes"] == len(kept) <= 2
    if "export_agreement_int8_plain" in metrics:  # plain int8 fell short: ranked and retried
        assert any(s.startswith("int8 sensitivity: matrix 1 of") for s in steps)
        assert metrics["export_agreement_int8"] >= metrics["export_agreement_int8_plain"]
    else:
        assert metrics["export_agreement_int8"] == 1.0
        assert kept == []
    assert metrics["export_served_int8"] == float(metrics["export_agreement_int8"] >= 1.0)


def test_encoder_frames_texts_and_contexts_exactly_as_the_runtime(tmp_path: Path) -> None:
    artifact = make_onnx_artifact(tmp_path, max_length=20, context_tokens=6, normalize="norm-v1")
    scorer = OnnxTransformer(artifact)
    encoder = Encoder(
        Tokenizer.from_file(str(artifact / "tokenizer.json")),
        max_length=20,
        head_tokens=4,
        cls_token_id=scorer.spec.cls_token_id,
        sep_token_id=scorer.spec.sep_token_id,
        pad_token_id=scorer.spec.pad_token_id,
        context_tokens=6,
        normalize="norm-v1",
    )
    assert encoder.manifest_fields()["context_tokens"] == 6
    assert encoder.manifest_fields()["normalize"] == "norm-v1"
    texts = [
        "a gooood film 😒",
        "\u0422he w\u043erst b\u043e\u043ek",  # Cyrillic look-alikes
        " ".join(["the film"] * 40 + ["awful"]),
        "ok",
        "love it (:",
    ]
    contexts = ["i have read the worst boring book ever", None, "great " * 30, "", "bad"]
    for given in (contexts, None):
        ids, mask = encoder.pad(encoder.ids(texts, given))
        feeds = scorer.encode(texts, given)
        np.testing.assert_array_equal(feeds["input_ids"], ids)
        np.testing.assert_array_equal(feeds["attention_mask"], mask)
    [with_context, without] = encoder.ids(["good"], ["the worst"]), encoder.ids(["good"])
    assert with_context[0][: len(without[0])] == without[0]
    assert len(with_context[0]) == len(without[0]) + 3  # "the", "worst", [SEP]
    assert normalize_v1(texts[1]) == "The worst book"


def test_length_bucketed_batches_cover_every_row_once() -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 500, size=5000).tolist()
    batches = _batch_order(5000, 32, seed=3, epoch=0, lengths=lengths)
    rows = np.concatenate(batches)
    assert sorted(rows.tolist()) == list(range(5000))
    windows = -(-5000 // (32 * 50))  # rows are sorted within windows of 50 batches
    assert sum(len(b) < 32 for b in batches) <= windows  # one short batch per window at most

    # Batches of similar lengths: far less padding than random batches.
    def padding(bs: list[np.ndarray]) -> int:
        return sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in bs)

    plain = _batch_order(5000, 32, seed=3, epoch=0)
    assert sorted(np.concatenate(plain).tolist()) == list(range(5000))
    assert padding(batches) < padding(plain) / 5
    # Seeded per epoch (a resumed run sees the same batches); epochs differ.
    again = _batch_order(5000, 32, seed=3, epoch=0, lengths=lengths)
    assert all(np.array_equal(a, b) for a, b in zip(batches, again, strict=True))
    other = _batch_order(5000, 32, seed=3, epoch=1, lengths=lengths)
    assert not all(np.array_equal(a, b) for a, b in zip(batches, other, strict=False))
    # The order of batches is shuffled too: not shortest-first inside each window.
    firsts = [lengths[b[0]] for b in batches[:50]]
    assert firsts != sorted(firsts)


def test_training_inputs_augment_and_drop_contexts_seeded(sarcasm_sample: pd.DataFrame) -> None:
    data = _fit_data(sarcasm_sample, 400, 8)
    contexts: list[str | None] = [f"parent {i}" for i in range(len(data.train_texts))]
    data = dataclasses.replace(data, train_contexts=contexts)
    base = tiny_notebook("dense")
    plain_texts, plain_contexts = training_inputs(base, data)
    assert plain_texts == data.train_texts
    assert plain_contexts is None  # the reference data config reads no context

    noisy = base.model_copy(
        update={
            "data": DataConfig(
                mixture="general",
                use_context=True,
                context_dropout=0.3,
                augment=AugmentConfig(rate=0.5),
            )
        }
    )
    texts, kept = training_inputs(noisy, data)
    assert (texts, kept) == training_inputs(noisy, data)
    assert kept is not None
    changed = np.mean([a != b for a, b in zip(texts, data.train_texts, strict=True)])
    assert 0.35 < changed < 0.65
    dropped = np.mean([c is None for c in kept])
    assert 0.2 < dropped < 0.4
    assert all(c is None or c == f"parent {i}" for i, c in enumerate(kept))
    # The detector's sample is the unaugmented training data, with its contexts.
    sample = domain_sample(data, seed=1)
    assert sample.texts == data.train_texts
    assert sample.contexts == contexts
    np.testing.assert_array_equal(sample.targets, data.train_targets)
