"""The Data Curation agent against the real platform (Temporal, OPA, the database): curating a
version with label errors writes a thread every chatter of the tenant reads, with the report
and a relabeling proposal waiting as a draft; nothing is made until a person submits it and a
human approves the plan, and then the project holds exactly the suspect rows, served most
suspect first. Rule-level answers of the backend are checked without the platform."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from sentimentops.agents import flows as agent_flows
from sentimentops.agents.backend import Answer, Proposal, Turn
from sentimentops.agents.curation_agent import (
    CURATION_HEADER,
    HELP,
    CurationAgentBackend,
    CurationFacts,
    SuspectFact,
    facts_message,
)
from sentimentops.agents.schemas import AgentEvent, DecisionIn
from sentimentops.agents.service import CURATION_AUTHOR
from sentimentops.agents.wiring import AgentRuntime, open_agent_runtime
from sentimentops.approvals.flows import decide_approval_flow
from sentimentops.core.db import transaction
from sentimentops.core.errors import Forbidden, InvalidInput
from sentimentops.core.policy import OpaPolicyEngine
from sentimentops.core.vocabulary import Role
from sentimentops.curation.flows import curate_dataset_flow
from sentimentops.labeling.models import LabelingItem, LabelingProject
from sentimentops.tools.base import ToolContext
from sentimentops.tools.catalogue import TOOLS
from sentimentops.training.datasets import service as datasets
from sentimentops.training.datasets.models import DatasetVersion
from sentimentops.workflows.models import PlanExecution
from tests.agents.conftest import agent_toolbox
from tests.curation.synthetic import labelled
from tests.workflows.conftest import Platform, approver

pytestmark = pytest.mark.timeout(300)


def _version(platform: Platform) -> tuple[DatasetVersion, set[str]]:
    frame, flipped = labelled(300, flips=10, seed=3)
    with transaction(platform.sessions) as session:
        version, _ = datasets.record_version(
            session,
            settings=platform.settings,
            owner=datasets.Owner(
                tenant_id=platform.tenant.id, tenant_label=platform.tenant.slug, actor="test"
            ),
            name="headlines",
            task="sarcasm",
            frame=frame,
            parent_ids=[],
            transform="ingest",
            transform_params={},
            source_name="headlines.csv",
            source_sha256=None,
        )
        session.expunge(version)
    return version, flipped


async def _decide(
    rt: AgentRuntime, principal: Any, thread_id: str, body: DecisionIn
) -> list[AgentEvent]:
    stream = await agent_flows.decide_flow(rt, principal, thread_id, body)
    return [event async for event in stream]


@pytest.mark.parametrize("fresh_db_url", ["sqlite", "postgresql"], indirect=True)
async def test_the_relabeling_proposal_waits_for_a_human_then_makes_the_project(
    platform: Platform, opa_url: str
) -> None:
    version, flipped = _version(platform)
    policy = OpaPolicyEngine(opa_url)
    erin = approver(platform.tenant, "erin", frozenset({Role.ML_ENGINEER}))

    report = await curate_dataset_flow(
        platform.flows(),
        erin,
        version.id,
        annotators=["anna", "arne"],
        policy=policy,
        registry=lambda: platform.registry,
    )
    assert report.suspects
    assert {s.row_id for s in report.suspects} <= flipped
    assert report.thread_id is not None
    assert report.draft_plan_hash is not None

    async with open_agent_runtime(
        platform.flows(), registry=lambda: platform.registry, policy=policy
    ) as rt:
        # Every chatter of the tenant reads the curation thread, written by the system.
        viewer = approver(platform.tenant, "vera", frozenset({Role.VIEWER}))
        [listed] = await agent_flows.list_threads_flow(rt, viewer)
        assert (listed.id, listed.agent, listed.created_by) == (
            report.thread_id,
            "data-curation",
            CURATION_AUTHOR,
        )
        thread = await agent_flows.get_thread_flow(rt, viewer, listed.id)
        assert thread.messages[0].content.startswith(CURATION_HEADER)
        summary = thread.messages[-1].content
        assert f"version {version.id}, 300 rows" in summary
        assert "Drift: no earlier version of this dataset to compare with." in summary
        assert f"Likely label errors: {len(report.suspects)} rows" in summary

        draft = thread.draft
        assert draft is not None
        assert draft.plan_hash == report.draft_plan_hash
        [step] = draft.steps
        assert step.tool == "create_relabel_project"
        assert step.params["dataset_id"] == version.id
        assert step.params["row_ids"] == [s.row_id for s in report.suspects]
        assert step.params["scores"] == [s.score for s in report.suspects]
        assert step.params["annotators"] == ["anna", "arne"]

        # Nothing was made by proposing.
        with platform.sessions() as session:
            assert session.scalar(select(func.count()).select_from(LabelingProject)) == 0
            assert session.scalar(select(func.count()).select_from(PlanExecution)) == 0

        # A person submits the draft; the plan's state-changing step waits for a human.
        events = await _decide(
            rt, erin, thread.id, DecisionIn(action="submit", revision=draft.revision)
        )
        assert [e.type for e in events] == ["submitted"], events
        accepted = events[0].plan  # type: ignore[union-attr]
        waiting = await platform.wait_for(accepted.workflow_id, {"waiting_approval", "failed"})
        assert waiting.status == "waiting_approval", waiting.message
        with platform.sessions() as session:
            assert session.scalar(select(func.count()).select_from(LabelingProject)) == 0
        approval_id = waiting.steps[0].approval_id
        assert approval_id is not None
        # The person who ran the curation asked for the proposal: the approval policy refuses
        # them; the data steward (an approver) approves the plan.
        for name, allowed in (("erin", False), ("dana", True)):
            decided = decide_approval_flow(
                platform.flows(),
                approver(platform.tenant, name),
                approval_id=approval_id,
                approve=True,
                plan_hash=accepted.plan_hash,
                policy=policy,
            )
            if allowed:
                await decided
            else:
                with pytest.raises(Forbidden, match="asked the agent for this plan"):
                    await decided
        done = await platform.wait_for(accepted.workflow_id, {"completed", "failed", "denied"})
        assert done.status == "completed", done.message

    result = done.steps[0].result or {}
    with platform.sessions() as session:
        project = session.get(LabelingProject, result["project_id"])
        assert project is not None
        assert project.order == "suspected_error"
        assert project.annotators == ["anna", "arne"]
        assert project.item_count == len(report.suspects)
        subset = session.get(DatasetVersion, project.source_dataset_id)
        assert subset is not None
        assert subset.parent_ids == [version.id]
        assert subset.transform == "select_suspected"
        items = dict(
            session.execute(
                select(LabelingItem.source_ref, LabelingItem.suspected_error).where(
                    LabelingItem.project_id == project.id
                )
            ).all()
        )
    assert items == {s.row_id: s.score for s in report.suspects}

    # The step again (a retried activity) returns the project it made; rows the version does
    # not hold are refused.
    tool = TOOLS["create_relabel_project"]
    context = ToolContext(
        settings=platform.settings,
        sessions=platform.sessions,
        policy=policy,
        registry=lambda: platform.registry,
        tenant=platform.tenant.slug,
        actor="human:erin",
    )
    repeated = await tool.call(context, step.params)
    assert (repeated.project_id, repeated.created) == (project.id, False)
    with pytest.raises(InvalidInput, match="none of the row ids"):
        await tool.call(context, {**step.params, "row_ids": ["nope"], "scores": [0.5]})


def _facts(**changes: Any) -> CurationFacts:
    values: dict[str, Any] = {
        "tenant": "acme",
        "dataset_version_id": "ab" * 16,
        "dataset_name": "headlines",
        "task": "sarcasm",
        "rows": 300,
        "validation_passed": False,
        "validation_failures": ["3 rows break the rule: non-empty text (column text)."],
        "previous_version_id": "cd" * 16,
        "drift": ["Columns added: split."],
        "issue_id": "ef" * 16,
        "suspects": [
            SuspectFact(
                row_id="r1", given_label="sarcastic", suggested_label="not_sarcastic", score=0.9
            )
        ],
        "annotators": ["anna"],
    }
    return CurationFacts(**{**values, **changes})


async def test_the_backend_reports_in_words_and_proposes_only_with_suspects(
    platform: Platform, opa_url: str
) -> None:
    backend = CurationAgentBackend()
    tools = agent_toolbox(platform, opa_url, [])

    proposal = await backend.respond(
        Turn(agent="data-curation", tenant="acme", message=facts_message(_facts())), tools
    )
    assert isinstance(proposal, Proposal)
    assert "Validation failed (1 checks): 3 rows break the rule: non-empty text" in (
        proposal.rationale
    )
    assert f"Drift from version {'cd' * 16}: Columns added: split." in proposal.rationale
    assert f"I opened data issue {'ef' * 16}" in proposal.rationale
    assert "row r1: labelled sarcastic, likely not_sarcastic (score 0.90)" in proposal.rationale

    clean = await backend.respond(
        Turn(
            agent="data-curation",
            tenant="acme",
            message=facts_message(_facts(suspects=[], suspects_note="too few rows")),
        ),
        tools,
    )
    assert isinstance(clean, Answer)
    assert "Likely label errors: none found. (too few rows)" in clean.text

    # A message that only looks like a report (broken JSON) is not one; nor is plain chat.
    for message in (CURATION_HEADER + "\n{not json", "relabel everything now"):
        answer = await backend.respond(
            Turn(agent="data-curation", tenant="acme", message=message), tools
        )
        assert isinstance(answer, Answer)
        assert answer.text == HELP
