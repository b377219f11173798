"""Every workspace member declares what its code imports.

A service image installs only the member's own dependencies (deploy/docker/service.Dockerfile), so an
import that works here only because another member pulled the package into the shared .venv would fail
in production. This reads each member's source (not its tests or benches), maps every absolute import
to the distribution that provides it in this environment, and requires that distribution (or a
workspace member) to be declared in the member's [project.dependencies] or optional dependencies.
Imports guarded by `try/except ImportError` and under `if TYPE_CHECKING:` are optional by intent.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
MEMBERS = sorted(p.parent for pat in ("libs/*/pyproject.toml", "services/*/pyproject.toml") for p in ROOT.glob(pat))


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared(member: Path) -> set[str]:
    project = tomllib.loads((member / "pyproject.toml").read_text())["project"]
    reqs = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        reqs.extend(extra)
    return {_canonical(re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", r).group(1)) for r in reqs}


def _guarded(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.Try) and any(
            isinstance(h.type, ast.Name) and h.type.id in {"ImportError", "ModuleNotFoundError"} for h in node.handlers
        ):
            return True
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def _imports(member: Path) -> dict[str, str]:
    """Top-level module name -> first file that imports it."""
    found: dict[str, str] = {}
    for path in sorted((member / "src").rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            if _guarded(node, parents):
                continue
            for name in names:
                found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def _own_packages(member: Path) -> set[str]:
    return {p.name for p in (member / "src").iterdir() if p.is_dir() or p.suffix == ".py"} | {
        p.stem for p in (member / "src").glob("*.py")
    }


@pytest.mark.parametrize("member", MEMBERS, ids=[m.name for m in MEMBERS])
def test_member_declares_every_distribution_it_imports(member: Path) -> None:
    providers = importlib.metadata.packages_distributions()
    workspace = {  # editable installs are not in packages_distributions(): map src/<package> to its member
        pkg.name: _canonical(tomllib.loads((m / "pyproject.toml").read_text())["project"]["name"])
        for m in MEMBERS
        for pkg in (m / "src").iterdir()
        if pkg.is_dir()
    }
    declared = _declared(member)
    own = _own_packages(member)
    missing = {}
    for module, where in _imports(member).items():
        if module in sys.stdlib_module_names or module in own or module == "__future__":
            continue
        dists = {_canonical(d) for d in providers.get(module, [])}
        if module in workspace:
            dists = {workspace[module]}
        if not dists:
            missing[module] = f"{where} (no installed distribution provides it)"
        elif not dists & declared:
            missing[module] = f"{where} (provided by {', '.join(sorted(dists))})"
    assert missing == {}, f"{member.relative_to(ROOT)} imports undeclared packages: {missing}"
