"""The A/B statistics against published and hand-computed values."""

from __future__ import annotations

import math

import pytest

from sentimentops.analytics import stats


def test_wilson_interval() -> None:
    # 8 of 10: centre (0.8 + z²/20) / (1 + z²/10) = 0.7167, half-width 0.2266.
    interval = stats.wilson(8, 10)
    assert interval.low == pytest.approx(0.4902, abs=1e-4)
    assert interval.high == pytest.approx(0.9433, abs=1e-4)
    # At the edges the interval stays inside [0, 1] and is not degenerate (Wald's would be).
    none_right = stats.wilson(0, 10)
    assert none_right.low == 0.0
    assert none_right.high == pytest.approx(0.2775, abs=1e-4)
    assert stats.wilson(0, 0) == stats.Interval(0.0, 1.0)


def test_newcombe_difference_interval() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873, table II, example (a): 56/70 − 48/80,
    # method 10: 0.0524 to 0.3339.
    interval = stats.newcombe(56, 70, 48, 80)
    assert interval.low == pytest.approx(0.0524, abs=1e-4)
    assert interval.high == pytest.approx(0.3339, abs=1e-4)


def test_two_proportion_z_test() -> None:
    # 0.8 vs 0.6: pooled p = 104/150, SE = sqrt(p(1-p)(1/70 + 1/80)) = 0.075467, z = 2.6502.
    test = stats.two_proportion_z(56, 70, 48, 80)
    assert test.name == "z"
    assert test.statistic == pytest.approx(2.6502, abs=1e-4)
    assert test.p_value == pytest.approx(math.erfc(2.6502 / math.sqrt(2)), rel=1e-3)
    assert stats.two_proportion_z(10, 10, 20, 20) == stats.Test("z", 1.0, 0.0)


def test_fisher_exact() -> None:
    # Fisher's lady tasting tea: 3 of 4 vs 1 of 4. Tables k = 0…4 have probabilities
    # 1, 16, 36, 16, 1 (/70); those no likelier than k = 3 sum to 34/70.
    assert stats.fisher_exact(3, 4, 1, 4).p_value == pytest.approx(34 / 70)
    # 8 of 10 vs 2 of 10: P(k) = C(10, k)² / C(20, 10); k ≥ 8 and k ≤ 2 give
    # 2·(45² + 10² + 1) = 4252 of 184756.
    assert stats.fisher_exact(8, 10, 2, 10).p_value == pytest.approx(4252 / 184756)


def test_compare_uses_fisher_below_five_expected_and_z_above() -> None:
    assert stats.compare(8, 10, 2, 10).name == "z"  # every expected cell exactly 5
    assert stats.compare(9, 10, 0, 10).name == "fisher"  # 4.5 expected right answers per arm
    assert stats.compare(56, 70, 48, 80).name == "z"
    # A tiny expected count of wrong answers forces the exact test even with many trials.
    assert stats.compare(199, 200, 198, 200).name == "fisher"
