"""The `search_kb` tool over the real knowledge base: the acting tenant's documents and the
platform's, never another tenant's; read-only for every role that reads metrics, agents too."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from sentimentops.core import db
from sentimentops.core.errors import ServiceUnavailable
from sentimentops.core.flows import FlowContext
from sentimentops.core.model_registry import MlflowRegistry
from sentimentops.core.policy import OpaPolicyEngine, Principal
from sentimentops.core.settings import Settings
from sentimentops.core.vocabulary import PrincipalKind, Role
from sentimentops.identity import service as identity
from sentimentops.identity.principal import AuthMethod
from sentimentops.identity.principal import Principal as Caller
from sentimentops.knowledge_base.flows import add_document_flow
from sentimentops.knowledge_base.wiring import KnowledgeRuntime
from sentimentops.tools.base import ToolContext
from sentimentops.tools.catalogue import TOOLS

SECRET = "# Falcon rollout\nThe Falcon migration moves sarcasm scoring to the new cluster in May."


def _sessions(settings: Settings) -> sessionmaker[Session]:
    return db.make_session_factory(db.make_engine(settings.resolved_database_url))


async def _no_temporal() -> Client:
    raise AssertionError("nothing here talks to Temporal")


def _context(
    settings: Settings,
    opa_url: str,
    tenant: str,
    knowledge: Callable[[], KnowledgeRuntime] | None,
) -> ToolContext:
    return ToolContext(
        settings=settings,
        sessions=_sessions(settings),
        policy=OpaPolicyEngine(opa_url),
        registry=lambda: MlflowRegistry(settings.resolved_mlflow_tracking_uri, read_only=True),
        tenant=tenant,
        actor="alice",
        knowledge=knowledge,
    )


@pytest.mark.parametrize("fresh_db_url", ["sqlite"], indirect=True)
async def test_search_kb_reads_the_acting_tenants_documents_only(
    kb_settings: Settings, kb_runtime: KnowledgeRuntime, opa_url: str
) -> None:
    sessions = _sessions(kb_settings)
    with db.transaction(sessions) as session:
        a = identity.create_tenant(session, actor="test", slug="tenant-a")
        identity.create_tenant(session, actor="test", slug="tenant-b")
    owner = Caller(
        tenant_id=a.id,
        tenant=a.slug,
        subject="alice",
        name="alice",
        kind=PrincipalKind.HUMAN,
        roles=frozenset({Role.ANALYST}),
        method=AuthMethod.FIRST_PARTY,
    )
    ctx = FlowContext(kb_settings, sessions, sessions, _no_temporal)
    row, _created = await add_document_flow(
        ctx, owner, name="falcon.md", media_type="text/markdown", data=SECRET.encode()
    )
    assert kb_runtime.index_upload(row) == 1

    spec = TOOLS["search_kb"]
    query = {"query": "when does the Falcon migration move sarcasm scoring", "limit": 20}
    found = await spec.call(_context(kb_settings, opa_url, "tenant-a", lambda: kb_runtime), query)
    assert found.hits[0].source == f"upload:{row.id}"
    assert found.hits[0].tenant_id == a.id
    for kinds in (None, ["upload"]):
        other = await spec.call(
            _context(kb_settings, opa_url, "tenant-b", lambda: kb_runtime),
            {**query, "kinds": kinds},
        )
        assert all(h.source != f"upload:{row.id}" for h in other.hits)
        assert all(h.tenant_id != a.id for h in other.hits)

    with pytest.raises(ServiceUnavailable, match="not configured"):
        await spec.call(_context(kb_settings, opa_url, "tenant-a", None), query)


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.PLATFORM_ADMIN])
async def test_policy_lets_every_tenant_role_search_without_approval(
    opa_url: str, role: Role
) -> None:
    engine = OpaPolicyEngine(opa_url)
    kind = "agent" if role is Role.AGENT else "human"
    principal = Principal(subject="someone", kind=kind, roles=[role.value], tenant="acme")
    decision = await engine.decide_tool_call(
        principal=principal, tenant="acme", tool="search_kb", params={"query": "rollback"}
    )
    assert decision.allow, decision.reasons
    assert not decision.needs_approval
    foreign = await engine.decide_tool_call(
        principal=principal, tenant="globex", tool="search_kb", params={"query": "rollback"}
    )
    assert not foreign.allow
