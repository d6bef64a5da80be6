"""Policy decisions from the real OPA server with policies/rego loaded."""

from __future__ import annotations

import pytest

from sentimentops.core.errors import ServiceUnavailable
from sentimentops.core.policy import OpaPolicyEngine, Principal
from tests.services import free_port

ENGINEER = Principal(subject="alice", roles=["ml_engineer"], tenant="acme")


async def test_allowed_call(opa_url: str) -> None:
    decision = await OpaPolicyEngine(opa_url).decide_tool_call(
        principal=ENGINEER, tenant="acme", tool="train_model", params={}
    )
    assert (decision.allow, decision.needs_approval, decision.outcome) == (True, False, "allowed")


async def test_production_promotion_needs_approval(opa_url: str) -> None:
    decision = await OpaPolicyEngine(opa_url).decide_tool_call(
        principal=ENGINEER, tenant="acme", tool="promote_model", params={"target": "production"}
    )
    assert decision.outcome == "needs_approval"
    assert decision.reasons == ["promotion to production needs a human approval"]


async def test_cross_tenant_call_is_denied(opa_url: str) -> None:
    decision = await OpaPolicyEngine(opa_url).decide_tool_call(
        principal=ENGINEER, tenant="globex", tool="train_model", params={}
    )
    assert decision.outcome == "denied"
    assert decision.reasons == ["alice belongs to tenant acme, not globex"]


async def test_health(opa_url: str) -> None:
    assert await OpaPolicyEngine(opa_url).healthy()
    assert not await OpaPolicyEngine(f"http://127.0.0.1:{free_port()}").healthy()


async def test_unreachable_opa_fails_closed() -> None:
    engine = OpaPolicyEngine(f"http://127.0.0.1:{free_port()}", timeout=0.5)
    with pytest.raises(ServiceUnavailable, match="did not answer"):
        await engine.decide_tool_call(principal=ENGINEER, tenant="acme", tool="x", params={})


def test_rejects_bad_url() -> None:
    with pytest.raises(ValueError, match="http"):
        OpaPolicyEngine("opa:8181")
