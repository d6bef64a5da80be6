"""Analytics API shapes and the bounds of its inputs. Every answer is computed from the tenant's
prediction log (inference/models.py) and its labels (labeling/models.py); nothing is stored."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel

Bucket = Literal["hour", "day"]
BUCKET_SIZES: dict[str, timedelta] = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
# Every query reads at most this much of the log, and a series has at most this many buckets:
# the bounds keep one request's cost and answer size fixed whatever the tenant's volume.
MAX_WINDOW = timedelta(days=90)
MAX_WINDOW_DAYS = 90
MAX_POINTS = 2000
DEFAULT_WINDOW = timedelta(days=30)
DEFAULT_AB_WINDOW = "24h"
# "24h", "7d": a number of hours or days.
WINDOW_PATTERN = r"^[1-9][0-9]{0,4}[hd]$"
# The alias the canary is served under (inference/slots.py: staging answers the canary share).
PRODUCTION_ALIAS = "production"
CANARY_ALIAS = "staging"

Verdict = Literal["better", "worse", "no_significant_difference", "not_enough_data"]
LabelSource = Literal["labeling", "feedback"]


class ClassMetrics(BaseModel):
    label: str
    support: int  # labelled predictions whose true label is this one
    predicted: int  # labelled predictions the model gave this label
    # None where the denominator is zero (the class never predicted, or never true).
    precision: float | None
    recall: float | None
    f1: float | None


class VersionConfusion(BaseModel):
    model_version: str
    labelled: int
    from_labeling: int
    from_feedback: int
    accuracy: float | None
    macro_f1: float | None
    labels: list[str]
    # matrix[i][j]: labelled predictions whose true label is labels[i] and predicted labels[j].
    matrix: list[list[int]]
    classes: list[ClassMetrics]


class ConfusionOut(BaseModel):
    task: str
    since: datetime
    until: datetime
    versions: list[VersionConfusion]


class AccuracyPoint(BaseModel):
    start: datetime
    labelled: int
    correct: int
    accuracy: float
    # 95 % Wilson interval of the accuracy.
    low: float
    high: float


class AccuracySeries(BaseModel):
    model_version: str
    labelled: int
    correct: int
    accuracy: float
    points: list[AccuracyPoint]


class AccuracyOut(BaseModel):
    task: str
    bucket: Bucket
    since: datetime
    until: datetime
    series: list[AccuracySeries]


class VolumePoint(BaseModel):
    start: datetime
    predictions: int
    labels: dict[str, int]


class VolumeSeries(BaseModel):
    task: str
    model_version: str
    model_alias: str
    predictions: int
    labels: dict[str, int]
    points: list[VolumePoint]


class FailurePoint(BaseModel):
    start: datetime
    task: str
    model_alias: str | None  # None: no model was serving the task
    texts: int


class VolumeOut(BaseModel):
    task: str | None
    bucket: Bucket
    since: datetime
    until: datetime
    predictions: int
    series: list[VolumeSeries]
    failures: list[FailurePoint]


class Interval(BaseModel):
    low: float
    high: float


class Arm(BaseModel):
    alias: str
    versions: list[str]
    predictions: int
    # Distinct (version, text) answers whose right label is known: repeats of a text are one.
    labelled: int
    correct: int
    accuracy: float | None
    accuracy_interval: Interval | None  # 95 % Wilson
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    failed_texts: int
    error_rate: float | None  # failed texts / (predictions + failed texts)


class SignificanceTest(BaseModel):
    name: Literal["z", "fisher"]
    p_value: float
    statistic: float | None


class AbOut(BaseModel):
    task: str
    since: datetime
    until: datetime
    alpha: float
    min_labelled: int
    production: Arm
    canary: Arm
    # canary accuracy − production accuracy, with Newcombe's 95 % interval.
    accuracy_difference: float | None
    difference_interval: Interval | None
    test: SignificanceTest | None
    # The canary against production, for a soak gate: "better", "worse",
    # "no_significant_difference", or "not_enough_data" (an arm has < min_labelled labels).
    verdict: Verdict
    reasons: list[str]


class DriftDay(BaseModel):
    day: datetime
    predictions: int
    enough_traffic: bool
    mean_score: float | None
    mean_text_chars: float | None
    psi_score: float | None
    psi_text_chars: float | None
    ks_score: float | None


class DriftOut(BaseModel):
    task: str
    reference_since: datetime
    reference_until: datetime
    reference_predictions: int
    min_volume: int
    days: list[DriftDay]
