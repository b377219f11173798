"""The lock pins every third-party dependency that any workspace member declares."""

import importlib.util
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def _lock_inputs():
    spec = importlib.util.spec_from_file_location("lock_inputs", ROOT / "deploy/scripts/lock_inputs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_member_dependency_is_in_the_lock():
    assert _lock_inputs().missing_from_lock() == {}


def test_lock_is_hashed_and_records_no_download_addresses():
    text = (ROOT / "requirements.lock").read_text()
    pins = re.findall(r"^[A-Za-z0-9][\w.\-]*(?:\[.*\])?==\S+", text, flags=re.M)
    assert len(pins) > 20
    assert text.count("--hash=sha256:") >= len(pins)
    assert not re.search(r"https?://", text)
    assert not (ROOT / "uv.lock").exists() or "uv.lock" in (ROOT / ".gitignore").read_text()


def test_members_are_workspace_packages_with_their_own_dependencies():
    import tomllib

    for member in [*ROOT.glob("libs/*/pyproject.toml"), *ROOT.glob("services/*/pyproject.toml")]:
        data = tomllib.loads(member.read_text())
        assert data["project"]["name"].startswith("leadflow-"), member
        assert "dependencies" in data["project"], member
        for dep in data["project"]["dependencies"]:
            if dep.startswith("leadflow-"):
                assert dep in data.get("tool", {}).get("uv", {}).get("sources", {}), (member, dep)
