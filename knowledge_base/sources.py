"""What the knowledge base indexes, read from where it lives, as SourceDocuments per scope.

Platform scopes (kb_platform, read by every tenant): the repository's docs/ and README.md, and
each registered model version (its card: aliases, family, headline metrics, lineage; and its
training run's metadata: every metric and tag) read through core.model_registry.ModelRegistry.

Tenant scopes (kb_tenants): the tenant's finished plans with their outcome; its sentry
incidents (the deployment sentry's checks that ended gate_failed: a breach, and the rollback it
triggered); one audit summary per day (events per action and outcome, last AUDIT_DAYS days); and
the documents it uploaded (kb_documents).

Every document's text is data about the platform, quoted back by searches; none of it is read
as an instruction by anything here."""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sentimentops.core.audit.models import AuditEvent
from sentimentops.core.knowledge import KbKind
from sentimentops.core.model_registry import ModelRegistry, ModelVersion
from sentimentops.core.settings import REPO_ROOT
from sentimentops.core.vocabulary import (
    ALIASES,
    CANDIDATE_ALIAS,
    FINAL_PLAN_STATUSES,
    TASKS,
    PlanStatus,
)
from sentimentops.identity.models import Tenant
from sentimentops.knowledge_base.chunking import SourceDocument
from sentimentops.knowledge_base.models import KbDocument
from sentimentops.knowledge_base.store import Scope
from sentimentops.workflows.models import PlanExecution
from sentimentops.workflows.schemas import SENTRY_SUBJECT

DOC_KINDS: tuple[KbKind, ...] = ("doc",)
MODEL_KINDS: tuple[KbKind, ...] = ("model_card", "run")
TENANT_KINDS: tuple[KbKind, ...] = ("plan", "incident", "audit", "upload")
# A re-index reads at most this many of a tenant's newest plans and incidents, and this many
# days of its audit log: the knowledge base answers "what happened lately", not an archive.
MAX_PLANS = 500
AUDIT_DAYS = 30
MARKDOWN_TYPES = frozenset({"text/markdown", "text/x-markdown"})
# The headline metrics a model card shows (the run document carries all of them).
CARD_METRICS = re.compile(r"^(test|validation)_|^worst_domain_|^max_domain_|^export_served")

ScopeName = Literal["docs", "models", "tenant"]


def platform_doc_paths(root: Path = REPO_ROOT) -> list[Path]:
    """README.md and every Markdown file under docs/, in a stable order."""
    paths = sorted((root / "docs").rglob("*.md"))
    readme = root / "README.md"
    return ([readme] if readme.is_file() else []) + paths


def _title(text: str, fallback: str) -> str:
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return fallback


def platform_docs(root: Path = REPO_ROOT) -> list[SourceDocument]:
    documents = []
    for path in platform_doc_paths(root):
        text = path.read_text(encoding="utf-8")
        relative = path.relative_to(root).as_posix()
        documents.append(
            SourceDocument(
                source=relative,
                kind="doc",
                title=_title(text, path.stem),
                text=text,
                version=hashlib.sha256(text.encode()).hexdigest()[:12],
                url=relative,
            )
        )
    return documents


def _metric_lines(metrics: dict[str, float], keep: re.Pattern[str] | None = None) -> list[str]:
    return [
        f"- {name}: {value:.4g}"
        for name, value in sorted(metrics.items())
        if keep is None or keep.search(name)
    ]


def _aliases(registry: ModelRegistry, task: str) -> dict[str, str]:
    """Version → the aliases that point at it."""
    found: dict[str, list[str]] = defaultdict(list)
    for alias in (*ALIASES, CANDIDATE_ALIAS):
        version = registry.version_for_alias(task, alias)
        if version is not None:
            found[version.version].append(alias)
    return {version: ", ".join(names) for version, names in found.items()}


def _model_documents(
    version: ModelVersion, metrics: dict[str, float], aliases: str
) -> list[SourceDocument]:
    tags = version.tags
    family = tags.get("sentimentops.family", "unknown family")
    name = f"{version.name} model version {version.version}"
    lineage = [
        f"- {key.removeprefix('sentimentops.')}: {value}" for key, value in sorted(tags.items())
    ]
    card = "\n".join(
        [
            f"# {name}",
            f"The {version.name} model's version {version.version}, family {family}; "
            f"aliases: {aliases or 'none'}; training run {version.run_id or 'none'}.",
            "## Headline metrics",
            *(_metric_lines(metrics, CARD_METRICS) or ["- none recorded"]),
            "## Lineage",
            *(lineage or ["- no tags recorded"]),
        ]
    )
    version_label = f"{version.name}:{version.version}"
    documents = [
        SourceDocument(
            source=f"model:{version_label}",
            kind="model_card",
            title=name,
            text=card,
            version=version_label,
            url=f"/api/v1/models?task={version.name}",
        )
    ]
    if version.run_id is not None:
        run = "\n".join(
            [
                f"# Training run {version.run_id} ({name})",
                f"The run that produced {name} ({family}).",
                "## Metrics",
                *(_metric_lines(metrics) or ["- none recorded"]),
                "## Tags",
                *(lineage or ["- none"]),
            ]
        )
        documents.append(
            SourceDocument(
                source=f"run:{version.run_id}",
                kind="run",
                title=f"training run of {name}",
                text=run,
                version=version_label,
            )
        )
    return documents


def model_documents(registry: ModelRegistry) -> list[SourceDocument]:
    """A card and a run document per registered version of each task's model."""
    documents: list[SourceDocument] = []
    for task in TASKS:
        aliases = _aliases(registry, task)
        for version in registry.find_versions(task):
            metrics = registry.version_metrics(task, version.version)
            documents.extend(_model_documents(version, metrics, aliases.get(version.version, "")))
    return documents


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else "not yet"


def _plan_document(row: PlanExecution, *, incident: bool) -> SourceDocument:
    if incident:
        title = f"sentry incident {row.id}"
        opening = (
            f"The deployment sentry's check {row.id} failed its gate on {_when(row.finished_at)}: "
            "a breach of the production model's metrics, and the rollback it triggered."
        )
    else:
        title = f"plan {row.id} ({row.status})"
        opening = (
            f"Plan {row.id}, proposed by {row.proposer} on {_when(row.created_at)}, "
            f"ended {row.status} on {_when(row.finished_at)}. Tools: {', '.join(row.tools)}."
        )
    text = "\n".join(
        [
            f"# {title}",
            opening,
            "## Rationale",
            row.rationale or "(none given)",
            "## Outcome",
            f"status {row.status}. {row.message}".strip(),
        ]
    )
    return SourceDocument(
        source=f"{'incident' if incident else 'plan'}:{row.id}",
        kind="incident" if incident else "plan",
        title=title,
        text=text,
        tenant_id=row.tenant_id,
        version=row.plan_hash[:12],
        url=f"/api/v1/plans/{row.id}",
    )


def plan_documents(session: Session, tenant_id: str) -> list[SourceDocument]:
    """The tenant's finished plans (newest MAX_PLANS) and sentry incidents."""
    final = [str(s) for s in FINAL_PLAN_STATUSES]
    rows = session.execute(
        select(PlanExecution)
        .where(PlanExecution.tenant_id == tenant_id, PlanExecution.status.in_(final))
        .order_by(PlanExecution.created_at.desc())
        .limit(MAX_PLANS)
    ).scalars()
    documents = []
    for row in rows:
        sentry = row.proposer == SENTRY_SUBJECT
        if sentry and row.status != PlanStatus.GATE_FAILED:
            continue  # a passing check is routine, not knowledge
        documents.append(_plan_document(row, incident=sentry))
    return documents


def audit_documents(
    session: Session, tenant: Tenant, *, now: datetime | None = None
) -> list[SourceDocument]:
    """One summary per day with events: counts per action and outcome."""
    since = (now or datetime.now(UTC)) - timedelta(days=AUDIT_DAYS)
    day = func.date(AuditEvent.occurred_at)
    rows = session.execute(
        select(day, AuditEvent.action, AuditEvent.outcome, func.count())
        .where(AuditEvent.tenant == tenant.slug, AuditEvent.occurred_at >= since)
        .group_by(day, AuditEvent.action, AuditEvent.outcome)
    ).all()
    per_day: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for date, action, outcome, count in rows:
        per_day[str(date)[:10]].append((str(action), str(outcome), int(count)))
    documents = []
    for date, counts in sorted(per_day.items()):
        lines = [f"- {action} {outcome}: {count}" for action, outcome, count in sorted(counts)]
        total = sum(c for _a, _o, c in counts)
        text = "\n".join(
            [
                f"# Audit summary of {tenant.slug} on {date}",
                f"{total} audited events on {date}, per action and outcome:",
                *lines,
            ]
        )
        documents.append(
            SourceDocument(
                source=f"audit:{date}",
                kind="audit",
                title=f"audit summary {date}",
                text=text,
                tenant_id=tenant.id,
                version=hashlib.sha256(text.encode()).hexdigest()[:12],
            )
        )
    return documents


def upload_document(row: KbDocument) -> SourceDocument:
    return SourceDocument(
        source=f"upload:{row.id}",
        kind="upload",
        title=row.name,
        text=row.text,
        tenant_id=row.tenant_id,
        version=row.sha256[:12],
        url=f"/api/v1/kb/documents/{row.id}",
        markdown=row.media_type in MARKDOWN_TYPES,
    )


def upload_documents(session: Session, tenant_id: str) -> list[SourceDocument]:
    rows = session.execute(select(KbDocument).where(KbDocument.tenant_id == tenant_id)).scalars()
    return [upload_document(r) for r in rows]


def tenant_documents(session: Session, tenant: Tenant) -> list[SourceDocument]:
    """Everything of one tenant's scope."""
    return [
        *plan_documents(session, tenant.id),
        *audit_documents(session, tenant),
        *upload_documents(session, tenant.id),
    ]


def tenant_scope(tenant_id: str) -> Scope:
    return Scope(tenant_id=tenant_id, kinds=TENANT_KINDS)


DOCS_SCOPE = Scope(tenant_id=None, kinds=DOC_KINDS)
MODELS_SCOPE = Scope(tenant_id=None, kinds=MODEL_KINDS)


def tenants(session: Session) -> Iterable[Tenant]:
    return session.execute(select(Tenant).order_by(Tenant.slug)).scalars()
