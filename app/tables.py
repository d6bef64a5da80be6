"""Imports every table module so that Base.metadata is complete (Alembic and tests use this)."""

from sentimentops.agents.models import AgentThread
from sentimentops.approvals.models import ApprovalRequest
from sentimentops.approvals.slack.models import (
    SlackMessage,
    SlackThread,
    SlackUserLink,
    SlackWorkspace,
)
from sentimentops.core.audit.models import AuditChainHead, AuditEvent
from sentimentops.curation.models import DataIssue
from sentimentops.identity.models import (
    ApiKey,
    BootstrapToken,
    RoleBinding,
    ServiceAccount,
    SigningKey,
    Tenant,
)
from sentimentops.inference.models import CanaryShare, PredictionRecord, ScoringFailure
from sentimentops.knowledge_base.models import KbDocument
from sentimentops.labeling.models import (
    Feedback,
    LabelingAssignment,
    LabelingItem,
    LabelingProject,
)
from sentimentops.tools.models import PromotionEvent, ToolRun
from sentimentops.training.datasets.models import DatasetVersion
from sentimentops.workflows.models import PlanExecution

__all__ = [
    "AgentThread",
    "ApiKey",
    "ApprovalRequest",
    "AuditChainHead",
    "AuditEvent",
    "BootstrapToken",
    "CanaryShare",
    "DataIssue",
    "DatasetVersion",
    "Feedback",
    "KbDocument",
    "LabelingAssignment",
    "LabelingItem",
    "LabelingProject",
    "PlanExecution",
    "PredictionRecord",
    "PromotionEvent",
    "RoleBinding",
    "ScoringFailure",
    "ServiceAccount",
    "SigningKey",
    "SlackMessage",
    "SlackThread",
    "SlackUserLink",
    "SlackWorkspace",
    "Tenant",
    "ToolRun",
]
