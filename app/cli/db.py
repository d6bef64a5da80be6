"""`sentimentops db …`: schema migrations."""

from __future__ import annotations

import typer

from sentimentops.app.cli.common import console, load_settings

app = typer.Typer(help="Database schema migrations (Alembic).", no_args_is_help=True)


@app.command()
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Migrate the database to REVISION (default: the newest)."""
    from sentimentops.app import schema  # Alembic: imported only when migrating

    settings = load_settings()
    schema.upgrade(settings.resolved_database_url, revision)
    console.print(f"database at {revision}: {_redacted(settings.resolved_database_url)}")


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
