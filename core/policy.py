"""Policy decisions from OPA, asked through opa-python-client.

`PolicyEngine` is the one interface the rest of the code depends on; `OpaPolicyEngine` is the
real implementation (an OPA server, embedded by `up` or a sidecar in scale-out)."""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp
from opa_client import AsyncOpaClient
from opa_client.errors import ConnectionsError
from pydantic import BaseModel

from sentimentops.core.errors import ServiceUnavailable

TOOLS_PACKAGE = "sentimentops.tools"


class Principal(BaseModel):
    subject: str
    kind: str = "human"  # "human" | "agent"
    roles: list[str]
    tenant: str  # the slug: how people, plans and audit rows name the tenant
    # The tenant's id, carried inward so that nothing looks the slug up again (rows a tenant
    # owns are keyed by it). None only in workflow histories recorded before it was carried.
    tenant_id: str | None = None
    # Which agent (agents.schemas.AgentName) when kind is "agent" and one of the platform's
    # LangGraph agents acts; policy gives each its own limits (the training executor never
    # promotes to production). None for everyone else.
    agent: str | None = None


class PolicyDecision(BaseModel):
    allow: bool
    needs_approval: bool
    reasons: list[str]

    @property
    def outcome(self) -> str:
        if not self.allow:
            return "denied"
        return "needs_approval" if self.needs_approval else "allowed"


class PolicyEngine(Protocol):
    async def decide_tool_call(
        self,
        *,
        principal: Principal,
        tenant: str,
        tool: str,
        params: dict[str, Any],
        context: dict[str, Any] | None = None,
    ) -> PolicyDecision: ...

    async def query(self, *, package: str, rule: str, input_data: dict[str, Any]) -> Any:
        """The value of `data.<package>.<rule>` for `input_data` (promotion and soak gates)."""
        ...

    async def healthy(self) -> bool: ...


class OpaPolicyEngine:
    """Asks `data.sentimentops.tools.decision` on an OPA server."""

    def __init__(self, url: str, *, timeout: float = 3.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"OPA URL must be http(s)://host:port, got {url!r}")
        self._url = url
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._ssl = parts.scheme == "https"
        self._timeout = timeout

    def _client(self) -> AsyncOpaClient:
        return AsyncOpaClient(
            host=self._host, port=self._port, ssl=self._ssl, timeout=self._timeout, retries=1
        )

    async def decide_tool_call(
        self,
        *,
        principal: Principal,
        tenant: str,
        tool: str,
        params: dict[str, Any],
        context: dict[str, Any] | None = None,
    ) -> PolicyDecision:
        payload = {
            "principal": principal.model_dump(),
            "tenant": tenant,
            # Facts the caller looked up for the policy (e.g. an agent's recent action count).
            "context": context or {},
            "tool": tool,
            "params": params,
        }
        try:
            async with self._client() as client:
                response = await client.query_rule(
                    input_data=payload, package_path=TOOLS_PACKAGE, rule_name="decision"
                )
        except (aiohttp.ClientError, ConnectionsError, TimeoutError, OSError) as exc:
            raise ServiceUnavailable(f"OPA at {self._url} did not answer: {exc}") from exc
        if "result" not in response:
            # An undefined result means the policy package is not loaded: fail closed, loudly.
            raise ServiceUnavailable(f"OPA at {self._url} has no {TOOLS_PACKAGE}.decision rule")
        return PolicyDecision.model_validate(response["result"])

    async def query(self, *, package: str, rule: str, input_data: dict[str, Any]) -> Any:
        try:
            async with self._client() as client:
                response = await client.query_rule(
                    input_data=input_data, package_path=package, rule_name=rule
                )
        except (aiohttp.ClientError, ConnectionsError, TimeoutError, OSError) as exc:
            raise ServiceUnavailable(f"OPA at {self._url} did not answer: {exc}") from exc
        if "result" not in response:
            raise ServiceUnavailable(f"OPA at {self._url} has no {package}.{rule} rule")
        return response["result"]

    async def healthy(self) -> bool:
        async with self._client() as client:
            healthy: bool = await client.check_health()
            return healthy
