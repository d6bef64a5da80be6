"""Named permissions of feedback and labeling (called first by each flow). The reasons are in
docs/labeling.md, "Who may do what"."""

from __future__ import annotations

from sentimentops.core.vocabulary import Role
from sentimentops.identity.permissions import require_role
from sentimentops.identity.principal import Principal

# Every tenant-level role but the agents': platform_admin reads no tenant's data, and agents
# neither write training labels nor read the texts (untrusted input).
_PEOPLE_AND_APPS = (
    Role.VIEWER,
    Role.ANNOTATOR,
    Role.ANALYST,
    Role.ML_ENGINEER,
    Role.APPROVER,
    Role.TENANT_ADMIN,
)
_CURATORS = (Role.ANALYST, Role.ML_ENGINEER, Role.TENANT_ADMIN)


def can_submit_feedback(principal: Principal) -> None:
    """Applications report wrong predictions with the account they score with, which needs no
    more than viewer; feedback changes no model by itself (it reaches training only through a
    project a curator exports)."""
    require_role(principal, *_PEOPLE_AND_APPS)


def can_read_projects(principal: Principal) -> None:
    """Projects' settings, progress and agreement figures (no texts)."""
    require_role(principal, *_PEOPLE_AND_APPS)


def can_manage_projects(principal: Principal) -> None:
    """Creating projects, storing suspected-error scores and exporting labels into datasets:
    the roles that curate datasets (training.datasets.permissions.can_ingest_datasets)."""
    require_role(principal, *_CURATORS)


def can_annotate(principal: Principal) -> None:
    """Taking items and answering them (the project must also list the caller's account)."""
    require_role(principal, Role.ANNOTATOR, Role.ANALYST, Role.ML_ENGINEER)


def can_review_items(principal: Principal) -> None:
    """Reading items with their texts, model answers, gold labels and everyone's answers."""
    require_role(principal, Role.APPROVER, *_CURATORS)


def can_resolve(principal: Principal) -> None:
    """Deciding the label annotators disagreed on: the approver role, the platform's role for
    judging others' work (and never one's own: the service refuses an item one annotated)."""
    require_role(principal, Role.APPROVER)
