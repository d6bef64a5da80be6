"""Calibration shared by every family: temperature scaling (Guo et al., 2017). numpy only."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


def fit_temperature(logits: npt.NDArray[np.float64], targets: IntArray) -> float:
    """argmin over T of the mean negative log-likelihood of softmax(logits / T): a coarse grid
    over log T, then golden-section search around the best point (the loss is unimodal in T)."""

    def nll(log_t: float) -> float:
        z = logits / math.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-log_p[np.arange(len(targets)), targets].mean())

    grid = np.linspace(-3.0, 3.0, 61)
    best = float(grid[int(np.argmin([nll(float(g)) for g in grid]))])
    low, high = best - 0.1, best + 0.1
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(40):
        a, b = high - ratio * (high - low), low + ratio * (high - low)
        if nll(a) < nll(b):
            high = b
        else:
            low = a
    return round(math.exp((low + high) / 2), 6)
