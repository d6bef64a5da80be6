"""The per-domain promotion gates through the real compare_models tool: metrics logged on MLflow
runs behind registered versions, the verdict from the real OPA server and its data.json."""

from __future__ import annotations

import json
from pathlib import Path

from mlflow.entities import Metric
from mlflow.tracking import MlflowClient
from sqlalchemy.orm import Session, sessionmaker

from sentimentops.core.model_registry import MlflowRegistry
from sentimentops.core.policy import OpaPolicyEngine
from sentimentops.tools.base import ToolContext
from sentimentops.tools.catalogue import TOOLS
from tests.inference.registry import register
from tests.workflows.conftest import TENANT, platform_settings

SARCASM_DOMAINS = (
    "headlines", "figlang_tweets", "figlang_reddit", "riloff_tweets", "hashtag_tweets",
    "debate_forums", "reddit_politics", "sign_rewrites", "ptacek_tweets",
)  # fmt: skip

# Production: a general sarcasm model above every floor in every domain.
PRODUCTION = {
    **{f"domain_{d}_macro_f1": 0.65 for d in SARCASM_DOMAINS},
    "domain_headlines_macro_f1": 0.90,
    "domain_figlang_tweets_macro_f1": 0.70,
    "worst_domain_macro_f1": 0.65,
    "test_accuracy": 0.82,
    "test_macro_f1": 0.81,
    "flip_rate_typos": 0.05,
    "flip_rate_emoji": 0.02,
}


def _register(
    client: MlflowClient, uri: str, artifact: Path, alias: str, metrics: dict[str, float]
) -> str:
    """A sarcasm version behind `alias` whose run carries `metrics`, as training logs them."""
    version = register(uri, "sarcasm", artifact, alias)
    run_id = client.get_model_version("sarcasm", version).run_id
    assert run_id is not None
    client.log_batch(run_id, metrics=[Metric(k, v, 0, 0) for k, v in metrics.items()])
    return version


async def _compare(tmp_path: Path, opa_url: str, candidate: dict[str, float]) -> dict[str, object]:
    settings = platform_settings(tmp_path)
    uri = settings.resolved_mlflow_tracking_uri
    client = MlflowClient(uri, registry_uri=uri)
    # Promotion never loads the artifact; a placeholder keeps the store free of real models.
    artifact = tmp_path / "artifact"
    artifact.mkdir()
    (artifact / "model.json").write_text(json.dumps({"format": "test"}))
    _register(client, uri, artifact, "production", PRODUCTION)
    version = _register(client, uri, artifact, "candidate", candidate)
    ctx = ToolContext(
        settings=settings,
        # Unbound: compare_models reads only MLflow and OPA, so any database use would raise.
        sessions=sessionmaker[Session](),
        policy=OpaPolicyEngine(opa_url),
        registry=lambda: MlflowRegistry(uri),
        tenant=TENANT,
        actor="alice",
    )
    result = await TOOLS["compare_models"].call(ctx, {"task": "sarcasm"})
    out: dict[str, object] = result.model_dump()
    assert out["candidate_version"] == version
    return out


async def test_a_candidate_that_wins_on_headlines_but_loses_on_tweets_is_refused(
    tmp_path: Path, opa_url: str
) -> None:
    candidate = {
        **PRODUCTION,
        "domain_headlines_macro_f1": 0.93,
        "domain_figlang_tweets_macro_f1": 0.60,
        "worst_domain_macro_f1": 0.60,
        # Pooled over every domain the headline gain hides the loss: only the domain gate sees it.
        "test_accuracy": 0.83,
        "test_macro_f1": 0.82,
    }
    out = await _compare(tmp_path, opa_url, candidate)
    assert out["passed"] is False
    assert out["reasons"] == [
        "domain_figlang_tweets_macro_f1 0.6 regresses more than 0.02 from production's 0.7"
    ]


async def test_a_candidate_better_in_every_domain_passes(tmp_path: Path, opa_url: str) -> None:
    candidate = {
        k: v + 0.02 if "macro_f1" in k or k == "test_accuracy" else v for k, v in PRODUCTION.items()
    }
    out = await _compare(tmp_path, opa_url, candidate)
    assert (out["passed"], out["reasons"]) == (True, [])
