"""The plan and sentry commands against a running platform (Temporal dev server, OPA, workers):
the plan's own status rather than Temporal's, `--tenant`, id prefixes, `--json`, and the real
`sentimentops` process leaving cleanly after talking to Temporal."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from sentimentops.core.db import transaction
from sentimentops.core.policy import Principal as PolicyPrincipal
from sentimentops.identity import service as identity
from sentimentops.workflows.schemas import PlanStep
from tests.workflows.conftest import TENANT, cli_env, cli_platform, make_plan, run_cli


async def _ok(env: dict[str, str], *args: str) -> str:
    result = await run_cli(env, *args)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("fresh_db_url", ["sqlite"], indirect=True)
async def test_plans_show_their_own_status_per_tenant_and_resolve_prefixes(
    temporal_client: Client, opa_url: str, fresh_db_url: str, tmp_path: Path
) -> None:
    async with cli_platform(temporal_client, opa_url, fresh_db_url, tmp_path) as platform:
        env = cli_env(platform, fresh_db_url)
        viewer = PolicyPrincipal(subject="vic", kind="human", roles=["viewer"], tenant=TENANT)
        denied = await platform.start(
            make_plan(
                PlanStep(tool="set_canary", params={"task": "sarcasm", "share": 0.5}),
                proposer=viewer,
            )
        )
        assert (await platform.wait_for(denied, {"denied", "completed"})).status == "denied"
        version = platform.register_version()
        waiting = await platform.start(
            make_plan(
                PlanStep(
                    tool="promote_model",
                    params={"task": "sarcasm", "target": "production", "version": version},
                )
            )
        )
        progress = await platform.wait_for(waiting, {"waiting_approval"})
        approval_id = progress.steps[0].approval_id
        assert approval_id is not None
        # What Temporal says of the denied plan: its workflow ended normally.
        described = await platform.client.get_workflow_handle(denied).describe()
        assert described.status == WorkflowExecutionStatus.COMPLETED

        listed = json.loads(await _ok(env, "workflows", "list", "--json"))  # the only tenant
        assert {p["id"]: p["status"] for p in listed} == {
            denied: "denied",
            waiting: "waiting_approval",
        }
        table = await _ok(env, "workflows", "list")
        assert denied in table  # whole, at 80 columns
        assert "COMPLETED" not in table
        only_denied = await _ok(env, "workflows", "list", "--status", "denied", "--json")
        assert [p["id"] for p in json.loads(only_denied)] == [denied]

        # A second tenant: its list is its own, and a bare command must name one.
        with transaction(platform.sessions) as session:
            identity.create_tenant(session, actor="test", slug="beta")
        assert json.loads(await _ok(env, "workflows", "list", "--tenant", "beta", "--json")) == []
        several = await run_cli(env, "workflows", "list")
        assert several.exit_code == 1
        assert "pass --tenant (acme, beta)" in several.output
        hidden = await run_cli(env, "workflows", "show", denied, "--tenant", "beta")
        assert hidden.exit_code == 1
        assert "plan not found" in hidden.output

        # Prefixes: `plan-acme-` starts both plans; more of the id names one.
        ambiguous = await run_cli(env, "workflows", "show", "plan-acme-", "--tenant", "acme")
        assert ambiguous.exit_code == 1
        assert "matches several plans" in ambiguous.output
        shown = await _ok(env, "workflows", "show", denied[:-3], "--tenant", "acme")
        assert f"{denied}  status: denied" in shown
        detail = json.loads(
            await _ok(env, "workflows", "show", waiting[:-3], "--tenant", "acme", "--json")
        )
        assert detail["plan"]["status"] == "waiting_approval"
        assert detail["progress"]["steps"][0]["approval_id"] == approval_id

        approved = await _ok(
            env, "approvals", "approve", approval_id[:10], "--tenant", "acme", "--as", "bob"
        )
        assert approval_id in approved
        done = await platform.wait_for(waiting, {"completed", "failed"})
        assert done.status == "completed", done.message


def _run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The command as a person runs it: its own process, ending through the entry point."""
    return subprocess.run(
        [sys.executable, "-m", "sentimentops.app.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("fresh_db_url", ["sqlite"], indirect=True)
async def test_sentry_status_reads_as_text_or_json_and_the_process_exits_cleanly(
    temporal_client: Client, opa_url: str, fresh_db_url: str, tmp_path: Path
) -> None:
    async with cli_platform(temporal_client, opa_url, fresh_db_url, tmp_path) as platform:
        env = cli_env(platform, fresh_db_url)
        await _ok(env, "sentry", "start", "--task", "sarcasm", "--interval", "3600")
        try:
            # Off the event loop: the sentry's worker, in this process, answers the query.
            text = await asyncio.to_thread(_run_cli, env, "sentry", "status", "--task", "sarcasm")
            as_json = await asyncio.to_thread(
                _run_cli, env, "sentry", "status", "--task", "sarcasm", "--json"
            )
        finally:
            await _ok(env, "sentry", "stop", "--task", "sarcasm")
    for done in (text, as_json):
        # Exit 0 with the whole output: the process ended through exit_process (os._exit after
        # flushing), never a crash in the interpreter's shutdown.
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Fatal Python error" not in done.stderr
    assert "sentry-acme-sarcasm" in text.stdout
    assert "checks done:" in text.stdout
    assert "SentryStatus(" not in text.stdout
    status = json.loads(as_json.stdout)
    assert status["workflow_id"] == "sentry-acme-sarcasm"
    assert {"checks_done", "last_check", "last_status", "last_message", "rollbacks"} <= set(status)
