"""Typed training configuration: one TOML file per family and task (training/configs/), parsed
into Pydantic models. Hyperparameters live in those files only, never as defaults in code."""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sentimentops.core.errors import InvalidInput, NotFound
from sentimentops.training.reference_data import TASKS, Task

CONFIGS_DIR = Path(__file__).resolve().parent / "configs"
Family = Literal["tfidf_lr"]
FAMILIES: tuple[str, ...] = ("tfidf_lr",)


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


class TfidfLrConfig(_Strict):
    """The `tfidf_lr` family: word and character TF-IDF + logistic regression."""

    family: Literal["tfidf_lr"]
    task: Task
    seed: int
    # Which splits the model is fitted on; "validation" may be added once selection is done.
    fit_splits: tuple[Literal["train", "validation"], ...] = Field(min_length=1)
    features: tuple[VectorizerConfig, ...] = Field(min_length=1)
    classifier: ClassifierConfig


TrainingConfig = TfidfLrConfig


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
    family = raw.get("family")
    if family not in FAMILIES:
        raise InvalidInput(
            f"config file {path}: unknown family {family!r}; expected one of {', '.join(FAMILIES)}"
        )
    if raw.get("task") not in TASKS:
        raise InvalidInput(
            f"config file {path}: unknown task {raw.get('task')!r}; "
            f"expected one of {', '.join(TASKS)}"
        )
    try:
        return TfidfLrConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInput(f"config file {path} is invalid: {problems}") from exc


def config_hash(config: TrainingConfig) -> str:
    """SHA-256 of the config's canonical JSON (independent of TOML formatting)."""
    canonical = json.dumps(config.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
