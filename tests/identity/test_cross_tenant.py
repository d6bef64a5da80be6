"""Tenant isolation, generated from the OpenAPI schema: every operation with a path parameter is
called by tenant A's most privileged tenant-level caller with tenant B's ids. Each answer must be
a 404 (or, for platform-only operations, the same 403 a nonexistent id gets: no oracle), and
tenant B's rows must be unchanged afterwards.

A new route with a new path parameter fails here until OTHER_TENANT_VALUES says how to make
another tenant's value for it: that is the point."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sentimentops.agents import service as agents
from sentimentops.approvals import service as approvals
from sentimentops.core import db
from sentimentops.core.db import Base
from sentimentops.core.vocabulary import PrincipalKind, Role
from sentimentops.curation.models import DataIssue
from sentimentops.identity.principal import AuthMethod, Principal
from sentimentops.knowledge_base import flows as kb_flows
from sentimentops.workflows import service as plans
from tests.identity.conftest import Account, Factory

pytestmark = pytest.mark.parametrize("fresh_db_url", ["sqlite", "postgresql"], indirect=True)


@dataclass(frozen=True)
class Victim:
    account: Account
    api_key_id: str
    approval_id: str
    dataset_id: str
    workflow_id: str
    thread_id: str
    document_id: str
    project_id: str
    item_id: str
    issue_id: str


# How to obtain tenant B's value for each path parameter name, and a value that exists nowhere.
OTHER_TENANT_VALUES: dict[str, Callable[[Victim], str]] = {
    "tenant_id": lambda v: v.account.tenant.id,
    "account_id": lambda v: v.account.client_id,
    "key_id": lambda v: v.api_key_id,
    "role": lambda _v: Role.VIEWER.value,
    "dataset_id": lambda v: v.dataset_id,
    "approval_id": lambda v: v.approval_id,
    "workflow_id": lambda v: v.workflow_id,
    "thread_id": lambda v: v.thread_id,
    "document_id": lambda v: v.document_id,
    "project_id": lambda v: v.project_id,
    "item_id": lambda v: v.item_id,
    "issue_id": lambda v: v.issue_id,
}
NONEXISTENT: dict[str, str] = {"role": Role.VIEWER.value}


def _example(schema: dict[str, Any], components: dict[str, Any]) -> Any:
    """A minimal valid instance of a JSON schema, so requests reach the handler (not a 422)."""
    if "$ref" in schema:
        return _example(components[schema["$ref"].rsplit("/", 1)[-1]], components)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return _example(schema[key][0], components)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {
            name: _example(schema["properties"][name], components)
            for name in schema.get("required", [])
        }
    if kind == "array":
        return [_example(schema["items"], components) for _ in range(schema.get("minItems", 0))]
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return False
    return "probe1"


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path, methods in schema["paths"].items():
        if "{" not in path:
            continue
        for method, operation in methods.items():
            found.append((method.upper(), path, operation))
    return found


def _snapshot(factory: Factory, tenant_id: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of tenant B, in every tenant-owned table (and B's tenant row)."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with factory.sessions() as session:
        for table in Base.metadata.sorted_tables:
            if table.name == "tenants":
                query = select(table).where(table.c.id == tenant_id)
            elif "tenant_id" in table.c:
                query = select(table).where(table.c.tenant_id == tenant_id)
            else:
                continue
            tables[table.name] = sorted((tuple(row) for row in session.execute(query)), key=repr)
    return tables


def _pending_approval(factory: Factory, account: Account) -> str:
    """A pending approval request of the account's tenant (as a plan workflow makes one)."""
    with db.transaction(factory.sessions) as session:
        request = approvals.create_request(
            session,
            tenant=account.tenant.slug,
            workflow_id="plan-b",
            plan_hash="0" * 64,
            step_index=0,
            tool="promote_model",
            params={"target": "production"},
            requester="b-proposer",
            requester_kind="human",
            rationale="test",
            reasons=[],
            ttl_seconds=3600,
        )
        return request.id


def _running_plan(factory: Factory, account: Account) -> str:
    """A plan of the account's tenant in the registry (as its workflow records it)."""
    workflow_id = f"plan-{account.tenant.slug}-0123456789ab"
    with db.transaction(factory.sessions) as session:
        plans.record_started(
            session,
            workflow_id=workflow_id,
            tenant=account.tenant.slug,
            proposer="b-proposer",
            plan_hash="0" * 64,
            rationale="test",
            tools=["get_service_metrics"],
        )
    return workflow_id


def _agent_thread(factory: Factory, account: Account) -> str:
    """A planner thread started by the account (threads are private to their creator)."""
    owner = Principal(
        tenant_id=account.tenant.id,
        tenant=account.tenant.slug,
        subject=account.client_id,
        name="b-svc",
        kind=PrincipalKind.SERVICE,
        roles=frozenset({Role.TENANT_ADMIN}),
        method=AuthMethod.FIRST_PARTY,
    )
    with db.transaction(factory.sessions) as session:
        return agents.create_thread(session, principal=owner, agent="planner", title=None).id


def _kb_document(factory: Factory, account: Account) -> str:
    """A knowledge base document of the account's tenant (the row; its chunks do not matter)."""
    owner = Principal(
        tenant_id=account.tenant.id,
        tenant=account.tenant.slug,
        subject=account.client_id,
        name="b-svc",
        kind=PrincipalKind.SERVICE,
        roles=frozenset({Role.TENANT_ADMIN}),
        method=AuthMethod.FIRST_PARTY,
    )
    with db.transaction(factory.sessions) as session:
        row, _created = kb_flows.store_document(
            session, owner, name="b.md", media_type="text/markdown", data=b"# B\nsecret"
        )
        return row.id


def _labeling_item(client: TestClient, headers: dict[str, str], dataset_id: str) -> tuple[str, str]:
    """A labeling project of B's over B's dataset, and one of its items."""
    project = client.post(
        "/api/v1/labeling/projects",
        json={
            "name": "b-project",
            "task": "sentiment",
            "annotators": ["b-annotator"],
            "source": {"kind": "dataset", "dataset_id": dataset_id},
        },
        headers=headers,
    )
    assert project.status_code == 201, project.text
    project_id: str = project.json()["project"]["id"]
    items = client.get(f"/api/v1/labeling/projects/{project_id}/items", headers=headers)
    return project_id, items.json()["items"][0]["id"]


def _data_issue(factory: Factory, account: Account, dataset_id: str) -> str:
    """A data issue of the account's tenant about its dataset version."""
    issue = DataIssue(
        id=uuid.uuid4().hex,
        tenant_id=account.tenant.id,
        dataset_version_id=dataset_id,
        previous_version_id=None,
        task="sentiment",
        kinds=["schema"],
        status="open",
        summary="b's secret drift",
        evidence={"columns_added": ["split"]},
        opened_by="human:b",
        created_at=datetime.now(UTC),
    )
    with db.transaction(factory.sessions) as session:
        session.add(issue)
    return issue.id


def test_tenant_a_cannot_read_or_change_tenant_b(client: TestClient, factory: Factory) -> None:
    # Tenant B: an account with an API key.
    b_account = factory.account("tenant-b", "b-svc", {Role.VIEWER, Role.TENANT_ADMIN})
    b_headers = factory.headers(b_account)
    created = client.post(
        f"/api/v1/service-accounts/{b_account.client_id}/api-keys",
        json={"name": "b-key"},
        headers=b_headers,
    )
    assert created.status_code == 201
    dataset = client.post(
        "/api/v1/datasets",
        params={
            "task": "sentiment",
            "name": "b-data",
            "text_col": "text",
            "label_col": "label",
            "format": "csv",
        },
        content=b"text,label\nfine film,1\nawful film,0\n",
        headers=b_headers,
    )
    assert dataset.status_code == 201, dataset.text
    project_id, item_id = _labeling_item(client, b_headers, dataset.json()["version"]["id"])
    victim = Victim(
        b_account,
        created.json()["key"]["id"],
        approval_id=_pending_approval(factory, b_account),
        dataset_id=dataset.json()["version"]["id"],
        workflow_id=_running_plan(factory, b_account),
        thread_id=_agent_thread(factory, b_account),
        document_id=_kb_document(factory, b_account),
        project_id=project_id,
        item_id=item_id,
        issue_id=_data_issue(factory, b_account, dataset.json()["version"]["id"]),
    )
    b_key = created.json()["api_key"]

    # Tenant A: every role a tenant can hold (platform_admin legitimately spans tenants).
    attacker = factory.account("tenant-a", "a-admin", set(Role) - {Role.PLATFORM_ADMIN})
    a_headers = factory.headers(attacker)

    schema = client.get("/openapi.json").json()
    components = schema.get("components", {}).get("schemas", {})
    operations = _operations(schema)
    assert len(operations) >= 8  # the walk itself must see the id-taking routes
    before = _snapshot(factory, b_account.tenant.id)

    for method, path, operation in operations:
        names = re.findall(r"{(\w+)}", path)
        unknown = [n for n in names if n not in OTHER_TENANT_VALUES]
        assert not unknown, f"{method} {path}: add {unknown} to OTHER_TENANT_VALUES"
        theirs = path
        nowhere = path
        for name in names:
            theirs = theirs.replace("{" + name + "}", OTHER_TENANT_VALUES[name](victim))
            nowhere = nowhere.replace("{" + name + "}", NONEXISTENT.get(name, "0" * 32))
        body = None
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" in content:
            body = _example(content["application/json"]["schema"], components)
        # One request id for both: error bodies carry it, and they must be otherwise identical.
        headers = {**a_headers, "X-Request-ID": "cross-tenant-probe"}
        response = client.request(method, theirs, json=body, headers=headers)
        assert response.status_code != 422, (method, path, response.text)
        if response.status_code == 403:
            baseline = client.request(method, nowhere, json=body, headers=headers)
            assert (baseline.status_code, baseline.json()) == (403, response.json()), (
                method,
                path,
            )
        else:
            assert response.status_code == 404, (method, path, response.status_code)

    assert _snapshot(factory, b_account.tenant.id) == before
    # B's credentials still work.
    assert client.get("/api/v1/auth/whoami", headers={"X-API-Key": b_key}).status_code == 200
    assert client.get("/api/v1/auth/whoami", headers=b_headers).status_code == 200


def test_lists_show_only_the_callers_tenant(client: TestClient, factory: Factory) -> None:
    a_admin = factory.account("tenant-a", "a-admin", {Role.TENANT_ADMIN})
    factory.account("tenant-b", "b-secret-name", {Role.TENANT_ADMIN})
    listing = client.get("/api/v1/service-accounts", headers=factory.headers(a_admin))
    assert [a["name"] for a in listing.json()] == ["a-admin"]
    assert client.get("/api/v1/api-keys", headers=factory.headers(a_admin)).json() == []
