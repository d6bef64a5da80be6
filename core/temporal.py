"""Connecting to Temporal with the data converter every worker and client must share."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from sentimentops.core.settings import Settings


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.resolved_temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
    )


def workflow_ui_url(settings: Settings, workflow_id: str) -> str | None:
    """Link to a workflow in the embedded Temporal web UI (None when Temporal is external)."""
    if settings.temporal_ui_url is None:
        return None
    namespace = settings.temporal_namespace
    return f"{settings.temporal_ui_url}/namespaces/{namespace}/workflows/{workflow_id}"
