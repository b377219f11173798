"""Each service image installs only what that service needs, pinned exactly as the tests ran it.

deploy/docker/service.Dockerfile builds every service from deploy/docker/locks/<service>.lock, which
`make lock` compiles from the service's own dependency closure with requirements.lock as constraint.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
LOCKS = ROOT / "deploy" / "docker" / "locks"
DEV_TOOLS = {"pytest", "pytest-asyncio", "pytest-timeout", "hypothesis", "ruff", "mypy", "pgserver", "playwright"}


def _service_image():
    spec = importlib.util.spec_from_file_location("service_image", ROOT / "deploy/docker/service_image.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("service_image", mod)  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(mod)
    return mod


def _pins(lock: Path) -> dict[str, tuple[str, frozenset[str]]]:
    """name -> (version, hashes) of a hashed requirements file."""
    pins: dict[str, tuple[str, frozenset[str]]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", lock.read_text()):
        m = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(\S+)", block)
        if m:
            name = re.sub(r"[-_.]+", "-", m.group(1)).lower()
            pins[name] = (m.group(2), frozenset(re.findall(r"--hash=sha256:([0-9a-f]{64})", block)))
    return pins


SERVICES = _service_image().services()


def test_every_service_has_an_image_lock_and_no_stale_input():
    mod = _service_image()
    for service in SERVICES:
        assert (LOCKS / f"{service}.lock").exists(), f"run `make lock`: no image lock for {service}"
        expected = "\n".join(mod.requirements(service)) + "\n"
        text = (LOCKS / f"{service}.in").read_text()
        assert text.split("\n", 1)[1] == expected, f"deploy/docker/locks/{service}.in is stale: run `make lock`"


@pytest.mark.parametrize("service", SERVICES)
def test_image_lock_is_a_hashed_subset_of_the_workspace_lock(service):
    workspace = _pins(ROOT / "requirements.lock")
    image = _pins(LOCKS / f"{service}.lock")
    assert image, service
    for name, (version, hashes) in image.items():
        assert name in workspace, f"{service} image pins {name}, which requirements.lock does not"
        assert version == workspace[name][0], f"{service}: {name}=={version} but the tests ran {workspace[name][0]}"
        assert hashes and hashes <= workspace[name][1], f"{service}: {name} hashes differ from requirements.lock"
    assert not re.search(r"https?://", (LOCKS / f"{service}.lock").read_text())


@pytest.mark.parametrize("service", SERVICES)
def test_image_lock_holds_the_services_dependencies_and_no_dev_tools(service):
    mod = _service_image()
    image = _pins(LOCKS / f"{service}.lock")
    for req in mod.requirements(service):
        name = mod.canonical(re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req).group(1))
        assert name in image, f"{service} needs {name} but its image lock lacks it"
    declared = {mod.canonical(re.match(r"\s*([A-Za-z0-9._-]+)", r).group(1)) for r in mod.requirements(service)}
    assert not (DEV_TOOLS - declared) & set(image), f"{service} image would ship test tools"


def test_members_closure_puts_libraries_before_the_service():
    mod = _service_image()
    for service in SERVICES:
        chain = mod.closure(service)
        assert chain[-1].path == ROOT / "services" / service
        position = {m.name: i for i, m in enumerate(chain)}
        for member in chain:
            for dep in member.workspace:
                assert position[dep] < position[member.name], (service, dep, member.name)
        assert all(m.path.parent.name == "libs" for m in chain[:-1]), f"{service} image would install another service"


def test_compose_builds_every_service_from_the_one_template():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    built = {}
    for name, spec in compose["services"].items():
        build = spec.get("build")
        if build:
            assert build["dockerfile"] == "deploy/docker/service.Dockerfile", name
            built[build["args"]["SERVICE"]] = build["args"]["HEALTH_URL"]
    assert set(built) == set(SERVICES)
    assert not list(ROOT.glob("services/*/Dockerfile")), "per-service Dockerfiles drifted from the template"
