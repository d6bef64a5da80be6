"""Inter-annotator agreement on nominal labels: Cohen's κ for two raters, Krippendorff's α for any
number (missing answers allowed), and the per-project, per-annotator report built from them.

Pure functions over label strings, so that the numbers can be checked against hand-computed
examples (tests/labeling/test_agreement.py)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations, permutations


def cohen_kappa(pairs: Sequence[tuple[str, str]]) -> float | None:
    """κ = (p_o − p_e) / (1 − p_e) over items both raters labelled, `pairs` = (first, second).
    None when undefined: no pairs, or chance agreement is already certain (both raters used one
    and the same label throughout), where κ is 0/0."""
    n = len(pairs)
    if n == 0:
        return None
    observed = sum(a == b for a, b in pairs) / n
    first = Counter(a for a, _ in pairs)
    second = Counter(b for _, b in pairs)
    expected = sum(first[label] * second[label] for label in first) / (n * n)
    if expected == 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


def krippendorff_alpha(units: Sequence[Sequence[str]]) -> float | None:
    """Krippendorff's α for nominal data: α = 1 − (n − 1)·Σ_{c≠k} o_ck / Σ_{c≠k} n_c·n_k, where
    o_ck is the coincidence matrix (each unit with m ≥ 2 values adds 1/(m − 1) for every ordered
    pair of its values), n_c its marginals and n their sum. Units with fewer than two values are
    not pairable and are left out. None when undefined (no pairable unit, or one label only)."""
    coincidences: dict[tuple[str, str], float] = defaultdict(float)
    for values in units:
        m = len(values)
        if m < 2:
            continue
        for a, b in permutations(values, 2):
            coincidences[(a, b)] += 1.0 / (m - 1)
    marginals: dict[str, float] = defaultdict(float)
    for (a, _b), weight in coincidences.items():
        marginals[a] += weight
    n = sum(marginals.values())
    disagreeing = sum(w for (a, b), w in coincidences.items() if a != b)
    expected = sum(marginals[a] * marginals[b] for a, b in permutations(marginals, 2))
    if n == 0 or expected == 0:
        return None
    return 1.0 - (n - 1) * disagreeing / expected


@dataclass(frozen=True)
class Answer:
    item_id: str
    annotator: str
    label: str


@dataclass(frozen=True)
class AnnotatorAgreement:
    annotator: str
    annotated: int
    shared_items: int  # items another annotator labelled too
    agreement_rate: float | None  # share of pairs with another annotator that agree
    kappa_vs_others: float | None  # κ over those pairs (this annotator first)
    gold_answered: int
    gold_accuracy: float | None


@dataclass(frozen=True)
class ProjectAgreement:
    annotators: int
    items_with_overlap: int  # items labelled by two annotators or more
    cohen_kappa: float | None  # when exactly two annotators labelled shared items
    krippendorff_alpha: float | None
    per_annotator: list[AnnotatorAgreement]


def project_agreement(answers: Sequence[Answer], gold: Mapping[str, str]) -> ProjectAgreement:
    """The report of one project: `answers` are the final annotations (one per annotator and
    item), `gold` maps gold items' ids to their known labels."""
    by_item: dict[str, dict[str, str]] = defaultdict(dict)
    for answer in answers:
        by_item[answer.item_id][answer.annotator] = answer.label
    shared = {item: labels for item, labels in by_item.items() if len(labels) >= 2}
    raters = sorted({a.annotator for a in answers})
    sharing = sorted({rater for labels in shared.values() for rater in labels})
    kappa = None
    if len(sharing) == 2:
        first, second = sharing
        kappa = cohen_kappa([(labels[first], labels[second]) for labels in shared.values()])
    alpha = krippendorff_alpha([list(labels.values()) for labels in by_item.values()])

    pairs: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for labels in shared.values():
        for a, b in combinations(sorted(labels), 2):
            pairs[a].append((labels[a], labels[b]))
            pairs[b].append((labels[b], labels[a]))
    per_annotator = []
    for rater in raters:
        mine = {item: labels[rater] for item, labels in by_item.items() if rater in labels}
        on_gold = [(label, gold[item]) for item, label in mine.items() if item in gold]
        rater_pairs = pairs.get(rater, [])
        per_annotator.append(
            AnnotatorAgreement(
                annotator=rater,
                annotated=len(mine),
                shared_items=sum(1 for item in mine if item in shared),
                agreement_rate=(
                    sum(a == b for a, b in rater_pairs) / len(rater_pairs) if rater_pairs else None
                ),
                kappa_vs_others=cohen_kappa(rater_pairs),
                gold_answered=len(on_gold),
                gold_accuracy=(sum(a == b for a, b in on_gold) / len(on_gold) if on_gold else None),
            )
        )
    return ProjectAgreement(
        annotators=len(raters),
        items_with_overlap=len(shared),
        cohen_kappa=kappa,
        krippendorff_alpha=alpha,
        per_annotator=per_annotator,
    )
