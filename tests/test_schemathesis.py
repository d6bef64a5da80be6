"""Property-based API testing from the OpenAPI schema (schemathesis) against a real server
process with models loaded: no generated request may produce a server error."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Err
from temporalio.testing import WorkflowEnvironment

from sentimentops.app import schema
from sentimentops.app.processes.probes import http_ok, wait_until
from sentimentops.core import db
from sentimentops.core.vocabulary import PrincipalKind, Role
from sentimentops.identity import service
from tests.inference.factories import make_onnx_artifact
from tests.inference.registry import register
from tests.services import free_port

ALL_ROLES = frozenset(Role) - {Role.AGENT}
# Generated requests per operation: enough to hit limits and odd encodings, bounded for CI.
EXAMPLES_PER_OPERATION = 25


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, temporal_env: WorkflowEnvironment
) -> Iterator[tuple[str, dict[str, str]]]:
    data = tmp_path_factory.mktemp("schemathesis")
    (data / "mlflow").mkdir()
    registry = f"sqlite:///{data / 'mlflow' / 'mlflow.db'}"
    for task in ("sentiment", "sarcasm"):
        register(registry, task, make_onnx_artifact(data / task, task=task), "production")
    db_url = f"sqlite:///{data / 'app.db'}"
    schema.upgrade(db_url)
    sessions = db.make_session_factory(db.make_engine(db_url))
    with db.transaction(sessions) as session:
        tenant = service.create_tenant(session, actor="test", slug="fuzz")
        account = service.create_service_account(
            session,
            actor="test",
            tenant=tenant,
            name="fuzzer",
            kind=PrincipalKind.SERVICE,
            roles=ALL_ROLES,
        )
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SENTIMENTOPS_")},
        "SENTIMENTOPS_DATA_DIR": str(data),
        "SENTIMENTOPS_DATABASE_URL": db_url,
        "SENTIMENTOPS_API_PORT": str(port),
        "SENTIMENTOPS_RATE_LIMIT_PER_SECOND": "100000",
        "SENTIMENTOPS_RATE_LIMIT_BURST": "100000",
        # Plans the fuzzer starts wait on a queue no worker serves: nothing runs them.
        "SENTIMENTOPS_TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        "SENTIMENTOPS_TEMPORAL_TASK_QUEUE": "schemathesis-unserved",
    }
    process = subprocess.Popen(
        [sys.executable, "-P", "-m", "sentimentops.app.cli", "api"],
        env=env,
        stdout=(data / "api.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_until(http_ok(f"{base}/readyz"), timeout=90), (data / "api.log").read_text()
        token = httpx.post(
            f"{base}/api/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": account.account.id,
                "client_secret": account.client_secret,
            },
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        # The API opens the knowledge base in the background (a first start exports the
        # encoder); until then its routes answer 503 + Retry-After, which is not what is fuzzed.
        kb_open = wait_until(
            lambda: (
                httpx.get(f"{base}/api/v1/kb/status", headers=headers, timeout=30).status_code
                == 200
            ),
            timeout=240,
        )
        assert kb_open, (data / "api.log").read_text()[-4000:]
        yield base, headers
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="module")
def api_schema(server: tuple[str, dict[str, str]]) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{server[0]}/openapi.json")


Operation = schemathesis.APIOperation[Any, Any, Any, Any]


def _fuzz(
    operation: Operation,
    base_url: str,
    headers: dict[str, str],
    statuses: Counter[int],
    errors: list[str],
) -> None:
    """Send generated requests for one operation; record status codes and server errors."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def exercise(case: schemathesis.Case[Operation]) -> None:
        response = case.call(base_url=base_url, headers=headers)
        statuses[response.status_code] += 1
        if response.status_code >= 500:
            errors.append(f"{operation.label}: {response.status_code} {response.text[:200]}")

    exercise()


def test_no_server_errors(
    api_schema: schemathesis.BaseSchema, server: tuple[str, dict[str, str]]
) -> None:
    base_url, headers = server
    errors: list[str] = []
    statuses: Counter[int] = Counter()
    operations: list[Operation] = []
    for result in api_schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # the app's own OpenAPI schema is invalid
        operations.append(result.ok())
    assert len(operations) >= 20
    for operation in operations:
        _fuzz(operation, base_url, headers, statuses, errors)
    assert errors == []
    # The run reached the handlers, not only the validators: some requests succeeded.
    assert statuses[200] > 0, statuses
