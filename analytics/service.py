"""Analytics over the tenant's prediction log and labels: input bounds, then one function per
question, each running analytics/queries.py's statements in the session it is given and shaping
their rows. Read-only; nothing is cached or stored."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from sentimentops.analytics import queries, stats
from sentimentops.analytics.queries import Scope
from sentimentops.analytics.schemas import (
    BUCKET_SIZES,
    CANARY_ALIAS,
    MAX_POINTS,
    MAX_WINDOW,
    MAX_WINDOW_DAYS,
    PRODUCTION_ALIAS,
    AbOut,
    AccuracyOut,
    AccuracyPoint,
    AccuracySeries,
    Arm,
    Bucket,
    ClassMetrics,
    ConfusionOut,
    DriftDay,
    DriftOut,
    FailurePoint,
    Interval,
    SignificanceTest,
    Verdict,
    VersionConfusion,
    VolumeOut,
    VolumePoint,
    VolumeSeries,
)
from sentimentops.core.errors import InvalidInput

# The detect_drift tool's PSI and bins, so that the chart and the sentry's drift gate measure the
# same thing (its bins are module constants there; nothing else uses them).
from sentimentops.tools.detect_drift import _LENGTH_EDGES, _SCORE_EDGES, psi

_PSI_SCORE_BINS = len(_SCORE_EDGES) - 1
_LENGTH_EDGES_LIST = [float(e) for e in _LENGTH_EDGES]


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def resolve_window(
    *, since: datetime | None, until: datetime | None, now: datetime, default: timedelta
) -> tuple[datetime, datetime]:
    """[since, until) in UTC (naive times are UTC): until defaults to now, since to `default`
    before until; refused when empty or longer than MAX_WINDOW."""
    try:
        end = _utc(until) if until is not None else now
        start = _utc(since) if since is not None else end - default
    except OverflowError as exc:  # a time at the ends of the calendar, moved to UTC or back
        raise InvalidInput("since and until must lie between years 1 and 9999 in UTC") from exc
    if start >= end:
        raise InvalidInput("since must be before until")
    if end - start > MAX_WINDOW:
        raise InvalidInput(f"the window is at most {MAX_WINDOW_DAYS} days")
    return start, end


def check_points(*, since: datetime, until: datetime, bucket: Bucket) -> None:
    """A series has at most MAX_POINTS buckets: those [since, until) touches, aligned to UTC
    hours or days as the queries bucket them."""
    size = BUCKET_SIZES[bucket].total_seconds()
    points = math.ceil(until.timestamp() / size) - math.floor(since.timestamp() / size)
    if points > MAX_POINTS:
        raise InvalidInput(
            f"{points} {bucket} buckets in this window; at most {MAX_POINTS}: use a larger "
            "bucket or a shorter window"
        )


def parse_window(window: str) -> timedelta:
    """'24h' or '7d' (the router's pattern) as a duration of at most MAX_WINDOW."""
    amount, unit = int(window[:-1]), window[-1]
    length = timedelta(hours=amount) if unit == "h" else timedelta(days=amount)
    if length > MAX_WINDOW:
        raise InvalidInput(f"the window is at most {MAX_WINDOW_DAYS} days")
    return length


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


# --- Confusion ------------------------------------------------------------------------------------


def _version_confusion(
    version: str, labels: list[str], counts: dict[tuple[str, str], int], sources: dict[str, int]
) -> VersionConfusion:
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for (truth, answer), n in counts.items():
        matrix[index[truth]][index[answer]] += n
    labelled = sum(counts.values())
    correct = sum(matrix[i][i] for i in range(len(labels)))
    classes = []
    for i, label in enumerate(labels):
        support = sum(matrix[i])
        predicted = sum(row[i] for row in matrix)
        precision = _ratio(matrix[i][i], predicted)
        recall = _ratio(matrix[i][i], support)
        f1 = None
        if precision is not None and recall is not None:
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        classes.append(
            ClassMetrics(
                label=label,
                support=support,
                predicted=predicted,
                precision=precision,
                recall=recall,
                f1=f1,
            )
        )
    # Macro F1 over the classes that occur as true labels (a class never true has no recall).
    f1s = [c.f1 if c.f1 is not None else 0.0 for c in classes if c.support]
    return VersionConfusion(
        model_version=version,
        labelled=labelled,
        from_labeling=sources.get("labeling", 0),
        from_feedback=sources.get("feedback", 0),
        accuracy=_ratio(correct, labelled),
        macro_f1=sum(f1s) / len(f1s) if f1s else None,
        labels=labels,
        matrix=matrix,
        classes=classes,
    )


def confusion(
    session: Session,
    *,
    tenant_id: str,
    task: str,
    version: str | None,
    since: datetime,
    until: datetime,
) -> ConfusionOut:
    """Confusion matrix and per-class precision, recall and F1 per model version, over the
    labelled predictions made in [since, until). The labels are those seen in any version's
    answers or right labels, sorted, so every version's matrix has the same axes."""
    scope = Scope(tenant_id=tenant_id, task=task, since=since, until=until)
    rows = session.execute(queries.confusion_counts(scope, version=version)).all()
    counts: dict[str, dict[tuple[str, str], int]] = defaultdict(lambda: defaultdict(int))
    sources: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    labels: set[str] = set()
    for model_version, truth, predicted, source, n in rows:
        counts[model_version][(truth, predicted)] += int(n)
        sources[model_version][source] += int(n)
        labels.update((truth, predicted))
    axes = sorted(labels)
    return ConfusionOut(
        task=task,
        since=since,
        until=until,
        versions=[_version_confusion(v, axes, counts[v], sources[v]) for v in sorted(counts)],
    )


# --- Accuracy over time ---------------------------------------------------------------------------


def accuracy(
    session: Session,
    *,
    tenant_id: str,
    task: str,
    version: str | None,
    bucket: Bucket,
    since: datetime,
    until: datetime,
) -> AccuracyOut:
    """Accuracy per model version and hour or day (buckets without labels are absent), each
    with its 95 % Wilson interval."""
    check_points(since=since, until=until, bucket=bucket)
    scope = Scope(tenant_id=tenant_id, task=task, since=since, until=until)
    statement = queries.accuracy_counts(
        scope, bucket=bucket, dialect=queries.dialect_of(session), version=version
    )
    points: dict[str, list[AccuracyPoint]] = defaultdict(list)
    for model_version, start, labelled, correct in session.execute(statement).all():
        n, right = int(labelled), int(correct)
        interval = stats.wilson(right, n)
        points[model_version].append(
            AccuracyPoint(
                start=queries.parse_bucket(start),
                labelled=n,
                correct=right,
                accuracy=right / n,
                low=interval.low,
                high=interval.high,
            )
        )
    series = []
    for model_version in sorted(points):
        found = sorted(points[model_version], key=lambda p: p.start)
        labelled = sum(p.labelled for p in found)
        correct = sum(p.correct for p in found)
        series.append(
            AccuracySeries(
                model_version=model_version,
                labelled=labelled,
                correct=correct,
                accuracy=correct / labelled,
                points=found,
            )
        )
    return AccuracyOut(task=task, bucket=bucket, since=since, until=until, series=series)


# --- Volume ---------------------------------------------------------------------------------------


def volume(
    session: Session,
    *,
    tenant_id: str,
    task: str | None,
    bucket: Bucket,
    since: datetime,
    until: datetime,
) -> VolumeOut:
    """Predictions and their label distribution per task, version and alias (the route: which
    registry alias answered) per hour or day, and failed texts beside them."""
    check_points(since=since, until=until, bucket=bucket)
    dialect = queries.dialect_of(session)
    window: dict[str, Any] = {
        "tenant_id": tenant_id,
        "task": task,
        "since": since,
        "until": until,
        "bucket": bucket,
        "dialect": dialect,
    }
    cells: dict[tuple[str, str, str], dict[datetime, dict[str, int]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    for row_task, version, alias, start, label, n in session.execute(
        queries.volume_counts(**window)
    ).all():
        cells[(row_task, version, alias)][queries.parse_bucket(start)][label] = int(n)
    series = []
    for key in sorted(cells):
        row_task, version, alias = key
        points = [
            VolumePoint(
                start=start, predictions=sum(labels.values()), labels=dict(sorted(labels.items()))
            )
            for start, labels in sorted(cells[key].items())
        ]
        totals: dict[str, int] = defaultdict(int)
        for point in points:
            for label, n in point.labels.items():
                totals[label] += n
        series.append(
            VolumeSeries(
                task=row_task,
                model_version=version,
                model_alias=alias,
                predictions=sum(totals.values()),
                labels=dict(sorted(totals.items())),
                points=points,
            )
        )
    failures = sorted(
        (
            FailurePoint(
                start=queries.parse_bucket(start), task=row_task, model_alias=alias, texts=int(n)
            )
            for row_task, alias, start, n in session.execute(queries.failure_counts(**window)).all()
        ),
        key=lambda f: (f.start, f.task, f.model_alias or ""),
    )
    return VolumeOut(
        task=task,
        bucket=bucket,
        since=since,
        until=until,
        predictions=sum(s.predictions for s in series),
        series=series,
        failures=failures,
    )


# --- A/B ------------------------------------------------------------------------------------------


def _percentile(session: Session, scope: Scope, alias: str, n: int, q: float) -> float | None:
    """Nearest-rank percentile of the alias's latencies (n of them)."""
    if n == 0:
        return None
    rank = max(1, math.ceil(q * n)) - 1
    value = session.execute(queries.latency_at_rank(scope, alias, rank)).scalar_one()
    return float(value)


def _arm(
    session: Session,
    scope: Scope,
    alias: str,
    *,
    served: dict[str, dict[str, int]],
    labelled: dict[str, tuple[int, int]],
    failed: Mapping[str | None, int],
) -> Arm:
    versions = served.get(alias, {})
    predictions = sum(versions.values())
    n, right = labelled.get(alias, (0, 0))
    failed_texts = failed.get(alias, 0)
    interval = stats.wilson(right, n) if n else None
    return Arm(
        alias=alias,
        versions=sorted(versions),
        predictions=predictions,
        labelled=n,
        correct=right,
        accuracy=_ratio(right, n),
        accuracy_interval=Interval(low=interval.low, high=interval.high) if interval else None,
        latency_p50_ms=_percentile(session, scope, alias, predictions, 0.50),
        latency_p95_ms=_percentile(session, scope, alias, predictions, 0.95),
        failed_texts=failed_texts,
        error_rate=_ratio(failed_texts, predictions + failed_texts),
    )


def verdict_of(
    production: Arm, canary: Arm, *, alpha: float, min_labelled: int
) -> tuple[Verdict, stats.Test | None, list[str]]:
    """The canary against production on labelled accuracy, with the reasons in words."""
    short = [
        f"{arm.alias} has {arm.labelled} labelled predictions (at least {min_labelled} needed)"
        for arm in (production, canary)
        if arm.labelled < min_labelled
    ]
    if short:
        return "not_enough_data", None, short
    test = stats.compare(canary.correct, canary.labelled, production.correct, production.labelled)
    described = (
        f"canary accuracy {canary.correct}/{canary.labelled}, production "
        f"{production.correct}/{production.labelled}; "
        f"{'Fisher exact' if test.name == 'fisher' else 'two-proportion z'} test p = "
        f"{test.p_value:.4g}"
    )
    if test.p_value >= alpha:
        return "no_significant_difference", test, [f"{described} ≥ α = {alpha}"]
    # Reached only when p < α, so the accuracies differ (equal ones give p = 1).
    better = (canary.accuracy or 0.0) > (production.accuracy or 0.0)
    return ("better" if better else "worse"), test, [f"{described} < α = {alpha}"]


def ab(
    session: Session,
    *,
    tenant_id: str,
    task: str,
    since: datetime,
    until: datetime,
    alpha: float,
    min_labelled: int,
) -> AbOut:
    """Production against the canary (the staging alias) on the same window: labelled accuracy
    with Wilson intervals and a significance test, latency P50/P95 and error rate, and a
    verdict on accuracy."""
    scope = Scope(tenant_id=tenant_id, task=task, since=since, until=until)
    aliases = (PRODUCTION_ALIAS, CANARY_ALIAS)
    served: dict[str, dict[str, int]] = defaultdict(dict)
    for alias, version, n in session.execute(queries.served_counts(scope, aliases)).all():
        served[alias][version] = int(n)
    labelled = {
        alias: (int(n), int(right))
        for alias, n, right in session.execute(queries.labelled_by_alias(scope, aliases)).all()
    }
    failed = {
        alias: int(n) for alias, n in session.execute(queries.failed_by_alias(scope, aliases)).all()
    }
    arms = {
        alias: _arm(session, scope, alias, served=served, labelled=labelled, failed=failed)
        for alias in aliases
    }
    production, canary = arms[PRODUCTION_ALIAS], arms[CANARY_ALIAS]
    verdict, test, reasons = verdict_of(production, canary, alpha=alpha, min_labelled=min_labelled)
    difference = None
    interval = None
    if production.accuracy is not None and canary.accuracy is not None:
        difference = canary.accuracy - production.accuracy
        found = stats.newcombe(
            canary.correct, canary.labelled, production.correct, production.labelled
        )
        interval = Interval(low=found.low, high=found.high)
    return AbOut(
        task=task,
        since=since,
        until=until,
        alpha=alpha,
        min_labelled=min_labelled,
        production=production,
        canary=canary,
        accuracy_difference=difference,
        difference_interval=interval,
        test=(
            SignificanceTest(name=test.name, p_value=test.p_value, statistic=test.statistic)
            if test
            else None
        ),
        verdict=verdict,
        reasons=reasons,
    )


# --- Drift ----------------------------------------------------------------------------------------


def _shares(counts: Sequence[int]) -> list[float]:
    total = sum(counts)
    return [c / total for c in counts] if total else [0.0] * len(counts)


def _merge(counts: Sequence[int], groups: int) -> list[int]:
    """100 score bins into `groups` equal groups (the tool's ten)."""
    size = len(counts) // groups
    return [sum(counts[i * size : (i + 1) * size]) for i in range(groups)]


def _ks(reference: Sequence[int], current: Sequence[int]) -> float:
    """Largest gap between the two cumulative distributions at the bins' edges."""
    gap = 0.0
    cumulative_ref = cumulative_cur = 0.0
    for r, c in zip(_shares(reference), _shares(current), strict=True):
        cumulative_ref += r
        cumulative_cur += c
        gap = max(gap, abs(cumulative_ref - cumulative_cur))
    return gap


def _add(into: list[int], counts: Iterable[int]) -> None:
    for i, n in enumerate(counts):
        into[i] += n


def drift(
    session: Session,
    *,
    tenant_id: str,
    task: str,
    days: int,
    reference_days: int,
    min_volume: int,
    now: datetime,
) -> DriftOut:
    """Per UTC day of the last `days` (today included, so far), PSI of scores and text lengths
    and KS of scores against the `reference_days` before them. A day or reference with fewer
    than `min_volume` predictions is marked not enough traffic: its PSI is noise."""
    tomorrow = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
    since = tomorrow - timedelta(days=days)
    reference_since = since - timedelta(days=reference_days)
    scope = Scope(tenant_id=tenant_id, task=task, since=reference_since, until=tomorrow)
    dialect = queries.dialect_of(session)
    length_bins = len(_LENGTH_EDGES_LIST) - 1
    scores: dict[datetime, list[int]] = defaultdict(lambda: [0] * queries.SCORE_BINS)
    score_sums: dict[datetime, float] = defaultdict(float)
    for day, bin_, n, total in session.execute(
        queries.score_histogram(scope, dialect=dialect)
    ).all():
        start = queries.parse_bucket(day)
        scores[start][int(bin_)] += int(n)
        score_sums[start] += float(total)
    lengths: dict[datetime, list[int]] = defaultdict(lambda: [0] * length_bins)
    length_sums: dict[datetime, float] = defaultdict(float)
    for day, bin_, n, total in session.execute(
        queries.length_histogram(scope, dialect=dialect, edges=_LENGTH_EDGES_LIST)
    ).all():
        start = queries.parse_bucket(day)
        lengths[start][int(bin_)] += int(n)
        length_sums[start] += float(total)

    reference_scores = [0] * queries.SCORE_BINS
    reference_lengths = [0] * length_bins
    for start in [d for d in scores if d < since]:
        _add(reference_scores, scores[start])
        _add(reference_lengths, lengths[start])
    reference_volume = sum(reference_scores)

    points = []
    for offset in range(days):
        day = since + timedelta(days=offset)
        day_scores = scores.get(day, [0] * queries.SCORE_BINS)
        day_lengths = lengths.get(day, [0] * length_bins)
        n = sum(day_scores)
        comparable = n > 0 and reference_volume > 0
        points.append(
            DriftDay(
                day=day,
                predictions=n,
                enough_traffic=n >= min_volume and reference_volume >= min_volume,
                mean_score=score_sums[day] / n if n else None,
                mean_text_chars=length_sums[day] / n if n else None,
                psi_score=(
                    psi(
                        _shares(_merge(reference_scores, _PSI_SCORE_BINS)),
                        _shares(_merge(day_scores, _PSI_SCORE_BINS)),
                    )
                    if comparable
                    else None
                ),
                psi_text_chars=(
                    psi(_shares(reference_lengths), _shares(day_lengths)) if comparable else None
                ),
                ks_score=_ks(reference_scores, day_scores) if comparable else None,
            )
        )
    return DriftOut(
        task=task,
        reference_since=reference_since,
        reference_until=since,
        reference_predictions=reference_volume,
        min_volume=min_volume,
        days=points,
    )
