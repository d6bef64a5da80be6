"""First-run models: a fresh install must score right away.

For each serving task without a `production` model, take the committed model pack's model if
there is one (settings.model_pack_dir), else train the `tfidf_lr` family on the bundled
reference data (unless a candidate already exists), and make that version the first
`production` model. Later promotions go through the policy-gated lifecycle workflows; this is
the one initial deployment, recorded in the audit log as such.
"""

from __future__ import annotations

from collections.abc import Callable

from sentimentops.core.audit import service as audit
from sentimentops.core.db import make_engine, make_session_factory, transaction
from sentimentops.core.model_registry import ModelRegistry
from sentimentops.core.settings import Settings
from sentimentops.core.vocabulary import CANDIDATE_ALIAS, Alias, AuditOutcome
from sentimentops.training import service
from sentimentops.training.model_pack import import_pack

PRODUCTION_ALIAS: Alias = "production"
BOOTSTRAP_FAMILY = "tfidf_lr"


def _alias_version(registry: ModelRegistry, task: str, alias: str) -> str | None:
    found = registry.version_for_alias(task, alias)
    return found.version if found is not None else None


def _prefixed(on_step: Callable[[str], None], task: str) -> Callable[[str], None]:
    return lambda message: on_step(f"{task}: {message}")


def ensure_serving_models(
    settings: Settings, *, on_step: Callable[[str], None] = lambda _m: None
) -> dict[str, str]:
    """Give every serving task a production model; returns task → version for those it set."""
    registry = service.model_registry(settings)
    from_pack: dict[str, str] = {}
    if (settings.model_pack_dir / "pack.json").is_file():
        for model in import_pack(settings, settings.model_pack_dir, tasks=settings.serving_tasks):
            from_pack[model.task] = model.version
            if model.newly_registered:
                on_step(f"{model.task}: imported version {model.version} from the model pack")
    promoted: dict[str, str] = {}
    for task in settings.serving_tasks:
        if _alias_version(registry, task, PRODUCTION_ALIAS) is not None:
            continue
        version = from_pack.get(task) or _alias_version(registry, task, CANDIDATE_ALIAS)
        if version is None:
            on_step(f"{task}: training the first model ({BOOTSTRAP_FAMILY}, about a minute)")
            version = service.train(
                settings=settings,
                task=task,
                family=BOOTSTRAP_FAMILY,
                on_step=_prefixed(on_step, task),
            ).version
        registry.set_alias(task, PRODUCTION_ALIAS, version)
        _audit(settings, task, version)
        on_step(f"{task}: version {version} is the first production model")
        promoted[task] = version
    return promoted


def _audit(settings: Settings, task: str, version: str) -> None:
    engine = make_engine(settings.resolved_database_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            audit.record(
                session,
                actor="system:bootstrap",
                tenant="system",
                action="model.promote:production",
                resource=f"model/{task}/{task}/{version}",
                outcome=AuditOutcome.SUCCEEDED,
                details={"reason": "no production model yet (first run)"},
            )
    finally:
        engine.dispose()
