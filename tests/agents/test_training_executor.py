"""The Training Executor against the real platform (Temporal, OPA, the database, MLflow): an
experiment request becomes a typed, staging-only draft; revisions change the field asked for;
production is refused in words; a submitted plan that ended is reported to the thread with the
run, the version, the metrics against production and each gate's verdict; train_model's config
overrides are checked before anything runs and recorded with the run."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from sqlalchemy.orm import Session, sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from sentimentops.agents import flows as agent_flows
from sentimentops.agents.reports import Production, evaluation_report
from sentimentops.agents.schemas import AgentEvent, DecisionIn, MessageIn, ThreadIn
from sentimentops.agents.training_executor import PRODUCTION_REFUSAL
from sentimentops.agents.wiring import AgentRuntime, open_agent_runtime
from sentimentops.core.db import transaction
from sentimentops.core.policy import OpaPolicyEngine
from sentimentops.core.vocabulary import Role
from sentimentops.identity import service as identity
from sentimentops.identity.principal import Principal
from sentimentops.tools.catalogue import TOOLS
from sentimentops.tools.train_model import IDEMPOTENCY_HASH_TAG
from sentimentops.workflows.activities import ToolActivities
from sentimentops.workflows.flows import plan_detail_flow
from sentimentops.workflows.schemas import ToolCall
from tests.workflows.conftest import TENANT, Platform, approver, platform_settings
from tests.workflows.test_plans import _approve

pytestmark = pytest.mark.timeout(300)

TASK = "sarcasm"
# Enough sarcasm texts for the metric floors; tfidf_lr fits them in seconds.
TRAIN_SAMPLES = 3000
# Production's record: below what that training reaches, so the comparison passes.
PRODUCTION_METRICS = {"test_accuracy": 0.56, "test_macro_f1": 0.56}


@pytest.fixture
async def runtime(platform: Platform, opa_url: str) -> AsyncIterator[AgentRuntime]:
    """The agents as the API opens them, on the platform's database and checkpointer."""
    async with open_agent_runtime(
        platform.flows(), registry=lambda: platform.registry, policy=OpaPolicyEngine(opa_url)
    ) as rt:
        yield rt


def _production(platform: Platform, family: str = "tfidf_lr") -> str:
    """A production version with an evaluation record and the family it was trained with."""
    version = platform.register_version(TASK, alias="production")
    run_id = platform.registry.get_version(TASK, version).run_id
    assert run_id is not None
    for key, value in PRODUCTION_METRICS.items():
        platform.mlflow.log_metric(run_id, key, value)
    platform.mlflow.set_model_version_tag(TASK, version, "sentimentops.family", family)
    return version


async def _say(rt: AgentRuntime, who: Principal, thread_id: str, text: str) -> list[AgentEvent]:
    stream = await agent_flows.post_message_flow(rt, who, thread_id, MessageIn(content=text))
    return [event async for event in stream]


async def _decide(
    rt: AgentRuntime, who: Principal, thread_id: str, revision: int
) -> list[AgentEvent]:
    body = DecisionIn(action="submit", revision=revision)
    stream = await agent_flows.decide_flow(rt, who, thread_id, body)
    return [event async for event in stream]


async def _thread(rt: AgentRuntime, who: Principal) -> str:
    created = await agent_flows.create_thread_flow(rt, who, ThreadIn(agent="training-executor"))
    return created.id


async def test_a_request_becomes_a_staging_only_draft_and_revisions_change_the_field(
    platform: Platform, runtime: AgentRuntime
) -> None:
    production = _production(platform)
    erin = approver(platform.tenant, "erin", frozenset({Role.ML_ENGINEER}))
    thread = await _thread(runtime, erin)

    events = await _say(
        runtime, erin, thread, "try minilm with a lower learning rate on the newest sarcasm data"
    )
    assert events[-1].type == "draft_plan", events
    draft = events[-1].draft
    assert [s.tool for s in draft.steps] == [
        "validate_dataset",
        "train_model",
        "evaluate_model",
        "compare_models",
        "promote_model",
    ]
    train = draft.steps[1].params
    # Half the file's rate (training/configs/minilm_sarcasm.toml: 5e-5), as a typed override.
    assert train == {
        "task": TASK,
        "family": "minilm",
        "config_overrides": {"optim.learning_rate": 2.5e-5},
    }
    assert draft.steps[2].params["version"] == "${steps.1.version}"
    assert [s.gate for s in draft.steps] == [True, False, True, True, False]
    assert draft.steps[-1].params == {
        "task": TASK,
        "version": "${steps.1.version}",
        "target": "staging",
    }
    assert "optim.learning_rate: 5e-05 -> 2.5e-05" in draft.rationale
    assert "newest data" in draft.rationale
    assert f"production v{production} (test accuracy 0.5600" in draft.rationale
    assert any(e.tool == "list_model_versions" for e in draft.evidence)
    assert not any(s.params.get("target") == "production" for s in draft.steps)

    # A revision changes the field asked for and keeps the rest.
    events = await _say(runtime, erin, thread, "make it 2 epochs on a subset of 2000")
    revised = events[-1].draft  # type: ignore[union-attr]
    assert revised.revision == 2
    assert revised.steps[1].params == {
        "task": TASK,
        "family": "minilm",
        "config_overrides": {"optim.learning_rate": 2.5e-5, "optim.epochs": 2},
        "max_train_samples": 2000,
    }
    assert "optim.epochs: 1 -> 2" in revised.rationale
    assert revised.plan_hash != draft.plan_hash
    events = await _say(runtime, erin, thread, "lower the learning rate further")
    assert events[-1].draft.steps[1].params["config_overrides"] == {  # type: ignore[union-attr]
        "optim.learning_rate": 1.25e-5,
        "optim.epochs": 2,
    }

    # Production is refused in words; the draft keeps waiting.
    events = await _say(runtime, erin, thread, "now promote it to production")
    assert [e.type for e in events] == ["answer"], events
    assert PRODUCTION_REFUSAL in events[0].text  # type: ignore[union-attr]
    state = await agent_flows.get_thread_flow(runtime, erin, thread)
    assert state.draft is not None
    assert state.draft.revision == 3

    # A request that names production and an experiment: the plan stops at staging, and says so.
    other = await _thread(runtime, erin)
    events = await _say(
        runtime, erin, other, "train notebook for sarcasm with lr 1e-3 and ship it to production"
    )
    proposed = events[-1].draft  # type: ignore[union-attr]
    assert PRODUCTION_REFUSAL in proposed.rationale
    assert proposed.steps[1].params["config_overrides"] == {"optim.learning_rate": 1e-3}
    assert proposed.steps[-1].params["target"] == "staging"

    # Unknown family or task, or a setting the family lacks: a question, not a plan.
    asks = {
        "train roberta for sarcasm": "cannot train roberta",
        "try a lower learning rate": "Which task",
        # No family named: production's (tfidf_lr), which has no learning rate.
        "retrain sarcasm with a higher learning rate": "has no learning rate",
        "promote sarcasm v1 to production": PRODUCTION_REFUSAL,
    }
    for message, expected in asks.items():
        fresh = await _thread(runtime, erin)
        events = await _say(runtime, erin, fresh, message)
        assert events[-1].type == "answer", (message, events)
        assert expected in events[-1].text, (message, events[-1])


async def test_a_finished_plan_is_reported_to_the_thread(
    platform: Platform, runtime: AgentRuntime
) -> None:
    production = _production(platform)
    erin = approver(platform.tenant, "erin", frozenset({Role.ML_ENGINEER}))
    thread = await _thread(runtime, erin)
    events = await _say(
        runtime, erin, thread, f"train tfidf for sarcasm on a subset of {TRAIN_SAMPLES}"
    )
    draft = events[-1].draft  # type: ignore[union-attr]
    [submitted] = await _decide(runtime, erin, thread, draft.revision)
    workflow_id = submitted.plan.workflow_id  # type: ignore[union-attr]

    # An agent's plan: nothing runs before a human (not the asker) approves its hash.
    waiting = await platform.wait_for(workflow_id, {"waiting_approval", "failed"})
    assert waiting.status == "waiting_approval", waiting.message
    assert waiting.current_step == 0
    # Still running: no report yet.
    state = await agent_flows.get_thread_flow(runtime, erin, thread)
    assert not any(m.content.startswith(f"Plan {workflow_id}") for m in state.messages)
    approval_id = waiting.steps[0].approval_id
    assert approval_id is not None
    with platform.sessions() as session:
        await _approve(platform, session, approval_id, name="olga")
    done = await platform.wait_for(
        workflow_id, {"completed", "failed", "gate_failed", "denied"}, within=240
    )
    assert done.status == "completed", done.message
    train = done.steps[1].result
    assert train is not None
    version, run_id = train["version"], train["run_id"]
    assert platform.alias("staging") == version  # staging without a second approval
    assert platform.alias("production") == production

    state = await agent_flows.get_thread_flow(runtime, erin, thread)
    report = state.messages[-1].content
    assert report.startswith(f"Plan {workflow_id} ended: completed")
    assert f"MLflow run {run_id}, registered as version {version}" in report
    assert f"Metrics of v{version} vs production v{production}:" in report
    accuracy = train["metrics"]["test_accuracy"]
    delta = accuracy - PRODUCTION_METRICS["test_accuracy"]
    assert f"- test accuracy: {accuracy:.4f} vs 0.5600 ({delta:+.4f})" in report
    assert "- per domain:" in report
    assert "  - headlines: accuracy " in report
    assert "robustness" in report
    assert "- validate_dataset: passed" in report
    assert "- evaluate_model: passed" in report
    assert "- compare_models: passed" in report
    assert f"Staging: v{version}; production unchanged." in report

    # Reported once, however often the thread is read; the text is the pure function's.
    again = await agent_flows.get_thread_flow(runtime, erin, thread)
    assert [m.content for m in again.messages].count(report) == 1
    detail = await plan_detail_flow(platform.flows(), erin, workflow_id)
    assert evaluation_report(detail, production=None) == report
    # Without a comparison step's record, production's registry record is the baseline.
    no_compare = detail.model_copy(deep=True)
    assert no_compare.progress is not None
    no_compare.progress.steps = [s for s in no_compare.progress.steps if s.tool != "compare_models"]
    fallback = evaluation_report(no_compare, production=Production("7", {"test_accuracy": 0.5}))
    assert f"Metrics of v{version} vs production v7:" in fallback
    assert f"- test accuracy: {accuracy:.4f} vs 0.5000" in fallback


async def test_train_model_overrides_are_checked_first_and_recorded(
    app_sessions: sessionmaker[Session], opa_url: str, tmp_path: Path
) -> None:
    settings = platform_settings(tmp_path)
    tools = ToolActivities(
        settings=settings, policy=OpaPolicyEngine(opa_url), sessions=app_sessions
    )
    with transaction(app_sessions) as s:
        identity.create_tenant(s, actor="test", slug=TENANT)
    uri = settings.resolved_mlflow_tracking_uri
    mlflow = MlflowClient(uri, registry_uri=uri)
    env = ActivityEnvironment()

    def call(overrides: dict[str, float | int | str | bool]) -> ToolCall:
        return ToolCall(
            tool="train_model",
            tenant=TENANT,
            actor="alice",
            idempotency_key="plan-x:1",
            params={"task": TASK, "max_train_samples": 300, "config_overrides": overrides},
        )

    with pytest.raises(ApplicationError, match=r"unknown config key 'classifier\.c'") as refused:
        await env.run(tools.run_tool, TOOLS["train_model"], call({"classifier.c": 2.0}))
    assert refused.value.type == "InvalidInput"
    assert refused.value.non_retryable
    with pytest.raises(ApplicationError, match=r"classifier\.C: Input should be greater than 0"):
        await env.run(tools.run_tool, TOOLS["train_model"], call({"classifier.C": -1.0}))
    assert mlflow.search_model_versions(f"name='{TASK}'") == []  # nothing was trained

    output = await env.run(tools.run_tool, TOOLS["train_model"], call({"classifier.C": 2.0}))
    run = mlflow.get_run(output["run_id"])
    assert run.data.params["classifier.C"] == "2.0"  # the file says 8.0
    assert json.loads(run.data.tags["sentimentops.config_overrides"]) == {"classifier.C": 2.0}
    [version] = mlflow.search_model_versions(f"name='{TASK}'")
    # The overrides are part of the key a retry finds its version by.
    plain = hashlib.sha256(f"{TENANT}:plan-x:1".encode()).hexdigest()
    assert version.tags[IDEMPOTENCY_HASH_TAG] != plain
    assert version.tags["sentimentops.config_overrides"] == '{"classifier.C": 2.0}'
