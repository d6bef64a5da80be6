"""Small, fast samples of the bundled reference data for training tests."""

from __future__ import annotations

import pandas as pd
import pytest

from sentimentops.core.settings import REPO_ROOT
from sentimentops.training.reference_data import load_task

DATASETS = REPO_ROOT / "datasets"


def _sample(frame: pd.DataFrame, per_split: dict[str, int]) -> pd.DataFrame:
    parts = [
        frame[frame["split"] == split].sample(n=n, random_state=0) for split, n in per_split.items()
    ]
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="session")
def sarcasm_sample() -> pd.DataFrame:
    """2,000 train / 300 validation / 300 test headlines."""
    return _sample(load_task("sarcasm", DATASETS), {"train": 2000, "validation": 300, "test": 300})


@pytest.fixture(scope="session")
def imdb_sample() -> pd.DataFrame:
    """600 train / 100 validation / 200 test reviews."""
    return _sample(load_task("sentiment", DATASETS), {"train": 600, "validation": 100, "test": 200})
