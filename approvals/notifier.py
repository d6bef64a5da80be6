"""Telling people that something needs them, behind one interface: an approval that waits, or
an incident the deployment sentry found (with the thread that holds its summary and proposal).

The webhook notifier refuses targets on private, loopback, link-local, multicast and reserved
addresses (SSRF: a webhook URL must not reach the platform's own network) unless the host or
its network is allow-listed in settings.webhook_allowed_hosts. Redirects are not followed, so a
public URL cannot bounce the request inward."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from datetime import datetime
from typing import Literal, Protocol
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, Field

from sentimentops.approvals.errors import UnsafeWebhookTarget
from sentimentops.approvals.schemas import ApprovalSubject
from sentimentops.core.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class ApprovalNotice(ApprovalSubject):
    approval_id: str
    tenant: str
    expires_at: datetime
    workflow_url: str | None = None


class IncidentNotice(BaseModel):
    """The deployment sentry's check breached a gate or rolled back: what happened, in words,
    and the agent thread where its summary and proposed next step wait for a person."""

    kind: Literal["incident"] = "incident"
    tenant: str
    task: str
    check_id: str
    status: str  # the check plan's: gate_failed, or completed after a rollback
    rolled_back: bool
    summary: str = Field(max_length=4000)
    thread_id: str | None = None  # None: the agent could not write one (see the worker's log)
    draft_plan_hash: str | None = None  # the proposal waiting in the thread, if any
    workflow_url: str | None = None


class DataIssueNotice(BaseModel):
    """The Data Curation agent opened a data issue: a dataset version drifted from the one
    before it (schema or label balance)."""

    kind: Literal["data_issue"] = "data_issue"
    tenant: str
    issue_id: str
    dataset_version_id: str
    task: str
    kinds: list[str]
    summary: str = Field(max_length=4000)
    thread_id: str | None = None  # the agent's thread of this curation, if it wrote one


Notice = ApprovalNotice | IncidentNotice | DataIssueNotice


class Notifier(Protocol):
    async def notify(self, notice: Notice) -> None: ...


class NullNotifier:
    """No notification channel configured: people look in the UI, API or CLI."""

    async def notify(self, notice: Notice) -> None:
        return None


def _is_internal(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


class WebhookNotifier:
    """POSTs the notice as JSON to a URL."""

    def __init__(
        self,
        url: str,
        *,
        allowed_hosts: list[str] | tuple[str, ...] = (),
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UnsafeWebhookTarget(f"webhook URL must be http(s)://host/..., got {url!r}")
        if parts.username or parts.password:
            raise UnsafeWebhookTarget("webhook URL must not carry credentials")
        self._url = url
        self._host = parts.hostname.lower()
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._allowed_names = {h.lower() for h in allowed_hosts if not _network(h)}
        self._allowed_networks = [n for h in allowed_hosts if (n := _network(h)) is not None]
        self._timeout = timeout
        self._transport = transport

    def _allowed(self, address: IPAddress) -> bool:
        return self._host in self._allowed_names or any(
            address in network for network in self._allowed_networks
        )

    async def check_target(self) -> None:
        """Resolve the host and refuse it when any address is internal and not allow-listed."""
        try:
            infos = await asyncio.to_thread(
                socket.getaddrinfo, self._host, self._port, proto=socket.IPPROTO_TCP
            )
        except OSError as exc:
            raise UnsafeWebhookTarget(f"webhook host {self._host} does not resolve") from exc
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if _is_internal(address) and not self._allowed(address):
                raise UnsafeWebhookTarget(
                    f"webhook host {self._host} resolves to internal address {address}; "
                    "allow-list it in SENTIMENTOPS_WEBHOOK_ALLOWED_HOSTS to use it"
                )

    async def notify(self, notice: Notice) -> None:
        # Checked on every send, not once: DNS answers change (rebinding).
        await self.check_target()
        async with httpx.AsyncClient(
            timeout=self._timeout, follow_redirects=False, transport=self._transport
        ) as client:
            response = await client.post(
                self._url,
                content=notice.model_dump_json(),
                headers={"Content-Type": "application/json"},
            )
            response.raise_for_status()


def _network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None


def build_notifier(settings: Settings) -> Notifier:
    if settings.slack_bot_token is not None:
        # Imported here: the Slack SDK comes with the agents extra (approvals/slack/).
        from sentimentops.approvals.slack.notifier import SlackNotifier

        return SlackNotifier(settings, also=_webhook_notifier(settings))
    return _webhook_notifier(settings)


def _webhook_notifier(settings: Settings) -> Notifier:
    if settings.approval_webhook_url is None:
        return NullNotifier()
    return WebhookNotifier(
        settings.approval_webhook_url,
        allowed_hosts=settings.webhook_allowed_hosts,
        timeout=settings.webhook_timeout_seconds,
    )
