from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from sentimentops.core.settings import DEVELOPMENT_SECRET, Settings

STRONG = "x" * 48


def test_development_runs_on_defaults(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, _env_file=None)
    assert settings.secret_key.get_secret_value() == DEVELOPMENT_SECRET
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'sentimentops.db'}"
    assert settings.embedded_temporal
    assert settings.embedded_opa
    assert settings.resolved_opa_url == "http://127.0.0.1:8181"
    assert settings.temporal_ui_url == "http://127.0.0.1:8233"


@pytest.mark.parametrize("env", ["production", "test"])
def test_default_secret_refused_outside_development(env: str) -> None:
    with pytest.raises(ValidationError, match="SENTIMENTOPS_SECRET_KEY must be set"):
        Settings(env=env, _env_file=None)


def test_short_secret_refused_outside_development() -> None:
    with pytest.raises(ValidationError, match="at least 32"):
        Settings(env="production", secret_key="short", _env_file=None)


def test_environment_variables_and_scale_out_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTIMENTOPS_ENV", "production")
    monkeypatch.setenv("SENTIMENTOPS_SECRET_KEY", STRONG)
    monkeypatch.setenv("SENTIMENTOPS_TEMPORAL_ADDRESS", "temporal.internal:7233")
    monkeypatch.setenv("SENTIMENTOPS_OPA_URL", "http://opa.internal:8181/")
    monkeypatch.setenv("SENTIMENTOPS_DATABASE_URL", "postgresql+psycopg://u:p@db/so")
    settings = Settings(_env_file=None)
    assert not settings.embedded_temporal
    assert not settings.embedded_opa
    assert settings.temporal_ui_url is None
    assert settings.resolved_opa_url == "http://opa.internal:8181"
    assert settings.resolved_database_url == "postgresql+psycopg://u:p@db/so"


def test_dotenv_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("SENTIMENTOPS_API_PORT=9123\n")
    monkeypatch.chdir(tmp_path)
    assert Settings().api_port == 9123


def test_other_programs_dotenv_keys_are_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("OTHER_APP_TOKEN=1\nSENTIMENTOPS_API_PORT=9124\n")
    monkeypatch.chdir(tmp_path)
    assert Settings().api_port == 9124


def test_misspelt_dotenv_keys_are_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("SENTIMENTOPS_API_PROT=9123\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValidationError, match="api_prot"):
        Settings()


def test_children_of_up_know_the_embedded_temporal_web_ui(tmp_path: Path) -> None:
    from sentimentops.app.processes.specs import child_env

    parent = Settings(_env_file=None, data_dir=tmp_path, temporal_ui_port=18233)
    env = child_env(parent)
    # Any: the child's environment values are strings for Settings to validate, as from env vars.
    fields: dict[str, Any] = {k.removeprefix("SENTIMENTOPS_").lower(): v for k, v in env.items()}
    child = Settings(_env_file=None, **fields)
    assert not child.embedded_temporal  # the child is told the address, so it is "external"
    assert child.temporal_ui_url == "http://127.0.0.1:18233"
