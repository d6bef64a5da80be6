"""The typed tools as an LLM sees them: names, descriptions, JSON schemas, LangChain tools."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sentimentops.agents.tool_schemas import langchain_tools, openai_tool_schemas
from sentimentops.tools.catalogue import TOOLS

EXPECTED = {
    "validate_dataset", "train_model", "evaluate_model", "compare_models", "promote_model",
    "rollback_model", "set_canary", "score_texts", "get_service_metrics", "detect_drift",
    "search_kb", "create_relabel_project", "feedback_accuracy",
}  # fmt: skip


def test_every_tool_is_described_for_an_llm() -> None:
    assert set(TOOLS) == EXPECTED
    for schema in openai_tool_schemas():
        function = schema["function"]
        assert function["name"] in EXPECTED
        assert len(function["description"]) > 80, function["name"]
        assert "idempotency_key" not in function["parameters"]["properties"]
        assert function["parameters"]["additionalProperties"] is False
    assert TOOLS["train_model"].queue == "training"
    assert TOOLS["train_model"].heartbeat


def test_langchain_tools_propose_plan_steps_and_validate() -> None:
    tools = {t.name: t for t in langchain_tools()}
    step = tools["promote_model"].invoke({"task": "sarcasm", "target": "production"})
    assert step == {"tool": "promote_model", "params": {"task": "sarcasm", "target": "production"}}
    with pytest.raises(ValidationError):
        tools["set_canary"].invoke({"task": "sarcasm", "share": 3})
