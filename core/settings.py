"""The one settings class. Every knob is an environment variable with the `SENTIMENTOPS_` prefix
(or a line in `.env`); nothing else in the code reads the environment for configuration."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]

# Accepted only while `env == "development"`: a laptop should work with zero configuration, but
# a deployment must never run with a secret that is printed in the source code.
DEVELOPMENT_SECRET = "development-only-secret-do-not-use-in-production"  # noqa: S105
MIN_SECRET_LENGTH = 32


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "sentimentops"


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
    max_request_bytes: int = Field(default=1_048_576, ge=1024)

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
        return f"http://127.0.0.1:{self.temporal_ui_port}" if self.embedded_temporal else None

    @property
    def api_url(self) -> str:
        host = "127.0.0.1" if self.api_host in ("0.0.0.0", "::") else self.api_host  # noqa: S104
        return f"http://{host}:{self.api_port}"

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
