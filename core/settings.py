"""The one settings class. Every knob is an environment variable with the `SENTIMENTOPS_` prefix
(or a line in `.env`); nothing else in the code reads the environment for configuration."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from sentimentops.core.vocabulary import TASKS, Task

REPO_ROOT = Path(__file__).resolve().parents[1]

# Accepted only while `env == "development"`: a laptop should work with zero configuration, but
# a deployment must never run with a secret that is printed in the source code.
DEVELOPMENT_SECRET = "development-only-secret-do-not-use-in-production"  # noqa: S105
MIN_SECRET_LENGTH = 32


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "sentimentops"


# Symmetric algorithms are never accepted from an external issuer: the "key" would be public
# JWKS material, and "none" is no signature at all.
ASYMMETRIC_JWT_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


class OidcIssuer(BaseModel):
    """One external OpenID Connect provider whose access/ID tokens are accepted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Must equal the `iss` claim and the discovery document's `issuer` exactly.
    issuer: str
    audience: str
    algorithms: tuple[str, ...] = ("RS256", "ES256")
    # Claim names that carry our tenant slug and role names (nested claims with dots: "a.b").
    tenant_claim: str = "tenant"
    roles_claim: str = "roles"
    # A provider cannot grant platform_admin unless the operator says so explicitly.
    allow_platform_admin: bool = False
    jwks_cache_seconds: int = Field(default=300, ge=10, le=86_400)

    @field_validator("algorithms")
    @classmethod
    def _asymmetric_only(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [a for a in value if a not in ASYMMETRIC_JWT_ALGORITHMS]
        if bad or not value:
            raise ValueError(f"only asymmetric JWT algorithms are allowed, not {bad or 'none'}")
        return value

    @field_validator("issuer")
    @classmethod
    def _https_issuer(cls, value: str) -> str:
        # Plain HTTP only on loopback (a provider on the same host, or a test stand-in).
        parsed = urlsplit(value)
        loopback = parsed.hostname in ("127.0.0.1", "localhost", "::1")
        if parsed.scheme != "https" and not (parsed.scheme == "http" and loopback):
            raise ValueError(f"OIDC issuer must be an https URL: {value}")
        return value


class Settings(BaseSettings):
    """Runtime configuration. Unset scale-out addresses mean "run the embedded default"."""

    model_config = SettingsConfigDict(
        env_prefix="SENTIMENTOPS_",
        env_file=".env",
        env_file_encoding="utf-8",
        # Other programs' keys in a shared .env are ignored; a SENTIMENTOPS_ key that matches
        # no field (a typo) is an error instead of a silently ignored setting.
        dotenv_filtering="match_prefix",
        extra="forbid",
    )

    env: Literal["development", "test", "production"] = "development"
    secret_key: SecretStr = SecretStr(DEVELOPMENT_SECRET)
    data_dir: Path = Field(default_factory=_default_data_dir)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = True

    # Application database: SQLite file under data_dir unless a URL is given (PostgreSQL in
    # scale-out, e.g. postgresql+psycopg://user:pass@host:5432/sentimentops).
    database_url: str | None = None

    # Cache, quotas and streams: in-process unless a Redis URL is given.
    redis_url: str | None = None

    # Temporal: embedded dev server on temporal_port unless temporal_address is set.
    temporal_address: str | None = None
    temporal_namespace: str = "default"
    temporal_task_queue: str = "sentimentops"
    temporal_port: int = Field(default=7233, ge=1, le=65535)
    temporal_ui_port: int = Field(default=8233, ge=1, le=65535)

    # OPA: embedded server on opa_port unless opa_url is set.
    opa_url: str | None = None
    opa_port: int = Field(default=8181, ge=1, le=65535)
    policies_dir: Path = REPO_ROOT / "policies" / "rego"

    # HTTP API. Binds loopback by default: exposing it is a deliberate operator decision.
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    max_request_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        description="Larger request bodies are refused (413) before they are read; this also "
        "bounds what the JSON parser is ever handed (a batch's length, a text's size).",
    )

    # Scoring service. Models come from the MLflow registry by alias (production, staging) and
    # are re-checked every model_poll_seconds; a new version is loaded beside the old one.
    serving_tasks: list[Task] = Field(default_factory=lambda: list(TASKS))
    # Serve this model pack's models as `production` instead of reading the registry: for a
    # scoring-only install (requirements/serve.txt has no MLflow). Aliases cannot move there.
    serving_model_pack: Path | None = None
    model_poll_seconds: float = Field(default=5.0, ge=0.5, le=3600)
    max_batch_texts: int = Field(
        default=256,
        ge=1,
        le=1024,
        description="Texts per scoring request: the one batch limit (service.check_limits); "
        "a larger batch gets 422 naming this value.",
    )
    max_text_chars: int = Field(
        default=20_000,
        ge=100,
        le=100_000,
        description="Characters per text and per context turn: the one length limit "
        "(service.check_limits); a longer one gets 422 naming this value.",
    )
    explain_max_texts: int = Field(default=8, ge=1, le=64)
    explain_max_tokens: int = Field(default=48, ge=4, le=256)
    # Micro-batching: a pass scores at most batch_max_size texts; under load a pass may wait up
    # to batch_max_wait_ms for more (an idle service never waits).
    batch_max_size: int = Field(default=32, ge=1, le=512)
    batch_max_wait_ms: float = Field(default=2.0, ge=0, le=100)
    # ONNX Runtime intra-op threads per model (None: the number of cores, at most 4).
    ort_threads: int | None = Field(default=None, ge=1, le=64)
    # WebSocket stream: browsers must come from one of these origins; programs send no Origin.
    ws_allowed_origins: list[str] = Field(default_factory=list)
    ws_max_in_flight: int = Field(default=32, ge=1, le=1024)
    ws_max_messages: int = Field(default=100_000, ge=1)
    ws_max_message_bytes: int = Field(default=131_072, ge=1024)

    # Identity. First-party access tokens are ES256 JWTs signed with a key kept in the database
    # (encrypted with a key derived from secret_key). Short lifetimes bound the damage of a leaked
    # token, since JWTs cannot be revoked before they expire.
    token_ttl_seconds: int = Field(default=900, ge=60, le=86_400)
    token_issuer: str = "sentimentops"  # noqa: S105 - a name, not a secret
    token_audience: str = "sentimentops-api"  # noqa: S105 - a name, not a secret
    # Clock skew tolerated on exp/nbf/iat, for tokens of external identity providers too.
    token_leeway_seconds: int = Field(default=30, ge=0, le=300)
    # The current signing key is replaced when it is older than this; the previous one stays in
    # the JWKS (and verifies) until the next rotation, so it must exceed token_ttl_seconds.
    signing_key_rotation_days: int = Field(default=30, ge=1, le=365)
    # External OIDC identity providers whose tokens we accept (JSON list in the environment);
    # an empty list means "first-party tokens and API keys only".
    oidc_issuers: list[OidcIssuer] = Field(default_factory=list)
    # First-run bootstrap: an operator-chosen one-time secret that lets POST /api/v1/auth/bootstrap
    # create the first platform admin. Unset (the default) means only a token printed by
    # `sentimentops admin bootstrap` works. Ignored once a platform admin exists.
    bootstrap_token: SecretStr | None = None
    bootstrap_token_ttl_seconds: int = Field(default=3600, ge=60, le=7 * 86_400)
    # Per-tenant token bucket on authenticated requests (Redis-backed when redis_url is set, so
    # that every API replica shares one budget). A tenant row may override both numbers.
    rate_limit_per_second: float = Field(default=50.0, gt=0)
    rate_limit_burst: int = Field(default=100, ge=1)
    # Authenticated principals are remembered this long (0: never), keyed by the credential's
    # hash. Changes drop them at once in the changing process, in others through Redis pub/sub
    # when redis_url is set; without Redis, other processes learn within this time
    # (identity/cache.py, docs/security.md).
    auth_cache_seconds: float = Field(default=30.0, ge=0, le=600)

    # Bundled reference datasets (datasets/PROVENANCE.md); read-only, verified by scripts/setup.
    datasets_dir: Path = REPO_ROOT / "datasets"
    # Ingested datasets (`sentimentops data ingest`, POST /api/v1/datasets; docs/data.md). A file
    # over max_dataset_bytes is refused before it is read; the API upload is also bounded by
    # max_dataset_upload_bytes (the request body limit for that one route).
    max_dataset_bytes: int = Field(default=512 * 1024 * 1024, ge=1024)
    max_dataset_upload_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    # Validation thresholds: the share of rows whose text repeats an earlier row, and the
    # longest text (characters) a dataset row may hold.
    dataset_max_duplicate_ratio: float = Field(default=0.05, ge=0.0, le=1.0)
    dataset_max_text_chars: int = Field(default=100_000, ge=1)
    # MLflow tracking and model registry: a SQLite store and local artifacts under
    # data_dir/mlflow unless a tracking URI (an MLflow server) is given.
    mlflow_tracking_uri: str | None = None
    # Models trained elsewhere (a GPU machine) and committed as a pack; `up` imports it into the
    # registry and, on a fresh install, serves it instead of training the linear models.
    model_pack_dir: Path = REPO_ROOT / "model_packs" / "minilm"

    # ML-ops lifecycle (workflows/, tools/, approvals/). Training runs on its own task queue so
    # that a GPU machine can serve it alone; `sentimentops worker` runs both queues by default.
    training_task_queue: str = "sentimentops-training"
    # When set, transformer trainings (tools.train_model.GPU_FAMILIES) go to this queue instead:
    # run `sentimentops worker --queue gpu` on the GPU machine; the rest stays on the CPU queue.
    gpu_task_queue: str | None = None
    # A pending approval expires after this long; the waiting plan then stops as "expired".
    approval_ttl_seconds: int = Field(default=86_400, ge=10, le=30 * 86_400)
    # The lifecycle template's soak period (metrics watched on the canary before production).
    lifecycle_soak_seconds: float = Field(default=300.0, ge=0, le=7 * 86_400)
    lifecycle_canary_share: float = Field(default=0.1, ge=0, le=1)
    # Training activities heartbeat; a worker that dies mid-training is noticed after this long
    # and the activity is retried on another (or the restarted) worker.
    training_heartbeat_seconds: float = Field(default=30.0, ge=1, le=3600)
    # Approval notifications: POSTed as JSON to this URL when set. Private, loopback and
    # link-local targets are refused (SSRF) unless their host is in webhook_allowed_hosts.
    approval_webhook_url: str | None = None
    webhook_allowed_hosts: list[str] = Field(default_factory=list)
    webhook_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    # The Temporal web UI when Temporal is external (the embedded one is known).
    temporal_external_ui_url: str | None = None
    # Where people open the web UI (e.g. https://ops.example.com); Slack messages link plans there.
    web_ui_url: str | None = None
    # The web UI's build (`npm run build` in ui/) that the API serves at `/`; unset: ui/dist in
    # the checkout. Without a build there, `/` is the landing page (docs/ui.md).
    ui_dist_dir: Path | None = None

    # Slack app (approvals/slack/, docs/slack.md). The bot token turns on the Slack notifier and
    # Socket Mode (`sentimentops slack`, with the app-level token); with the signing secret too,
    # the API serves Slack's HTTP events at /slack/events. None of them set: no Slack anywhere.
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    # Slack's Web API; tests point it at a local stand-in.
    slack_api_url: str = "https://slack.com/api/"
    # How often the tracked approval and plan messages are brought up to date.
    slack_update_seconds: float = Field(default=3.0, gt=0, le=300)

    # Agents (agents/). With no LLM endpoint the deterministic planner answers (no LLM anywhere);
    # set llm_base_url to any OpenAI-compatible server (vLLM, OpenAI, Ollama, llama.cpp), e.g.
    # http://127.0.0.1:8001/v1, and llm_model to the model it serves.
    llm_base_url: str | None = None
    llm_model: str = "default"
    llm_api_key: SecretStr | None = None
    llm_timeout_seconds: float = Field(default=60.0, gt=0, le=600)
    # One turn's budget: past any of these the run stops with a clear message.
    agent_max_tool_calls: int = Field(default=12, ge=1, le=100)
    agent_max_seconds: float = Field(default=120.0, gt=0, le=3600)
    # An OpenAI-style request carries ~3k tokens of tool schemas: 60k is about a dozen rounds.
    agent_max_tokens: int = Field(default=60_000, ge=100, le=1_000_000)
    # Agents act with access tokens this short-lived (minutes, not a service account's hours).
    agent_token_ttl_seconds: int = Field(default=300, ge=30, le=3600)

    # Knowledge base (knowledge_base/, docs/knowledge_base.md): Qdrant in local mode under
    # data_dir/qdrant unless a server URL is given (e.g. http://qdrant:6333); local mode lets
    # one process open the folder, a server serves every process.
    qdrant_url: str | None = None
    qdrant_api_key: SecretStr | None = None
    # Semantic analytics over scored texts (/api/v1/search): the most prediction-log texts one
    # call reads and may embed, which bounds its time (MiniLM on CPU) and memory.
    search_max_texts: int = Field(default=2000, ge=10, le=20_000)
    # Labeling (labeling/, docs/labeling.md): the most items a project takes from its source
    # (they are copied into the database when it is created), and how long an item served to an
    # annotator stays locked to them before another annotator may take it.
    labeling_max_items: int = Field(default=10_000, ge=1, le=200_000)
    labeling_lock_minutes: float = Field(default=15.0, gt=0, le=24 * 60)
    # The Data Curation agent opens a data issue when a label's share of a dataset version moved
    # more than this many percentage points from the previous version's.
    curation_label_drift_points: float = Field(default=10.0, gt=0, le=100)
    # At most this many suspected label errors go into a proposed relabeling project.
    curation_max_relabel_items: int = Field(default=500, ge=1, le=2000)

    # Where scripts/setup puts the Go-built tools (temporal, opa); PATH is searched after it.
    tools_dir: Path = REPO_ROOT / ".tools" / "bin"

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        secret = self.secret_key.get_secret_value()
        if self.env != "development":
            if secret == DEVELOPMENT_SECRET:
                raise ValueError(
                    "SENTIMENTOPS_SECRET_KEY must be set outside development "
                    f"(SENTIMENTOPS_ENV={self.env}); generate one with "
                    "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
                )
            if len(secret) < MIN_SECRET_LENGTH:
                raise ValueError(
                    f"SENTIMENTOPS_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters"
                )
        if self.bootstrap_token is not None and (
            len(self.bootstrap_token.get_secret_value()) < MIN_SECRET_LENGTH
        ):
            raise ValueError(
                f"SENTIMENTOPS_BOOTSTRAP_TOKEN must be at least {MIN_SECRET_LENGTH} characters"
            )
        if self.signing_key_rotation_days * 86_400 <= self.token_ttl_seconds:
            raise ValueError("signing_key_rotation_days must exceed token_ttl_seconds")
        return self

    # Derived values: computed, never configured twice.
    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'sentimentops.db'}"

    @property
    def resolved_temporal_address(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"

    @property
    def resolved_opa_url(self) -> str:
        return (self.opa_url or f"http://127.0.0.1:{self.opa_port}").rstrip("/")

    @property
    def embedded_temporal(self) -> bool:
        return self.temporal_address is None

    @property
    def embedded_opa(self) -> bool:
        return self.opa_url is None

    @property
    def temporal_ui_url(self) -> str | None:
        if self.embedded_temporal:
            return f"http://127.0.0.1:{self.temporal_ui_port}"
        return self.temporal_external_ui_url

    @property
    def api_url(self) -> str:
        host = "127.0.0.1" if self.api_host in ("0.0.0.0", "::") else self.api_host  # noqa: S104
        return f"http://{host}:{self.api_port}"

    @property
    def mlflow_dir(self) -> Path:
        return self.data_dir / "mlflow"

    @property
    def resolved_mlflow_tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{self.mlflow_dir / 'mlflow.db'}"

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings, read once. Tests build `Settings(...)` directly instead."""
    return Settings()
