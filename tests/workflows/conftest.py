"""A platform for plan tests: real Temporal (dev server), OPA, the database (rolled back per
test) and an MLflow SQLite store in a temporary directory; workers on per-test task queues."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, WorkflowFailureError
from typer.testing import CliRunner, Result

from sentimentops.app.cli.main import app
from sentimentops.approvals.notifier import Notifier
from sentimentops.core.db import make_engine, make_session_factory, transaction
from sentimentops.core.flows import FlowContext
from sentimentops.core.model_registry import MlflowRegistry
from sentimentops.core.policy import OpaPolicyEngine
from sentimentops.core.policy import Principal as PolicyPrincipal
from sentimentops.core.settings import Settings
from sentimentops.core.vocabulary import PrincipalKind, Role
from sentimentops.identity import service as identity
from sentimentops.identity.models import Tenant
from sentimentops.identity.principal import AuthMethod, Principal
from sentimentops.workflows.client import plan_progress, start_plan
from sentimentops.workflows.schemas import Plan, PlanProgress, PlanStep
from sentimentops.workflows.worker import build_training_worker, build_worker
from tests.inference.registry import register

TENANT = "acme"
ENDED = frozenset({"completed", "failed", "denied", "rejected", "expired", "cancelled"})


def engineer(name: str = "alice", tenant: str = TENANT) -> PolicyPrincipal:
    return PolicyPrincipal(subject=name, kind="human", roles=["ml_engineer"], tenant=tenant)


def approver(tenant: Tenant, name: str = "bob", roles: frozenset[Role] | None = None) -> Principal:
    return Principal(
        tenant_id=tenant.id,
        tenant=tenant.slug,
        subject=name,
        name=name,
        kind=PrincipalKind.HUMAN,
        roles=roles or frozenset({Role.APPROVER}),
        method=AuthMethod.FIRST_PARTY,
    )


def make_plan(*steps: PlanStep, proposer: PolicyPrincipal | None = None, **extra: object) -> Plan:
    return Plan(
        tenant=TENANT,
        proposer=proposer or engineer(),
        rationale="test plan",
        steps=list(steps),
        **extra,
    )


@dataclass
class Platform:
    client: Client
    settings: Settings
    sessions: sessionmaker[Session]
    tenant: Tenant
    registry: MlflowRegistry

    @property
    def mlflow(self) -> MlflowClient:
        """The MLflow client behind the registry, for assertions on runs and versions."""
        return self.registry.client

    def flows(self) -> FlowContext:
        async def connect() -> Client:
            return self.client

        return FlowContext(
            settings=self.settings,
            sessions=self.sessions,
            read_sessions=self.sessions,
            connect_temporal=connect,
        )

    async def start(self, plan: Plan) -> str:
        return await start_plan(self.client, self.settings, plan)

    async def progress(self, workflow_id: str) -> PlanProgress:
        return await plan_progress(self.client, workflow_id)

    async def wait_for(
        self, workflow_id: str, statuses: set[str], *, within: float = 60.0
    ) -> PlanProgress:
        """Poll the progress query until the plan reaches one of `statuses`; for a final
        status, also until the workflow has ended."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            progress = await self.progress(workflow_id)
            if progress.status in statuses:
                if progress.status in ENDED:
                    # The query answers as soon as the status is set, before the workflow's
                    # last activity has recorded plan.finish in the registry and audit log.
                    with contextlib.suppress(WorkflowFailureError):
                        await self.client.get_workflow_handle(workflow_id).result()
                return progress
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"plan stuck in {progress.status}: {progress.message}")
            await asyncio.sleep(0.2)

    def register_version(self, task: str = "sarcasm", alias: str = "candidate") -> str:
        """A registered version with a tiny artifact (promotion never loads it)."""
        artifact = self.settings.data_dir / "artifact"
        artifact.mkdir(parents=True, exist_ok=True)
        (artifact / "model.json").write_text(json.dumps({"format": "test"}))
        return register(self.settings.resolved_mlflow_tracking_uri, task, artifact, alias)

    def alias(self, alias: str, task: str = "sarcasm") -> str | None:
        found = self.registry.version_for_alias(task, alias)
        return found.version if found is not None else None


def platform_settings(tmp_path: Path, **overrides: object) -> Settings:
    queue = f"test-{uuid.uuid4().hex[:8]}"
    (tmp_path / "data" / "mlflow").mkdir(parents=True, exist_ok=True)
    values: dict[str, Any] = {  # Settings fields of every type, validated by Settings
        "data_dir": tmp_path / "data",
        "temporal_task_queue": queue,
        "training_task_queue": f"{queue}-training",
        "training_heartbeat_seconds": 5,
        **overrides,
    }
    return Settings(_env_file=None, **values)


@pytest.fixture
def app_sessions(fresh_db_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on a fresh, migrated database with real commits: the workers' activities and
    the test act concurrently, as separate processes would (not on one shared connection)."""
    engine = make_engine(fresh_db_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def session(app_sessions: sessionmaker[Session]) -> Iterator[Session]:
    with app_sessions() as s:
        yield s


@pytest.fixture
async def platform(
    temporal_client: Client, opa_url: str, app_sessions: sessionmaker[Session], tmp_path: Path
) -> AsyncIterator[Platform]:
    async with running_platform(temporal_client, opa_url, app_sessions, tmp_path) as value:
        yield value


class running_platform:
    def __init__(
        self,
        client: Client,
        opa_url: str,
        sessions: sessionmaker[Session],
        tmp_path: Path,
        *,
        notifier: Notifier | None = None,
        settings: Settings | None = None,
    ) -> None:
        self._args = (client, opa_url, sessions, tmp_path, notifier, settings)
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> Platform:
        client, opa_url, sessions, tmp_path, notifier, settings = self._args
        # The flows ask OPA too (approvals), through the platform's settings.
        settings = settings or platform_settings(tmp_path)
        if settings.opa_url is None:
            settings = settings.model_copy(update={"opa_url": opa_url})
        policy = OpaPolicyEngine(opa_url)
        with transaction(sessions) as session:
            tenant = identity.tenant_by_slug(session, TENANT) or identity.create_tenant(
                session, actor="test", slug=TENANT
            )
        await self._stack.enter_async_context(
            build_worker(
                client,
                task_queue=settings.temporal_task_queue,
                policy=policy,
                sessions=sessions,
                settings=settings,
                notifier=notifier,
            )
        )
        await self._stack.enter_async_context(
            build_training_worker(
                client,
                task_queue=settings.training_task_queue,
                policy=policy,
                sessions=sessions,
                settings=settings,
                heartbeat_seconds=1.0,
            )
        )
        uri = settings.resolved_mlflow_tracking_uri
        return Platform(client, settings, sessions, tenant, MlflowRegistry(uri))

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()


# --- The CLI against a running platform (tests/workflows/test_cli.py, tests/app) ----------------


def cli_env(platform: Platform, db_url: str) -> dict[str, str]:
    s = platform.settings
    return {
        "SENTIMENTOPS_DATA_DIR": str(s.data_dir),
        "SENTIMENTOPS_DATABASE_URL": db_url,
        "SENTIMENTOPS_TEMPORAL_ADDRESS": platform.client.service_client.config.target_host,
        "SENTIMENTOPS_TEMPORAL_TASK_QUEUE": s.temporal_task_queue,
        "SENTIMENTOPS_TRAINING_TASK_QUEUE": s.training_task_queue,
        "SENTIMENTOPS_OPA_URL": s.resolved_opa_url,
        "SENTIMENTOPS_LOG_JSON": "false",
    }


def cli_platform(client: Client, opa_url: str, db_url: str, tmp_path: Path) -> running_platform:
    """Workers on the test's database (real commits: the CLI is another process's view)."""
    settings = platform_settings(tmp_path, database_url=db_url)
    sessions = make_session_factory(make_engine(db_url))
    return running_platform(client, opa_url, sessions, tmp_path, settings=settings)


async def run_cli(env: dict[str, str], *args: str) -> Result:
    # The commands run their own event loop: call them off this one (the workers run here).
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A local HTTP server standing in for the webhook's receiver."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()
    server.server_close()
