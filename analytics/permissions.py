"""Named permission of the analytics API (called first by each flow)."""

from __future__ import annotations

from sentimentops.core.vocabulary import Role
from sentimentops.identity.permissions import require_role
from sentimentops.identity.principal import Principal


def can_read_analytics(principal: Principal) -> None:
    """Model quality, traffic and drift figures of the caller's tenant: the roles that judge
    models and curate data. Viewers and annotators are left out (per-version accuracy and
    traffic are business figures, and an annotator who saw a model's accuracy per class could
    be anchored by it); agents read telemetry through their own tools (detect_drift,
    get_service_metrics), under OPA."""
    require_role(principal, Role.ANALYST, Role.ML_ENGINEER, Role.TENANT_ADMIN)
