"""The floor plan (docs/adr/0004-layers-and-flows.md): every import points down. The kernel
(`core/`) imports no domain; a domain imports only the kernel and the domains below it; only the
app layer (`app/`) knows every domain. Imports inside functions count too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Lower number = lower floor. A folder may import its own modules and any folder with a lower
# number; folders on the same floor are independent of each other.
LAYERS: dict[str, int] = {
    "core": 0,
    "identity": 1,
    "inference": 2,
    "training": 3,
    "labeling": 4,
    # Above labeling: tools read feedback and labelling projects (feedback_accuracy,
    # create_relabel_project).
    "tools": 5,
    "approvals": 5,
    "analytics": 6,
    "workflows": 6,
    "knowledge_base": 7,
    "agents": 8,
    # Data issues and the curation flow: it runs the Data Curation agent and notifies.
    "curation": 9,
    "app": 10,
}


def _imported_folders(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "sentimentops":
                names = [f"sentimentops.{alias.name}" for alias in node.names]
            else:
                names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "sentimentops" and len(parts) > 1 and parts[1] in LAYERS:
                found.append((node.lineno, parts[1]))
    return found


def layer_violations(root: Path) -> list[str]:
    """`path:line: folder -> folder` for every import that points up or sideways."""
    violations = []
    for folder, rank in LAYERS.items():
        for path in sorted((root / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for line, target in _imported_folders(tree):
                if target != folder and LAYERS[target] >= rank:
                    violations.append(f"{path.relative_to(root)}:{line}: {folder} -> {target}")
    return violations


def test_every_import_points_down() -> None:
    assert layer_violations(REPO) == []


@pytest.mark.parametrize(
    ("folder", "statement"),
    [
        ("core", "from sentimentops.identity.principal import Principal"),
        ("inference", "import sentimentops.training.service"),
        ("tools", "from sentimentops import workflows"),
        ("workflows", "from sentimentops.app.cli.common import fail"),
        ("approvals", "def later():\n    from sentimentops.workflows import client\n"),
    ],
)
def test_a_planted_upward_import_is_caught(tmp_path: Path, folder: str, statement: str) -> None:
    (tmp_path / folder).mkdir()
    (tmp_path / folder / "planted.py").write_text(statement + "\n", encoding="utf-8")
    [violation] = layer_violations(tmp_path)
    assert violation.startswith(f"{folder}/planted.py:")


def test_every_top_level_package_has_a_floor() -> None:
    packages = {p.name for p in (REPO / "sentimentops").iterdir() if p.is_symlink()}
    assert packages == set(LAYERS)
