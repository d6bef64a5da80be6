"""Prometheus metrics of the platform (scoring, quotas, model swaps), in a registry per
application instance so that tests and several apps in one process never collide."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "sentimentops_request_seconds",
            "Scoring request latency, by route, tenant and model version.",
            ["route", "tenant", "model_version"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "sentimentops_batch_size",
            "Texts per model pass (micro-batch), by model version.",
            ["model_version"],
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "sentimentops_scoring_errors_total",
            "Scoring requests that failed, by route and reason.",
            ["route", "reason"],
            registry=self.registry,
        )
        self.quota_rejections = Counter(
            "sentimentops_quota_rejections_total",
            "Requests refused by a tenant's rate limit.",
            ["tenant"],
            registry=self.registry,
        )
        self.predictions = Counter(
            "sentimentops_predictions_total",
            "Predictions served, by task, model version and label.",
            ["task", "model_version", "label"],
            registry=self.registry,
        )
        self.prediction_log_dropped = Counter(
            "sentimentops_prediction_log_dropped_total",
            "Prediction-log rows dropped because the writer fell behind.",
            registry=self.registry,
        )
        self.model_swaps = Counter(
            "sentimentops_model_swaps_total",
            "Model installs, by task, alias and outcome.",
            ["task", "alias", "outcome"],
            registry=self.registry,
        )
        self.model_info = Gauge(
            "sentimentops_model_loaded",
            "1 for each model version currently installed.",
            ["task", "alias", "name", "version"],
            registry=self.registry,
        )
