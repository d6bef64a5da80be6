"""The operator CLI against a running platform: start a plan from a file, watch it, approve
the waiting step (the proposer is refused), and see it complete."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.client import Client

from sentimentops.workflows.schemas import PlanIn, PlanStep
from tests.workflows.conftest import cli_env, cli_platform, make_plan, run_cli


@pytest.mark.parametrize("fresh_db_url", ["sqlite"], indirect=True)
async def test_plan_run_and_approve_from_the_cli(
    temporal_client: Client, opa_url: str, fresh_db_url: str, tmp_path: Path
) -> None:
    async with cli_platform(temporal_client, opa_url, fresh_db_url, tmp_path) as platform:
        version = platform.register_version()
        step = PlanStep(
            tool="promote_model",
            params={"task": "sarcasm", "target": "production", "version": version},
        )
        plan_file = tmp_path / "plan.json"
        plan_file.write_text(PlanIn(rationale="promote", steps=[step]).model_dump_json())
        env = cli_env(platform, fresh_db_url)

        started = await run_cli(
            env, "plan", "run", str(plan_file), "--tenant", "acme", "--as", "alice"
        )
        assert started.exit_code == 0, started.output
        workflow_id = started.output.split("started ", 1)[1].split()[0]
        waiting = await platform.wait_for(workflow_id, {"waiting_approval"})
        approval_id = waiting.steps[0].approval_id
        assert approval_id is not None

        shown = await run_cli(env, "workflows", "show", workflow_id)
        assert "waiting_approval" in shown.output
        listed = await run_cli(env, "approvals", "list", "--tenant", "acme", "--as", "bob")
        assert approval_id[:8] in listed.output  # rich wraps the column at 80 characters
        refused = await run_cli(
            env, "approvals", "approve", approval_id, "--tenant", "acme", "--as", "alice"
        )
        assert refused.exit_code == 1
        assert "proposer" in refused.output
        approved = await run_cli(
            env,
            "approvals",
            "approve",
            approval_id,
            "--tenant",
            "acme",
            "--as",
            "bob",
            "--plan-hash",
            waiting.plan_hash,
        )
        assert approved.exit_code == 0, approved.output
        done = await platform.wait_for(workflow_id, {"completed", "failed"})
        assert done.status == "completed", done.message
        assert platform.alias("production") == version


@pytest.mark.parametrize("fresh_db_url", ["sqlite"], indirect=True)
async def test_cancel_a_plan_and_stop_a_sentry_from_the_cli(
    temporal_client: Client, opa_url: str, fresh_db_url: str, tmp_path: Path
) -> None:
    from temporalio.client import WorkflowExecutionStatus

    async with cli_platform(temporal_client, opa_url, fresh_db_url, tmp_path) as platform:
        env = cli_env(platform, fresh_db_url)
        version = platform.register_version()
        workflow_id = await platform.start(
            make_plan(
                PlanStep(
                    tool="promote_model",
                    params={"task": "sarcasm", "target": "production", "version": version},
                )
            )
        )
        await platform.wait_for(workflow_id, {"waiting_approval"})

        # The CLI checks the same cancel policy as the API: only the proposer or a tenant admin.
        refused = await run_cli(
            env, "workflows", "cancel", workflow_id, "--tenant", "acme", "--as", "carol"
        )
        assert refused.exit_code == 1
        assert "only the proposer of a plan or a tenant admin" in refused.output
        cancelled = await run_cli(
            env,
            "workflows",
            "cancel",
            workflow_id,
            "--tenant",
            "acme",
            "--as",
            "carol",
            "--role",
            "tenant_admin",
        )
        assert cancelled.exit_code == 0, cancelled.output
        assert (await platform.wait_for(workflow_id, {"cancelled"})).status == "cancelled"
        again = await run_cli(
            env, "workflows", "cancel", workflow_id, "--tenant", "acme", "--as", "alice"
        )
        assert again.exit_code == 1
        assert "already ended (cancelled)" in again.output

        started = await run_cli(
            env, "sentry", "start", "--task", "sarcasm", "--tenant", "acme", "--interval", "3600"
        )
        assert started.exit_code == 0, started.output
        sentry_id = "sentry-acme-sarcasm"
        handle = platform.client.get_workflow_handle(sentry_id)
        stopped = await run_cli(env, "sentry", "stop", "--task", "sarcasm", "--tenant", "acme")
        assert stopped.exit_code == 0, stopped.output
        for _ in range(100):
            if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
                break
            await asyncio.sleep(0.1)
        assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED
