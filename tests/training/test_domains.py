"""The general training data (training/domains.py) on the bundled datasets, and the
leave-one-domain-out benchmark (benchmarks/domains.py) on a small sample of it."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from types import ModuleType

import pandas as pd
import pytest

from sentimentops.core.errors import InvalidInput
from sentimentops.core.settings import REPO_ROOT
from sentimentops.core.vocabulary import TASKS
from sentimentops.training.config import TfidfLrConfig, default_config_path, load_config
from sentimentops.training.domains import (
    balanced_training_rows,
    domains,
    load_general,
    trainable,
)
from sentimentops.training.text import normalise_key

DATASETS = REPO_ROOT / "datasets"
COLUMNS = ["id", "text", "label", "split", "domain", "context"]
# Sources whose rows are replies: each row carries the turn it answers.
WITH_CONTEXT = ("figlang_tweets", "figlang_reddit", "reddit_politics")


def _benchmark() -> ModuleType:
    # benchmarks/ holds scripts, not a package: load the file as a module. It must be in
    # sys.modules before it runs, for its dataclass to resolve its own annotations.
    name = "sentimentops_benchmark_domains"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "benchmarks" / "domains.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # As when run as a script, its own folder comes first on the path (benchmarks/machine.py).
    folder = str(REPO_ROOT / "benchmarks")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


# Module scope: the first load of a task normalises ~150,000 texts (half a minute on 2 cores);
# load_general caches it per process, the fixture keeps the tests from depending on that.
@pytest.fixture(scope="module", params=TASKS)
def general(request: pytest.FixtureRequest) -> tuple[str, pd.DataFrame]:
    task: str = request.param
    return task, load_general(task, DATASETS)


@pytest.fixture(scope="module")
def sarcasm() -> pd.DataFrame:
    return load_general("sarcasm", DATASETS)


def test_frame_shape_and_labels(general: tuple[str, pd.DataFrame]) -> None:
    task, frame = general
    assert list(frame.columns) == COLUMNS
    assert frame["label"].dtype == "int64"
    assert set(frame["split"]) == {"train", "validation", "test"}
    assert set(frame["domain"]) == {d.name for d in domains(task)}
    assert frame["id"].is_unique
    for name, rows in frame.groupby("domain"):
        # Both classes in every domain's test split, or its ROC-AUC is undefined.
        assert set(rows["label"]) == {0, 1}, name
        assert set(rows.loc[rows["split"] == "test", "label"]) == {0, 1}, name


def test_no_text_in_two_domains_or_two_splits(general: tuple[str, pd.DataFrame]) -> None:
    _task, frame = general
    # Ids are "<domain>:<sha256 of the normalised text>": unique hashes mean no normalised
    # text is in two rows, hence in two domains or two splits.
    hashes = frame["id"].str.split(":", n=1).str[1]
    assert hashes.is_unique
    # …and the ids do hash normalise_key (checked on a sample: recomputing every key of the
    # whole frame would double the module's run time).
    sample = frame.sample(n=2000, random_state=0)
    for text, row_hash in zip(sample["text"], hashes[sample.index], strict=True):
        key = normalise_key(text)
        assert key != ""
        assert hashlib.sha256(key.encode()).hexdigest()[:16] == row_hash


def test_eval_only_domains_are_test_only(general: tuple[str, pd.DataFrame]) -> None:
    task, frame = general
    eval_only = {d.name for d in domains(task) if d.eval_only}
    assert eval_only.isdisjoint(trainable(task))
    if task == "sarcasm":
        assert eval_only == {"ptacek_tweets"}
    for name in eval_only:
        assert set(frame.loc[frame["domain"] == name, "split"]) == {"test"}


def test_reply_domains_carry_their_context(sarcasm: pd.DataFrame) -> None:
    has_context = sarcasm["context"].map(lambda c: isinstance(c, str) and c.strip() != "")
    for name in WITH_CONTEXT:
        share = has_context[sarcasm["domain"] == name].mean()
        assert share > 0.9, (name, share)
    assert not has_context[sarcasm["domain"] == "headlines"].any()


def test_balanced_rows_cap_and_exclude(sarcasm: pd.DataFrame) -> None:
    rows = balanced_training_rows(
        sarcasm, splits=("train",), max_per_domain=500, seed=3, exclude=("headlines",)
    )
    expected = set(trainable("sarcasm")) - {"headlines"}
    assert set(rows["domain"]) == expected  # no excluded and no eval-only domain
    assert set(rows["split"]) == {"train"}
    available = sarcasm[sarcasm["split"] == "train"].groupby("domain").size()
    counts = rows.groupby("domain").size()
    for name in expected:
        assert counts[name] == min(500, available[name]), name
    again = balanced_training_rows(
        sarcasm, splits=("train",), max_per_domain=500, seed=3, exclude=("headlines",)
    )
    assert rows["id"].tolist() == again["id"].tolist()  # seeded and order-stable
    everything = balanced_training_rows(
        sarcasm, splits=("train", "validation"), max_per_domain=None, seed=3
    )
    trainable_rows = sarcasm["domain"].isin(trainable("sarcasm")) & (sarcasm["split"] != "test")
    assert len(everything) == trainable_rows.sum()


def test_balanced_rows_refuse_unknown_or_no_domain(sarcasm: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput, match="unknown domains"):
        balanced_training_rows(
            sarcasm, splits=("train",), max_per_domain=10, seed=0, exclude=("imdb",)
        )
    with pytest.raises(InvalidInput, match="no domain is left"):
        balanced_training_rows(
            sarcasm,
            splits=("train",),
            max_per_domain=10,
            seed=0,
            exclude=tuple(trainable("sarcasm")),
        )


def test_leave_one_domain_out_smoke(sarcasm: pd.DataFrame) -> None:
    bench = _benchmark()
    config = load_config(default_config_path("sarcasm", "tfidf_lr"))
    assert isinstance(config, TfidfLrConfig)
    assert config.data.mixture == "general"
    held_out = bench.leave_one_domain_out(
        config, sarcasm, max_per_domain=300, max_test_per_domain=200
    )
    assert set(held_out) == set(trainable("sarcasm"))
    test_sizes = sarcasm[sarcasm["split"] == "test"].groupby("domain").size()
    for name, metrics in held_out.items():
        assert metrics["n"] == min(200, test_sizes[name])
        # Fitted on the other seven domains only.
        assert metrics["n_train"] <= 300 * (len(held_out) - 1)
        for metric in ("accuracy", "macro_f1", "roc_auc", "ece"):
            assert 0.0 <= metrics[metric] <= 1.0, (name, metric)

    general = bench.general_report(config, sarcasm, max_per_domain=300, max_test_per_domain=200)
    assert general["domains"]["ptacek_tweets"]["in_training"] is False
    assert general["domains"]["headlines"]["in_training"] is True
    assert set(general["train_domains"]) == set(trainable("sarcasm"))


def test_minilm_is_refused() -> None:
    assert _benchmark().main(["--family", "minilm"]) == 2
