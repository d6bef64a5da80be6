"""The tool catalogue: every tool's spec by name. (Its LLM-facing exports live with the agents:
agents/tool_schemas.py; the model registry is core/model_registry.py.)"""

from __future__ import annotations

from typing import Any

from sentimentops.tools import (
    compare_models,
    create_relabel_project,
    detect_drift,
    evaluate_model,
    feedback_accuracy,
    get_service_metrics,
    promote_model,
    rollback_model,
    score_texts,
    search_kb,
    set_canary,
    train_model,
    validate_dataset,
)
from sentimentops.tools.base import ToolSpec

AnySpec = ToolSpec[Any, Any]

TOOLS: dict[str, AnySpec] = {
    spec.name: spec
    for spec in (
        validate_dataset.SPEC,
        train_model.SPEC,
        evaluate_model.SPEC,
        compare_models.SPEC,
        promote_model.SPEC,
        rollback_model.SPEC,
        set_canary.SPEC,
        score_texts.SPEC,
        get_service_metrics.SPEC,
        detect_drift.SPEC,
        feedback_accuracy.SPEC,
        search_kb.SPEC,
        create_relabel_project.SPEC,
    )
}
