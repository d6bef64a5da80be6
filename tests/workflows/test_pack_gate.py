"""On a fresh install the model pack's version is production, and the promotion gate compares a
candidate with the pack's recorded evaluation (its card's metrics, logged at import): a TF-IDF
candidate with the general tfidf_lr's measured per-domain figures is refused by the real
compare_models tool and OPA. Before the import logged them, production had no metrics and the
gate let any candidate through."""

from __future__ import annotations

import json
import shutil
from functools import partial
from pathlib import Path

from mlflow.entities import Metric
from sqlalchemy.orm import Session, sessionmaker

from sentimentops.app import schema
from sentimentops.core.model_registry import MlflowRegistry
from sentimentops.core.policy import OpaPolicyEngine
from sentimentops.core.settings import REPO_ROOT
from sentimentops.inference.packs import PACK_FORMAT
from sentimentops.tools import promotions
from sentimentops.tools.base import ToolContext
from sentimentops.tools.catalogue import TOOLS
from sentimentops.training.bootstrap import ensure_serving_models
from tests.inference.factories import make_onnx_artifact
from tests.inference.registry import register
from tests.workflows.conftest import TENANT, platform_settings


def _tfidf_metrics() -> dict[str, float]:
    """The general tfidf_lr sarcasm model's per-domain test figures, as measured by
    benchmarks/domains.py, named as training logs them."""
    results = json.loads((REPO_ROOT / "benchmarks/results/domains_tfidf_lr.json").read_text())
    domains = results["tasks"]["sarcasm"]["general"]["domains"]
    # Pooled over every domain's test split, as training measures test_accuracy.
    (tn, fp), (fn, tp) = (
        [sum(d["confusion_matrix"][row][col] for d in domains.values()) for col in (0, 1)]
        for row in (0, 1)
    )
    return {
        f"domain_{name}_{metric}": float(figures[metric])
        for name, figures in domains.items()
        for metric in ("accuracy", "macro_f1")
    } | {
        "worst_domain_macro_f1": min(float(d["macro_f1"]) for d in domains.values()),
        "test_accuracy": (tn + tp) / (tn + fp + fn + tp),
    }


async def test_a_tfidf_candidate_is_refused_against_the_packs_record(
    tmp_path: Path, opa_url: str
) -> None:
    # The committed pack's sarcasm card beside a small stand-in artifact (the gate never loads
    # the model; the import only smoke-tests it).
    pack = tmp_path / "pack"
    make_onnx_artifact(pack / "sarcasm" / "model", task="sarcasm")
    shutil.copy(REPO_ROOT / "model_packs/minilm/sarcasm/card.json", pack / "sarcasm/card.json")
    entry = {"task": "sarcasm", "family": "routed", "path": "sarcasm/model"}
    manifest = {"format": PACK_FORMAT, "models": [{**entry, "card": "sarcasm/card.json"}]}
    (pack / "pack.json").write_text(json.dumps(manifest))
    settings = platform_settings(tmp_path, model_pack_dir=pack, serving_tasks=["sarcasm"])
    schema.upgrade(settings.resolved_database_url)
    promote = partial(promotions.promote_first_production, settings)
    assert ensure_serving_models(settings, promote=promote) == {"sarcasm": "1"}

    uri = settings.resolved_mlflow_tracking_uri
    registry = MlflowRegistry(uri)
    candidate = register(uri, "sarcasm", make_onnx_artifact(tmp_path / "c", task="sarcasm"), "c")
    run_id = registry.get_version("sarcasm", candidate).run_id
    assert run_id is not None
    metrics = [Metric(k, v, 0, 0) for k, v in _tfidf_metrics().items()]
    registry.client.log_batch(run_id, metrics=metrics)
    ctx = ToolContext(
        settings=settings,
        sessions=sessionmaker[Session](),  # compare_models reads only MLflow and OPA
        policy=OpaPolicyEngine(opa_url),
        registry=lambda: registry,
        tenant=TENANT,
        actor="alice",
    )
    result = await TOOLS["compare_models"].call(
        ctx, {"task": "sarcasm", "candidate_version": candidate}
    )
    out = result.model_dump()
    assert out["baseline_version"] == "1"
    assert out["passed"] is False
    reasons = "\n".join(out["reasons"])
    assert "domain_headlines_macro_f1 0.72" in reasons
    assert "from production's 0.855" in reasons
    assert "test_accuracy 0.647" in reasons  # pooled over the domains: the pack has 0.682
