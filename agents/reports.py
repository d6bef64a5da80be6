"""The Training Executor's report on a plan that ended: what was trained (the MLflow run and the
registered version), its metrics against production's (overall, per domain, slices, robustness,
latency when logged), each gate's verdict with its reasons, and where staging stands.

A pure function of the plan's detail (the step results the plan workflow recorded) and
production's registry record; agents/flows.py posts its text to the thread."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sentimentops.workflows.schemas import PlanDetail, StepState

GATED_TOOLS = ("validate_dataset", "evaluate_model", "compare_models")
OVERALL: tuple[tuple[str, str], ...] = (
    ("test_accuracy", "test accuracy"),
    ("test_macro_f1", "test macro-F1"),
    ("test_roc_auc", "test ROC-AUC"),
    ("test_ece", "test calibration error (ECE)"),
    ("worst_domain_accuracy", "worst-domain accuracy"),
    ("worst_domain_macro_f1", "worst-domain macro-F1"),
)
# Metric name prefixes and suffixes of the families of figures training logs
# (training/service.py _metrics): per domain, length slices, out-of-domain, robustness.
DOMAIN_PREFIX = "domain_"
DOMAIN_METRICS = (("_accuracy", "accuracy"), ("_macro_f1", "macro-F1"))
SLICE_PREFIX = "slice_len_"
OOD_PREFIX = "ood_"
FLIP_PREFIX = "flip_rate_"
ACCURACY = "_accuracy"


@dataclass(frozen=True)
class Production:
    """Production's version and metrics as the registry holds them now (the fallback baseline
    when the plan stopped before its comparison)."""

    version: str
    metrics: dict[str, float]


def _step(detail: PlanDetail, tool: str) -> StepState | None:
    """The last main-line (not fallback) step of `tool`."""
    if detail.progress is None:
        return None
    found = [s for s in detail.progress.steps if s.tool == tool and s.fallback_of is None]
    return found[-1] if found else None


def _num(value: float) -> str:
    return f"{value:.4f}"


def _value(key: str, candidate: dict[str, float], base: dict[str, float] | None) -> str:
    """The candidate's figure, and production's with the difference when it has one."""
    value = candidate[key]
    if base is None or not isinstance(base.get(key), int | float):
        return _num(value)
    return f"{_num(value)} vs {_num(base[key])} ({value - base[key]:+.4f})"


def _line(label: str, key: str, candidate: dict[str, float], base: dict[str, float] | None) -> str:
    return f"- {label}: {_value(key, candidate, base)}"


def _named(keys: Iterable[str], prefix: str, suffix: str = "") -> list[str]:
    return sorted(k for k in keys if k.startswith(prefix) and k.endswith(suffix))


def _label(key: str, prefix: str, suffix: str = "") -> str:
    return key.removeprefix(prefix).removesuffix(suffix).replace("_", " ")


def _domain_lines(candidate: dict[str, float], base: dict[str, float] | None) -> list[str]:
    """One line per domain: its accuracy and macro-F1."""
    lines = []
    for accuracy in _named(candidate, DOMAIN_PREFIX, ACCURACY):
        name = accuracy.removesuffix(ACCURACY)
        figures = [
            f"{label} {_value(name + suffix, candidate, base)}"
            for suffix, label in DOMAIN_METRICS
            if name + suffix in candidate
        ]
        lines.append(f"  - {_label(name, DOMAIN_PREFIX)}: {', '.join(figures)}")
    return lines


def _metric_lines(candidate: dict[str, float], base: dict[str, float] | None) -> list[str]:
    lines = [_line(label, key, candidate, base) for key, label in OVERALL if key in candidate]
    domains = _domain_lines(candidate, base)
    if domains:
        lines += ["- per domain:", *domains]
    groups = (
        ("length slices (words), accuracy", SLICE_PREFIX, ACCURACY),
        ("out of domain, accuracy", OOD_PREFIX, ACCURACY),
        ("robustness, share of answers a small edit flips", FLIP_PREFIX, ""),
    )
    for title, prefix, suffix in groups:
        keys = _named(candidate, prefix, suffix)
        if keys:
            lines.append(f"- {title}:")
            lines += [
                "  " + _line(_label(key, prefix, suffix), key, candidate, base) for key in keys
            ]
    latency = sorted(k for k in candidate if "latency" in k)
    lines += [_line(key.replace("_", " "), key, candidate, base) for key in latency]
    if not latency:
        lines.append("- latency: not logged by this training (the soak measures it in serving)")
    return lines


def _gate_lines(detail: PlanDetail) -> list[str]:
    lines = []
    for tool in GATED_TOOLS:
        step = _step(detail, tool)
        if step is None:
            continue
        result = step.result or {}
        if "passed" in result:
            verdict = "passed" if result["passed"] else "failed"
            reasons = [str(r) for r in result.get("reasons") or []]
            lines.append(f"- {tool}: {verdict}" + (f" ({'; '.join(reasons)})" if reasons else ""))
        else:
            why = step.error or "; ".join(step.policy_reasons)
            lines.append(f"- {tool}: {step.status}" + (f" ({why})" if why else ""))
    return lines


def _staging_line(detail: PlanDetail, version: str | None) -> str:
    step = _step(detail, "promote_model")
    if step is not None and step.status == "succeeded" and step.result:
        previous = step.result.get("previous_version")
        moved = f"v{previous} -> " if previous else ""
        return f"Staging: {moved}v{step.result.get('version')}; production unchanged."
    what = f"v{version}" if version else "no version"
    status = step.status if step is not None else "not reached"
    return f"Staging: not moved ({what} stays a candidate; the promotion step: {status})."


def evaluation_report(detail: PlanDetail, *, production: Production | None) -> str:
    """The text of the report (see the module docstring)."""
    plan = detail.plan
    head = f"Plan {plan.id} ended: {plan.status}" + (f" ({plan.message})" if plan.message else "")
    if detail.progress is None:
        return head + ". Temporal no longer holds its step results; MLflow has the run."
    lines = [head + "."]
    train = _step(detail, "train_model")
    result: dict[str, Any] = (train.result if train is not None else None) or {}
    version = str(result["version"]) if "version" in result else None
    if train is None or version is None:
        status = train.status if train is not None else "not reached"
        reason = (train.error if train is not None else None) or ""
        lines.append(f"Training: {status}" + (f" ({reason})" if reason else "") + ".")
    else:
        params = train.params or {}
        overrides = params.get("config_overrides") or {}
        changed = ", ".join(f"{k} = {v}" for k, v in sorted(overrides.items()))
        lines.append(
            f"Training: {params.get('family', '?')} for {result.get('model_name', '?')}, "
            f"MLflow run {result.get('run_id')}, registered as version {version}"
            + (f" (config overrides: {changed})" if changed else "")
            + "."
        )
        compare = _step(detail, "compare_models")
        compared = (compare.result if compare is not None else None) or {}
        base: dict[str, float] | None = compared.get("baseline_metrics")
        base_version = compared.get("baseline_version")
        if base is None and production is not None:
            base, base_version = production.metrics, production.version
        against = f" vs production v{base_version}" if base is not None else " (no production)"
        lines.append(f"Metrics of v{version}{against}:")
        lines += _metric_lines(result.get("metrics") or {}, base)
    gates = _gate_lines(detail)
    if gates:
        lines.append("Gates:")
        lines += gates
    lines.append(_staging_line(detail, version))
    return "\n".join(lines)
