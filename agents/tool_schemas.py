"""The tool catalogue as an LLM sees it: OpenAI function schemas and LangChain tools.

The LangChain tools made here do not run anything: calling one returns a plan step for the
plan execution workflow, so an agent can only propose, and every step still passes policy and
approval there."""

from __future__ import annotations

from typing import Any

from langchain_core.tools import StructuredTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from sentimentops.tools.catalogue import TOOLS, AnySpec


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
