"""Temperature scaling of exported classifiers (`fit_temperature` in training/calibration.py)."""

from __future__ import annotations

import numpy as np
import pytest

from sentimentops.training.calibration import fit_temperature
from sentimentops.training.evaluation import expected_calibration_error
from sentimentops.training.families.torch_loop import softmax


def _calibrated(n: int, n_labels: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Logits and labels drawn from softmax(logits): calibrated at temperature 1."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=2.0, size=(n, n_labels))
    probabilities = softmax(logits)
    draws = rng.random((n, 1))
    targets = (draws > np.cumsum(probabilities, axis=1)).sum(axis=1).astype(np.int64)
    targets = np.minimum(targets, n_labels - 1)  # rounding at the top of the last bin
    return logits, targets


@pytest.mark.parametrize(("scale", "n_labels"), [(3.0, 2), (3.0, 3), (0.5, 2), (1.0, 2)])
def test_recovers_a_known_temperature(scale: float, n_labels: int) -> None:
    true_logits, targets = _calibrated(6000, n_labels, seed=int(scale * 10) + n_labels)
    # Over-confident (scale > 1) or under-confident (scale < 1) versions of the same model.
    logits = true_logits * scale
    temperature = fit_temperature(logits, targets)
    assert temperature == pytest.approx(scale, rel=0.1)
    before = expected_calibration_error(softmax(logits), targets)
    after = expected_calibration_error(softmax(logits / temperature), targets)
    if scale != 1.0:
        assert after < before


@pytest.mark.parametrize("seed", range(3))
def test_never_changes_the_predicted_label(seed: int) -> None:
    logits, targets = _calibrated(2000, 3, seed)
    logits = logits * 4.0
    temperature = fit_temperature(logits, targets)
    assert temperature > 0
    np.testing.assert_array_equal(
        softmax(logits / temperature).argmax(axis=1), logits.argmax(axis=1)
    )


def test_is_deterministic_and_stays_in_range() -> None:
    logits, targets = _calibrated(1000, 2, seed=7)
    assert fit_temperature(logits, targets) == fit_temperature(logits.copy(), targets.copy())
    # Labels that disagree with every logit: the flattest answer the search allows.
    wrong = np.where(logits[:, 0] > logits[:, 1], 1, 0).astype(np.int64)
    flat = fit_temperature(logits * 10, wrong)
    assert 1.0 < flat <= np.exp(3.1)
