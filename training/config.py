"""Typed training configuration: one TOML file per family and task (training/configs/), parsed
into Pydantic models. Hyperparameters live in those files only, never as defaults in code."""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sentimentops.core.errors import InvalidInput, NotFound
from sentimentops.core.vocabulary import TASKS, Task

CONFIGS_DIR = Path(__file__).resolve().parent / "configs"
Family = Literal["tfidf_lr", "notebook", "minilm"]
FAMILIES: tuple[str, ...] = get_args(Family)
FitSplit = Literal["train", "validation"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VectorizerConfig(_Strict):
    """One TF-IDF featuriser (sklearn TfidfVectorizer's meaning for each field)."""

    analyzer: Literal["word", "char_wb"]
    ngram_range: tuple[Annotated[int, Field(ge=1, le=8)], Annotated[int, Field(ge=1, le=8)]]
    min_df: Annotated[int, Field(ge=1)]
    max_df: Annotated[float, Field(gt=0.0, le=1.0)]
    max_features: Annotated[int, Field(ge=1)] | None
    sublinear_tf: bool

    @model_validator(mode="after")
    def _ordered_range(self) -> VectorizerConfig:
        if self.ngram_range[0] > self.ngram_range[1]:
            raise ValueError(f"ngram_range must be (min, max), got {self.ngram_range}")
        return self


class ClassifierConfig(_Strict):
    """Logistic regression (liblinear, L2)."""

    C: Annotated[float, Field(gt=0.0)]
    max_iter: Annotated[int, Field(ge=1)]
    tol: Annotated[float, Field(gt=0.0)]
    # Scale features by the naive-Bayes log-count ratio before the regression (Wang & Manning,
    # 2012, "NBSVM"); binary tasks only. Folded into the exported weights, so serving is unchanged.
    nb_scale: bool


class AugmentConfig(_Strict):
    """Noise added to training texts so that small edits do not flip answers
    (training/perturb.py): each text is replaced, with probability `rate`, by a copy with one
    perturbation (typos, casing, emoji added or swapped)."""

    rate: Annotated[float, Field(ge=0.0, le=1.0)]


class DataConfig(_Strict):
    """Which data a model fits on. `reference`: the task's single bundled source (IMDB, the
    headlines); `general`: every domain of the task (training/domains.py), domain-balanced;
    `multilingual`: non-English sentiment (training/multilingual.py), sentiment only."""

    mixture: Literal["reference", "general", "multilingual"]
    # At most this many training texts from each domain (a seeded sample); None: all.
    max_train_per_domain: Annotated[int, Field(ge=1)] | None = None
    # Read the previous turn (parent comment) with the text where a source has one.
    use_context: bool = False
    # Share of training rows with a context that see it dropped: the model must also work
    # without one, as most requests come without.
    context_dropout: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    augment: AugmentConfig | None = None


REFERENCE_DATA = DataConfig(mixture="reference")


class TfidfLrConfig(_Strict):
    """The `tfidf_lr` family: word and character TF-IDF + logistic regression."""

    family: Literal["tfidf_lr"]
    task: Task
    seed: int
    # Which splits the model is fitted on; "validation" may be added once selection is done.
    fit_splits: tuple[FitSplit, ...] = Field(min_length=1)
    features: tuple[VectorizerConfig, ...] = Field(min_length=1)
    classifier: ClassifierConfig
    data: DataConfig = REFERENCE_DATA


class EncodingConfig(_Strict):
    """How texts become token ids, identically in training and in the serving runtime: [CLS] +
    head+tail-truncated tokens + [SEP] (inference/runtime/onnx_transformer.py)."""

    # Includes [CLS] and [SEP]: max_length - 2 text tokens are kept.
    max_length: Annotated[int, Field(ge=8, le=512)]
    # Tokens kept from the start of a long text; the rest of the budget comes from its end.
    head_tokens: Annotated[int, Field(ge=0)]
    # At most this many tokens of a context (the previous turn, its end kept) follow the text
    # after a [SEP]; 0: contexts are ignored.
    context_tokens: Annotated[int, Field(ge=0)] = 0
    # The text normaliser (inference/text.py) applied before tokenising, in training and in
    # the serving runtime alike; None: texts are tokenised as they are.
    normalize: Literal["norm-v1"] | None = None

    @model_validator(mode="after")
    def _head_fits(self) -> EncodingConfig:
        if self.head_tokens > self.max_length - 2:
            raise ValueError(f"head_tokens must be at most max_length - 2 ({self.max_length - 2})")
        if self.context_tokens > self.max_length - 8:
            raise ValueError("context_tokens must leave the text at least 5 tokens")
        return self


class OptimConfig(_Strict):
    """AdamW with linear warm-up then linear decay to zero; gradient-norm clipping."""

    epochs: Annotated[int, Field(ge=1)]
    batch_size: Annotated[int, Field(ge=1)]
    learning_rate: Annotated[float, Field(gt=0.0)]
    weight_decay: Annotated[float, Field(ge=0.0)]
    # Share of all steps spent warming up; 0 disables warm-up.
    warmup_ratio: Annotated[float, Field(ge=0.0, lt=1.0)]
    # Linear decay after warm-up when true, a constant rate when false.
    decay: bool
    max_grad_norm: Annotated[float, Field(gt=0.0)]
    # bf16 autocast on CUDA only; CPU always trains in fp32.
    cuda_precision: Literal["fp32", "bf16"]
    # A checkpoint (model, optimiser, RNG, step) is written every N optimiser steps.
    checkpoint_every_steps: Annotated[int, Field(ge=1)]
    eval_batch_size: Annotated[int, Field(ge=1)]


class ExportConfig(_Strict):
    """ONNX export and its acceptance test."""

    opset: Annotated[int, Field(ge=14, le=21)]
    # Also write a dynamic int8 model (per-channel weights) and serve it when it agrees.
    quantize_int8: bool
    # Minimum share of validation texts on which the served ONNX model and PyTorch agree.
    min_agreement: Annotated[float, Field(gt=0.0, le=1.0)]
    # At most this many validation texts (a seeded sample) measure the agreement.
    agreement_samples: Annotated[int, Field(ge=1)]
    # Mixed precision when plain int8 disagrees too often: keep up to this many of the weight
    # matrices most sensitive to quantisation in fp32, ranked on this many training texts (the
    # least sure of a seeded pool eight times as large; never the validation texts that then
    # judge the result). 0: off.
    int8_max_fp32_nodes: Annotated[int, Field(ge=0, le=64)] = 0
    int8_calibration_samples: Annotated[int, Field(ge=0, le=20_000)] = 0


class MinilmModelConfig(_Strict):
    """all-MiniLM-L6-v2 encoder, masked mean pooling, dropout, one linear layer."""

    dropout: Annotated[float, Field(ge=0.0, lt=1.0)]


class MinilmConfig(_Strict):
    """The `minilm` family: all-MiniLM-L6-v2 fine-tuned with a classification head."""

    family: Literal["minilm"]
    task: Task
    seed: int
    fit_splits: tuple[FitSplit, ...] = Field(min_length=1)
    encoding: EncodingConfig
    model: MinilmModelConfig
    optim: OptimConfig
    export: ExportConfig
    data: DataConfig = REFERENCE_DATA


class VocabularyConfig(_Strict):
    """Word-level vocabulary built on the training texts (lower-cased, punctuation split)."""

    size: Annotated[int, Field(ge=10)]
    min_frequency: Annotated[int, Field(ge=1)]


class DenseConfig(_Strict):
    """Embedding → masked mean → dense ReLU → logits (the notebook's first model)."""

    embedding_dim: Annotated[int, Field(ge=1)]
    hidden: Annotated[int, Field(ge=1)]
    optim: OptimConfig


class CnnConfig(_Strict):
    """Embedding → 1-D convolution (same padding) → masked max pool → dense ReLU → logits."""

    embedding_dim: Annotated[int, Field(ge=1)]
    filters: Annotated[int, Field(ge=1)]
    kernel_size: Annotated[int, Field(ge=1)]
    hidden: Annotated[int, Field(ge=1)]
    optim: OptimConfig


class BilstmConfig(_Strict):
    """Embedding → bidirectional LSTM (final states) → dense ReLU → logits."""

    embedding_dim: Annotated[int, Field(ge=1)]
    lstm_units: Annotated[int, Field(ge=1)]
    hidden: Annotated[int, Field(ge=1)]
    optim: OptimConfig


class NotebookConfig(_Strict):
    """The `notebook` family: the original notebook's dense, CNN and BiLSTM models in PyTorch.
    `architecture` picks one; every architecture's settings (its optimiser included: the
    three need different rates and epochs) live in the file, so that a benchmark switches
    architecture without restating hyperparameters."""

    family: Literal["notebook"]
    task: Task
    seed: int
    fit_splits: tuple[FitSplit, ...] = Field(min_length=1)
    architecture: Literal["dense", "cnn", "bilstm"]
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)]
    vocabulary: VocabularyConfig
    encoding: EncodingConfig
    dense: DenseConfig
    cnn: CnnConfig
    bilstm: BilstmConfig
    export: ExportConfig
    data: DataConfig = REFERENCE_DATA

    @property
    def optim(self) -> OptimConfig:
        """The optimiser settings of the selected architecture."""
        return getattr(self, self.architecture).optim  # type: ignore[no-any-return]


TrainingConfig = TfidfLrConfig | MinilmConfig | NotebookConfig
TorchConfig = MinilmConfig | NotebookConfig
_CONFIG_TYPES: dict[str, type[TfidfLrConfig] | type[MinilmConfig] | type[NotebookConfig]] = {
    "tfidf_lr": TfidfLrConfig,
    "minilm": MinilmConfig,
    "notebook": NotebookConfig,
}


def default_config_path(task: str, family: str) -> Path:
    """training/configs/<family>_<task>.toml."""
    return CONFIGS_DIR / f"{family}_{task}.toml"


def load_config(path: Path) -> TrainingConfig:
    """Parse and validate a config file; errors name the file and the bad fields."""
    if not path.is_file():
        raise NotFound(f"config file {path} does not exist")
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"config file {path} is not valid TOML: {exc}") from exc
    return load_config_data(raw, source=f"config file {path}")


def load_config_data(raw: dict[str, Any], *, source: str) -> TrainingConfig:
    """Validate a parsed config (a TOML file's or a fit bundle's); errors name `source`."""
    family = raw.get("family")
    if family not in FAMILIES:
        raise InvalidInput(
            f"{source}: unknown family {family!r}; expected one of {', '.join(FAMILIES)}"
        )
    if raw.get("task") not in TASKS:
        raise InvalidInput(
            f"{source}: unknown task {raw.get('task')!r}; expected one of {', '.join(TASKS)}"
        )
    try:
        return _CONFIG_TYPES[family].model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInput(f"{source} is invalid: {problems}") from exc


def config_hash(config: TrainingConfig) -> str:
    """SHA-256 of the config's canonical JSON (independent of TOML formatting)."""
    canonical = json.dumps(config.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


# A config override's value: TOML's scalar types (a table or an array stays as the file has it).
OverrideValue = float | int | str | bool
# Keys that name what a config is, not how it trains: a run of another family or task is another
# config file, never an override.
_FIXED_KEYS = frozenset({"family", "task"})


def _override_path(config: TrainingConfig, key: str) -> list[str]:
    """The path of `key` in the config's data. The notebook family keeps one optimiser per
    architecture: there "optim.*" means the selected architecture's (what `config.optim` reads)."""
    parts = key.split(".")
    if isinstance(config, NotebookConfig) and parts[0] == "optim":
        return [config.architecture, *parts]
    return parts


def _check_type(key: str, current: Any, value: OverrideValue) -> None:
    """The override keeps the setting's kind: a flag stays a flag, a count a whole number (an
    unset optional setting takes any scalar; the model's validation then decides)."""
    if current is None:
        return
    if isinstance(current, bool) or isinstance(value, bool):
        ok = isinstance(current, bool) and isinstance(value, bool)
    elif isinstance(current, int):
        ok = isinstance(value, int)
    elif isinstance(current, float):
        ok = isinstance(value, int | float)
    elif isinstance(current, str):
        ok = isinstance(value, str)
    else:
        raise InvalidInput(f"config key {key!r} is a list; it cannot be overridden")
    if not ok:
        kind = _KINDS[type(current)]
        raise InvalidInput(f"config key {key!r} takes {kind}, not {value!r}")


_KINDS = {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}


def apply_overrides(
    config: TrainingConfig, overrides: Mapping[str, OverrideValue]
) -> TrainingConfig:
    """`config` with dotted keys set to new values ({"optim.learning_rate": 2.5e-5}), validated
    like a config file: an unknown key, a value of another kind or one out of range is
    InvalidInput naming the key. Only settings the config has can change (not `family` or
    `task`, not whole tables or lists); list items are addressed by index
    ("features.0.min_df")."""
    if not overrides:
        return config
    raw: dict[str, Any] = config.model_dump(mode="json")
    for key, value in overrides.items():
        if key in _FIXED_KEYS:
            raise InvalidInput(f"config key {key!r} cannot be overridden (choose another config)")
        *parents, leaf = _override_path(config, key)
        holder: Any = raw
        walked: list[str] = []
        for part in parents:
            walked.append(part)
            holder = _child(holder, part)
            if holder is None:
                raise InvalidInput(
                    f"config key {key!r}: {'.'.join(walked)} is not set in the "
                    f"{config.family} config, so {leaf!r} cannot be overridden"
                )
            if not isinstance(holder, dict | list):
                raise InvalidInput(f"unknown config key {key!r} for the {config.family} family")
        if not _has(holder, leaf):
            raise InvalidInput(f"unknown config key {key!r} for the {config.family} family")
        current = holder[int(leaf)] if isinstance(holder, list) else holder[leaf]
        if isinstance(current, dict):
            raise InvalidInput(f"config key {key!r} names a table; override its settings instead")
        _check_type(key, current, value)
        if isinstance(holder, list):
            holder[int(leaf)] = value
        else:
            holder[leaf] = value
    return load_config_data(raw, source=f"the {config.family} config with overrides")


def _has(holder: dict[str, Any] | list[Any], part: str) -> bool:
    if isinstance(holder, list):
        return part.isdigit() and int(part) < len(holder)
    return part in holder


def _child(holder: Any, part: str) -> Any:
    if not isinstance(holder, dict | list) or not _has(holder, part):
        return _MISSING
    return holder[int(part)] if isinstance(holder, list) else holder[part]


_MISSING = object()
