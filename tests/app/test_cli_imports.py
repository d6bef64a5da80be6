"""The CLI stays fast to start: importing its entry point (which every command, even `--help`,
does) must not import the heavy libraries. Checked in a fresh interpreter, whose sys.modules
says exactly what the import pulled in; no timing, so the test fails only when an import
creeps back (benchmarks/cli_startup.py measures the time)."""

from __future__ import annotations

import json
import subprocess
import sys

# What the CLI's commands import inside their bodies, never at the top of a module that the
# entry point imports: machine learning, serving, agents, the web server, Temporal, the ORM
# and migrations.
HEAVY = (
    "mlflow",
    "sklearn",
    "torch",
    "pandas",
    "onnxruntime",
    "langchain",
    "langchain_core",
    "langgraph",
    "numpy",
    "fastapi",
    "uvicorn",
    "temporalio",
    "sqlalchemy",
    "alembic",
)


def _imported_by(statement: str) -> list[str]:
    probe = (
        f"import json, sys\n{statement}\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    found: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_importing_the_cli_imports_no_heavy_library() -> None:
    assert _imported_by("import sentimentops.app.cli.main") == []


def test_building_every_command_imports_no_heavy_library() -> None:
    # Typer reads every command's signature when it builds the Click group (for --help and any
    # command): the option types must be light too.
    statement = (
        "import typer.main\nfrom sentimentops.app.cli.main import app\n"
        "group = typer.main.get_command(app)\n"
        "import click\nctx = click.Context(group)\n"
        "[group.get_command(ctx, name) for name in group.list_commands(ctx)]"
    )
    assert _imported_by(statement) == []


def test_the_probe_sees_a_heavy_import() -> None:
    """The check above can fail: a module that imports one of them is caught."""
    assert _imported_by("import sentimentops.app.cli.main\nimport sqlalchemy") == ["sqlalchemy"]
