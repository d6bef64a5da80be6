"""Out-of-distribution signal: how far a text's embedding lies from the training data.

Class-conditional Gaussians with one shared covariance over the encoder's pooled embedding
(Lee et al., 2018, "A Simple Unified Framework for Detecting Out-of-Distribution Samples"): a
text's score is its smallest Mahalanobis distance to a class mean. The threshold is a quantile
of the distances of in-domain validation texts (model.json records which), so by construction
that share of in-domain texts is called in domain and the rest are flagged for review.

Stored in the artifact as `ood.npz` (means: classes x dim, precision: dim x dim; loaded with
allow_pickle=False) and model.json's `"ood": {"method", "file", "threshold", "quantile"}`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from sentimentops.inference.runtime.base import BoolArray, FloatArray

METHOD = "mahalanobis"
FILE = "ood.npz"
# Shrinkage of the covariance towards its diagonal: 384 dimensions from a few thousand texts
# give a noisy inverse otherwise.
SHRINKAGE = 0.1


@dataclass(frozen=True)
class MahalanobisDetector:
    means: FloatArray
    precision: FloatArray
    threshold: float
    # precision = L Lᵀ, so (x - m)ᵀ P (x - m) = ‖(x - m) L‖²: one matrix product per batch and
    # the means projected once, instead of a three-operand einsum per class per batch (20× less
    # time for one text, the scoring hot path's case). None: not positive definite (einsum).
    _factor: FloatArray | None = field(init=False, repr=False, compare=False)
    _projected_means: FloatArray | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            factor: FloatArray | None = np.linalg.cholesky(self.precision).astype(np.float64)
        except np.linalg.LinAlgError:
            factor = None
        object.__setattr__(self, "_factor", factor)
        object.__setattr__(
            self, "_projected_means", None if factor is None else self.means @ factor
        )

    @classmethod
    def fit(
        cls,
        embeddings: npt.NDArray[np.floating],
        targets: npt.NDArray[np.int64],
        n_labels: int,
    ) -> MahalanobisDetector:
        """Class means and the shared, shrunk precision matrix; threshold +inf until set."""
        x = embeddings.astype(np.float64)
        means = np.stack(
            [
                x[targets == c].mean(axis=0) if (targets == c).any() else x.mean(axis=0)
                for c in range(n_labels)
            ]
        )
        centred = x - means[targets]
        covariance = centred.T @ centred / max(1, len(x) - 1)
        covariance = (1 - SHRINKAGE) * covariance + SHRINKAGE * np.diag(np.diag(covariance))
        covariance += 1e-6 * np.eye(len(covariance))
        return cls(means, np.linalg.inv(covariance), float("inf"))

    def distances(self, embeddings: npt.NDArray[np.floating]) -> FloatArray:
        """The smallest squared Mahalanobis distance of each row to a class mean."""
        x = embeddings.astype(np.float64)
        if self._factor is not None and self._projected_means is not None:
            z = x @ self._factor
            gaps = z[:, None, :] - self._projected_means[None, :, :]
            result: FloatArray = np.einsum("ncd,ncd->nc", gaps, gaps).min(axis=1)
            return result
        best = np.full(len(x), np.inf)
        for mean in self.means:
            d = x - mean
            best = np.minimum(best, np.einsum("ij,jk,ik->i", d, self.precision, d))
        return best

    def in_domain(self, embeddings: npt.NDArray[np.floating]) -> BoolArray:
        result: BoolArray = self.distances(embeddings) <= self.threshold
        return result

    def with_threshold(
        self, validation: npt.NDArray[np.floating], quantile: float
    ) -> MahalanobisDetector:
        """The same detector with its threshold at `quantile` of in-domain distances."""
        return MahalanobisDetector(
            self.means, self.precision, float(np.quantile(self.distances(validation), quantile))
        )

    def save(self, directory: Path) -> None:
        np.savez_compressed(directory / FILE, means=self.means, precision=self.precision)

    @classmethod
    def load(cls, directory: Path, threshold: float) -> MahalanobisDetector:
        with np.load(directory / FILE, allow_pickle=False) as arrays:
            means = np.asarray(arrays["means"], dtype=np.float64)
            precision = np.asarray(arrays["precision"], dtype=np.float64)
        if precision.shape != (means.shape[1], means.shape[1]):
            raise ValueError(
                f"{FILE}: precision {precision.shape} does not fit means {means.shape}"
            )
        return cls(means, precision, threshold)
