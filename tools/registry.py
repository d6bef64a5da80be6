"""Every tool by name, and their exports as LLM tool schemas.

The LangChain tools made here do not run anything: calling one returns a plan step for the
plan execution workflow, so an agent can only propose, and every step still passes policy and
approval there."""

from __future__ import annotations

from typing import Any

from langchain_core.tools import StructuredTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from sentimentops.tools import (
    compare_models,
    detect_drift,
    evaluate_model,
    get_service_metrics,
    promote_model,
    rollback_model,
    score_texts,
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
    )
}


def openai_tool_schema(spec: AnySpec) -> dict[str, Any]:
    """The tool as an OpenAI/LangChain function schema (name, description, JSON parameters)."""
    schema = convert_to_openai_tool(spec.input_model)
    parameters = schema["function"]["parameters"]
    # Plans fill in idempotency keys themselves; an LLM should not invent them.
    parameters.get("properties", {}).pop("idempotency_key", None)
    return {
        "type": "function",
        "function": {"name": spec.name, "description": spec.description, "parameters": parameters},
    }


def openai_tool_schemas() -> list[dict[str, Any]]:
    return [openai_tool_schema(spec) for spec in TOOLS.values()]


def _proposer(spec: AnySpec) -> Any:
    def propose(**params: Any) -> dict[str, Any]:
        # Validated now so that the agent sees its mistakes at once, not when the plan runs.
        checked = spec.input_model.model_validate(params)
        return {"tool": spec.name, "params": checked.model_dump(mode="json", exclude_none=True)}

    return propose


def langchain_tools() -> list[StructuredTool]:
    """LangChain StructuredTools whose call returns a plan step ({tool, params})."""
    return [
        StructuredTool.from_function(
            func=_proposer(spec),
            name=spec.name,
            description=spec.description,
            args_schema=spec.input_model,
        )
        for spec in TOOLS.values()
    ]
