"""First-run models: a fresh install must score right away.

For each serving task without a `production` model, take the committed model pack's model if
there is one (settings.model_pack_dir, unless `use_pack` is off), else train the `tfidf_lr`
family on the bundled reference data (unless a candidate already exists), and make that version
the first `production` model. Later promotions go through the policy-gated lifecycle workflows;
this is the one initial deployment. The caller moves the alias through `promote`, which records
it in the promotion history and the audit log like any promotion (tools/promotions.py, a floor
above this one), so that a later rollback can return to the first model.
"""

from __future__ import annotations

from collections.abc import Callable

from sentimentops.core.model_registry import ModelRegistry
from sentimentops.core.settings import Settings
from sentimentops.core.vocabulary import CANDIDATE_ALIAS, Alias
from sentimentops.training import service
from sentimentops.training.model_pack import import_pack

PRODUCTION_ALIAS: Alias = "production"
BOOTSTRAP_FAMILY = "tfidf_lr"
# (task, version): make the version the task's first production model, recorded and audited.
FirstPromotion = Callable[[str, str], None]


def _alias_version(registry: ModelRegistry, task: str, alias: str) -> str | None:
    found = registry.version_for_alias(task, alias)
    return found.version if found is not None else None


def _prefixed(on_step: Callable[[str], None], task: str) -> Callable[[str], None]:
    return lambda message: on_step(f"{task}: {message}")


def ensure_serving_models(
    settings: Settings,
    *,
    promote: FirstPromotion,
    use_pack: bool = True,
    on_step: Callable[[str], None] = lambda _m: None,
) -> dict[str, str]:
    """Give every serving task a production model; returns task → version for those it set."""
    registry = service.model_registry(settings)
    from_pack: dict[str, str] = {}
    if use_pack and (settings.model_pack_dir / "pack.json").is_file():
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
        promote(task, version)
        on_step(f"{task}: version {version} is the first production model")
        promoted[task] = version
    return promoted
