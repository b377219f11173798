from __future__ import annotations

from collections.abc import Iterator

import pytest
from leadflow_salesforce import connect
from leadflow_salesforce.testing import EmulatorHandle, running_emulator
from simple_salesforce import Salesforce


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorHandle]:
    with running_emulator() as handle:
        yield handle


@pytest.fixture
def emu(emulator: EmulatorHandle) -> Iterator[EmulatorHandle]:
    emulator.reset()
    emulator.set_clock(reset=True)
    emulator.configure(duplicateRule=False, dailyApiLimit=1_000_000, apiUsage=0, sessionTtlSeconds=7200)
    yield emulator
    emulator.clear_faults()


@pytest.fixture
def sf(emu: EmulatorHandle) -> Salesforce:
    return connect(emu.salesforce_settings())


# ---- a second client: jsforce 3 on Node, installed by npm into a cache outside the repository ----------
import json as _json  # noqa: E402
import os as _os  # noqa: E402
import shutil as _shutil  # noqa: E402
import subprocess as _subprocess  # noqa: E402
from dataclasses import dataclass as _dataclass  # noqa: E402
from pathlib import Path as _Path  # noqa: E402
from typing import Any as _Any  # noqa: E402

JSFORCE_SPEC = "jsforce@3"
_CONTRACT_JS = _Path(__file__).parent / "jsforce" / "contract.js"


def _jsforce_dir() -> _Path:
    base = _os.environ.get("LEADFLOW_NODE_CACHE") or _os.path.join(
        _os.environ.get("XDG_CACHE_HOME") or _os.path.expanduser("~/.cache"), "leadflow-test-node"
    )
    return _Path(base) / "jsforce3"


def ensure_jsforce() -> _Path:
    """node_modules with jsforce 3 (npm install once; no lockfile, nothing in the repository).
    Skips the calling test with the reason when Node/npm or the npm registry is not reachable."""
    if _shutil.which("node") is None or _shutil.which("npm") is None:
        pytest.skip("jsforce contract tests need Node.js 20 and npm on PATH")
    target = _jsforce_dir()
    modules = target / "node_modules"
    if (modules / "jsforce" / "package.json").exists():
        return modules
    target.mkdir(parents=True, exist_ok=True)
    (target / "package.json").write_text('{"name": "leadflow-jsforce-contract", "private": true}\n')
    try:
        done = _subprocess.run(
            ["npm", "install", "--no-package-lock", "--no-audit", "--no-fund", "--loglevel=error", JSFORCE_SPEC],
            cwd=target,
            capture_output=True,
            text=True,
            timeout=300,
        )
    except _subprocess.TimeoutExpired:
        pytest.skip(f"npm install {JSFORCE_SPEC} timed out (is the npm registry reachable?)")
    if done.returncode != 0 or not (modules / "jsforce").exists():
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        pytest.skip(f"npm install {JSFORCE_SPEC} failed (is the npm registry reachable?): {last[0]}")
    return modules


@_dataclass
class JsforceRunner:
    node_path: _Path
    emulator: EmulatorHandle

    def __call__(self, step: str, **args: _Any) -> _Any:
        """Run one step of jsforce/contract.js; return its result, or raise JsforceError."""
        env = {
            **{k: v for k, v in _os.environ.items() if k in ("PATH", "HOME", "LANG")},
            "NODE_PATH": str(self.node_path),
            "NODE_EXTRA_CA_CERTS": str(self.emulator.ca_path or ""),
            "SF_LOGIN_URL": self.emulator.url,
            "SF_USERNAME": self.emulator.username,
            "SF_PASSWORD": self.emulator.password + self.emulator.security_token,
        }
        done = _subprocess.run(
            ["node", str(_CONTRACT_JS), step, _json.dumps(args)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if not done.stdout.strip():
            raise AssertionError(f"jsforce step {step} printed nothing; stderr: {done.stderr[-2000:]}")
        out = _json.loads(done.stdout)
        if "error" in out:
            raise JsforceError(out["error"])
        return out["ok"]


class JsforceError(Exception):
    def __init__(self, error: dict[str, _Any]) -> None:
        super().__init__(f"{error.get('errorCode') or error.get('name')}: {error.get('message')}")
        self.error_code = error.get("errorCode") or error.get("name")
        self.message = error.get("message", "")


@pytest.fixture(scope="session")
def jsforce_modules() -> _Path:
    return ensure_jsforce()


@pytest.fixture
def jsforce(jsforce_modules: _Path, emu: EmulatorHandle) -> JsforceRunner:
    return JsforceRunner(jsforce_modules, emu)
