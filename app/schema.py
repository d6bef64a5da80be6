"""The database schema: Alembic migrations over every domain's tables (app/tables.py). Here in the
app layer because the migration environment must see every table."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from sentimentops.core.db import ensure_sqlite_dir

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolates "%" (URL-encoded passwords contain it).
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema at `url` to `revision` (idempotent)."""
    ensure_sqlite_dir(url)
    command.upgrade(alembic_config(url), revision)
