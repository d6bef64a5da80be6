"""Agreement figures against values computed by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import pytest

from sentimentops.labeling.agreement import (
    Answer,
    cohen_kappa,
    krippendorff_alpha,
    project_agreement,
)


def test_cohen_kappa_of_two_raters() -> None:
    # 10 items: both positive 4, both negative 3, A pos/B neg 2, A neg/B pos 1.
    # p_o = 7/10 = 0.7. A: 6 pos, 4 neg; B: 5 pos, 5 neg.
    # p_e = (6·5 + 4·5) / 10² = 50/100 = 0.5.  κ = (0.7 − 0.5) / (1 − 0.5) = 0.4.
    pairs = (
        [("pos", "pos")] * 4 + [("neg", "neg")] * 3 + [("pos", "neg")] * 2 + [("neg", "pos")] * 1
    )
    assert cohen_kappa(pairs) == pytest.approx(0.4)


def test_cohen_kappa_of_perfect_and_of_chance_agreement() -> None:
    assert cohen_kappa([("a", "a"), ("b", "b")]) == pytest.approx(1.0)
    # p_o = 2/4; A: a 2, b 2; B: a 2, b 2; p_e = (2·2 + 2·2)/16 = 0.5 → κ = 0.
    pairs = [("a", "a"), ("a", "b"), ("b", "a"), ("b", "b")]
    assert cohen_kappa(pairs) == pytest.approx(0.0)


def test_cohen_kappa_is_undefined_without_pairs_or_with_one_label() -> None:
    assert cohen_kappa([]) is None
    assert cohen_kappa([("a", "a"), ("a", "a")]) is None  # p_e = 1: 0/0


def test_krippendorff_alpha_with_a_missing_value() -> None:
    # Units: u1 = [a, a, a], u2 = [a, b], u3 = [b, b, b], u4 = [a] (one value: not pairable).
    # Coincidences (each ordered pair of a unit adds 1/(m − 1)):
    #   u1: 6 pairs (a, a) · 1/2 → o_aa = 3;  u2: (a, b), (b, a) · 1 → o_ab = o_ba = 1;
    #   u3: o_bb = 3.  n_a = 3 + 1 = 4, n_b = 1 + 3 = 4, n = 8.
    # α = 1 − (n − 1) · Σ_{c≠k} o_ck / Σ_{c≠k} n_c n_k = 1 − 7 · 2 / (4·4 + 4·4) = 1 − 14/32.
    units = [["a", "a", "a"], ["a", "b"], ["b", "b", "b"], ["a"]]
    assert krippendorff_alpha(units) == pytest.approx(1 - 14 / 32)  # 0.5625


def test_krippendorff_alpha_with_three_labels() -> None:
    # u1 = [x, y], u2 = [x, x], u3 = [y, z], u4 = [z, z]:
    #   o_xy = o_yx = 1, o_xx = 2, o_yz = o_zy = 1, o_zz = 2.
    #   n_x = 3, n_y = 2, n_z = 3, n = 8; Σ_{c≠k} o_ck = 4;
    #   Σ_{c≠k} n_c n_k = n² − Σ n_c² = 64 − (9 + 4 + 9) = 42.
    # α = 1 − 7 · 4 / 42 = 1/3.
    units = [["x", "y"], ["x", "x"], ["y", "z"], ["z", "z"]]
    assert krippendorff_alpha(units) == pytest.approx(1 / 3)


def test_krippendorff_alpha_is_undefined_without_variation() -> None:
    assert krippendorff_alpha([["a"], ["b"]]) is None  # nothing pairable
    assert krippendorff_alpha([["a", "a"], ["a", "a"]]) is None  # one label: D_e = 0


def test_project_agreement_per_project_and_per_annotator() -> None:
    # Items 1–4 labelled by ann and bob; item 5 by ann only; g is a gold item (known "pos").
    # ann: pos pos neg neg; bob: pos neg neg neg → p_o = 3/4; ann pos 2 neg 2, bob pos 1 neg 3;
    # p_e = (2·1 + 2·3)/16 = 0.5; κ = (0.75 − 0.5)/0.5 = 0.5 (for each, as first rater too).
    # α over units 1–4 (item 5 has one value, the gold item is labelled by ann alone):
    #   o_pp = 2, o_pn = o_np = 1, o_nn = 4; n_p = 3, n_n = 5, n = 8;
    #   α = 1 − 7 · 2 / (3·5 + 5·3) = 1 − 14/30.
    ann = ["pos", "pos", "neg", "neg"]
    bob = ["pos", "neg", "neg", "neg"]
    answers = [Answer(f"i{n}", "ann", label) for n, label in enumerate(ann, 1)]
    answers += [Answer(f"i{n}", "bob", label) for n, label in enumerate(bob, 1)]
    answers += [Answer("i5", "ann", "pos"), Answer("g", "ann", "neg")]
    report = project_agreement(answers, {"g": "pos"})
    assert report.annotators == 2
    assert report.items_with_overlap == 4
    assert report.cohen_kappa == pytest.approx(0.5)
    assert report.krippendorff_alpha == pytest.approx(1 - 14 / 30)
    by_name = {a.annotator: a for a in report.per_annotator}
    assert by_name["ann"].annotated == 6
    assert by_name["ann"].shared_items == 4
    assert by_name["ann"].agreement_rate == pytest.approx(0.75)
    assert by_name["ann"].kappa_vs_others == pytest.approx(0.5)
    assert (by_name["ann"].gold_answered, by_name["ann"].gold_accuracy) == (1, 0.0)
    assert (by_name["bob"].gold_answered, by_name["bob"].gold_accuracy) == (0, None)


def test_kappa_is_left_out_when_more_than_two_annotators_share_items() -> None:
    # Three raters on one item: α is defined (every pair agrees → 1 − 0 = 1), κ is not.
    answers = [Answer("i1", r, "pos") for r in ("a", "b", "c")]
    answers += [Answer("i2", r, "neg") for r in ("a", "b", "c")]
    report = project_agreement(answers, {})
    assert report.cohen_kappa is None
    assert report.krippendorff_alpha == pytest.approx(1.0)
