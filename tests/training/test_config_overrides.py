"""Config overrides (training/config.py apply_overrides): dotted keys into a family's config,
validated like the file itself, so a bad key or value is refused before anything trains."""

from __future__ import annotations

import re

import pytest

from sentimentops.core.errors import InvalidInput
from sentimentops.training.config import (
    MinilmConfig,
    NotebookConfig,
    OverrideValue,
    TfidfLrConfig,
    apply_overrides,
    config_hash,
    default_config_path,
    load_config,
)


def _minilm() -> MinilmConfig:
    config = load_config(default_config_path("sarcasm", "minilm"))
    assert isinstance(config, MinilmConfig)
    return config


def test_overrides_change_only_the_named_settings() -> None:
    base = _minilm()
    changed = apply_overrides(
        base,
        {"optim.learning_rate": 2.5e-5, "optim.epochs": 2, "data.max_train_per_domain": 2000},
    )
    assert isinstance(changed, MinilmConfig)
    assert changed.optim.learning_rate == 2.5e-5
    assert changed.optim.epochs == 2
    assert changed.data.max_train_per_domain == 2000
    # Everything else is the file's.
    assert changed.optim.batch_size == base.optim.batch_size
    assert changed.encoding == base.encoding
    assert changed.model_dump(exclude={"optim", "data"}) == base.model_dump(
        exclude={"optim", "data"}
    )
    assert config_hash(changed) != config_hash(base)


def test_no_overrides_is_the_config_itself() -> None:
    base = _minilm()
    assert apply_overrides(base, {}) is base


def test_a_whole_number_is_accepted_where_the_file_has_a_float() -> None:
    config = load_config(default_config_path("sarcasm", "tfidf_lr"))
    assert isinstance(config, TfidfLrConfig)
    changed = apply_overrides(config, {"classifier.C": 4, "features.1.min_df": 5})
    assert isinstance(changed, TfidfLrConfig)
    assert changed.classifier.C == 4.0
    assert changed.features[1].min_df == 5
    assert changed.features[0] == config.features[0]


def test_notebook_optim_means_the_selected_architectures() -> None:
    config = load_config(default_config_path("sarcasm", "notebook"))
    assert isinstance(config, NotebookConfig)
    changed = apply_overrides(config, {"optim.learning_rate": 1e-3})
    assert isinstance(changed, NotebookConfig)
    assert changed.optim.learning_rate == 1e-3
    assert getattr(changed, config.architecture).optim.learning_rate == 1e-3
    # The other architectures keep their own rates.
    others = {"dense", "cnn", "bilstm"} - {config.architecture}
    for name in others:
        assert getattr(changed, name).optim == getattr(config, name).optim


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"optim.lr": 1e-5}, "unknown config key 'optim.lr' for the minilm family"),
        ({"optimizer.learning_rate": 1e-5}, "unknown config key 'optimizer.learning_rate'"),
        ({"optim.learning_rate.x": 1}, "unknown config key 'optim.learning_rate.x'"),
        ({"optim.learning_rate": -1.0}, "optim.learning_rate: Input should be greater than 0"),
        ({"optim.epochs": 0}, "optim.epochs: Input should be greater than or equal to 1"),
        ({"optim.epochs": 1.5}, "'optim.epochs' takes a whole number, not 1.5"),
        ({"optim.decay": 1}, "'optim.decay' takes true or false, not 1"),
        ({"optim.learning_rate": "fast"}, "'optim.learning_rate' takes a number, not 'fast'"),
        ({"encoding.normalize": "norm-v9"}, "encoding.normalize: Input should be 'norm-v1'"),
        ({"optim": 1}, "'optim' names a table"),
        ({"family": "tfidf_lr"}, "'family' cannot be overridden"),
        ({"task": "sentiment"}, "'task' cannot be overridden"),
        ({"fit_splits": "train"}, "'fit_splits' is a list"),
    ],
)
def test_bad_overrides_are_refused_naming_the_key(
    overrides: dict[str, OverrideValue], message: str
) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        apply_overrides(_minilm(), overrides)


def test_a_setting_under_an_unset_table_is_refused() -> None:
    config = load_config(default_config_path("sarcasm", "tfidf_lr"))
    with pytest.raises(
        InvalidInput, match=re.escape("data.augment is not set in the tfidf_lr config")
    ):
        apply_overrides(config, {"data.augment.rate": 0.1})
    with pytest.raises(InvalidInput, match=re.escape("unknown config key 'features.2.min_df'")):
        apply_overrides(config, {"features.2.min_df": 3})
