"""The statistics of the A/B comparison, in plain Python: Wilson score intervals, the pooled
two-proportion z-test, Fisher's exact test for small counts, and Newcombe's interval for a
difference of proportions. scipy is a training-only dependency; the API must not need it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

# Two-sided 95 % normal quantile; the interval level the API reports.
Z_95 = 1.959963984540054
# Cochran's rule: the normal approximation is trusted when every expected cell count of the 2×2
# table is at least this; below it, Fisher's exact test answers instead.
MIN_EXPECTED_CELL = 5.0
# Tables whose probability is within this factor of the observed one count as "as extreme"
# (floating-point ties; R's fisher.test uses the same relative tolerance).
_FISHER_TIE = 1.0 + 1e-7


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True)
class Test:
    name: Literal["z", "fisher"]
    p_value: float
    statistic: float | None  # z for the z-test; Fisher's test has none


def wilson(successes: int, n: int, z: float = Z_95) -> Interval:
    """Wilson score interval of a proportion; [0, 1] when there are no trials."""
    if n == 0:
        return Interval(0.0, 1.0)
    p = successes / n
    denominator = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return Interval(max(0.0, centre - half), min(1.0, centre + half))


def newcombe(successes_a: int, n_a: int, successes_b: int, n_b: int) -> Interval:
    """Newcombe's hybrid score interval (his method 10) of p_a − p_b, from the two Wilson
    intervals; unlike the Wald interval it stays inside [−1, 1] and behaves near 0 and 1."""
    if n_a == 0 or n_b == 0:
        return Interval(-1.0, 1.0)
    p_a, p_b = successes_a / n_a, successes_b / n_b
    a, b = wilson(successes_a, n_a), wilson(successes_b, n_b)
    difference = p_a - p_b
    low = difference - math.sqrt((p_a - a.low) ** 2 + (b.high - p_b) ** 2)
    high = difference + math.sqrt((a.high - p_a) ** 2 + (p_b - b.low) ** 2)
    return Interval(max(-1.0, low), min(1.0, high))


def two_proportion_z(successes_a: int, n_a: int, successes_b: int, n_b: int) -> Test:
    """Pooled two-proportion z-test, two-sided."""
    pooled = (successes_a + successes_b) / (n_a + n_b)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if spread == 0.0:  # both arms all right or all wrong: no evidence of a difference
        return Test("z", 1.0, 0.0)
    z = (successes_a / n_a - successes_b / n_b) / spread
    return Test("z", math.erfc(abs(z) / math.sqrt(2.0)), z)


def _log_hypergeometric(k: int, row: int, column: int, total: int) -> float:
    """log P(top-left cell = k) for a 2×2 table with these margins."""
    return _log_comb(row, k) + _log_comb(total - row, column - k) - _log_comb(total, column)


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def fisher_exact(successes_a: int, n_a: int, successes_b: int, n_b: int) -> Test:
    """Fisher's exact test on the 2×2 table (arm × right/wrong), two-sided: the probability,
    given both margins, of every table no more likely than the observed one."""
    total = n_a + n_b
    right = successes_a + successes_b
    lowest, highest = max(0, right - n_b), min(n_a, right)
    observed = _log_hypergeometric(successes_a, n_a, right, total)
    threshold = observed + math.log(_FISHER_TIE)
    p = sum(
        math.exp(logp)
        for k in range(lowest, highest + 1)
        if (logp := _log_hypergeometric(k, n_a, right, total)) <= threshold
    )
    return Test("fisher", min(1.0, p), None)


def compare(successes_a: int, n_a: int, successes_b: int, n_b: int) -> Test:
    """The test that fits the counts: the z-test when every expected cell count is at least
    MIN_EXPECTED_CELL, Fisher's exact test otherwise. Both arms need at least one trial."""
    total = n_a + n_b
    right = successes_a + successes_b
    expected = [n * share / total for n in (n_a, n_b) for share in (right, total - right)]
    if min(expected) >= MIN_EXPECTED_CELL:
        return two_proportion_z(successes_a, n_a, successes_b, n_b)
    return fisher_exact(successes_a, n_a, successes_b, n_b)
