"""Start the Salesforce emulator as a real HTTPS server for tests (one per session) and talk to its control plane.

    with running_emulator() as emu:
        sf = connect(emu.salesforce_settings())
        emu.reset(); emu.set_clock(now="2024-05-01T09:00:00Z")

Needs the `leadflow-salesforce-emulator` workspace member installed (it is in the dev environment).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from pydantic import SecretStr

from leadflow_salesforce.client import SalesforceSettings

DEFAULT_USERNAME = "integration@leadflow.example"
DEFAULT_PASSWORD = "leadflow-pass"  # noqa: S105 - emulator-only credentials
DEFAULT_TOKEN = "LEADFLOWTOKEN"  # noqa: S105
DEFAULT_CONSUMER_KEY = "leadflow-connected-app"
DEFAULT_CONSUMER_SECRET = "leadflow-connected-secret"  # noqa: S105


@dataclass
class EmulatorHandle:
    url: str  # https://127.0.0.1:PORT
    ca_path: Path | None
    data_path: str
    username: str = DEFAULT_USERNAME
    password: str = DEFAULT_PASSWORD
    security_token: str = DEFAULT_TOKEN
    consumer_key: str = DEFAULT_CONSUMER_KEY
    consumer_secret: str = DEFAULT_CONSUMER_SECRET
    api_version: str = "59.0"
    process: subprocess.Popen[bytes] | None = None
    _workdir: Path | None = None
    _http: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        self._http.trust_env = False
        self._http.verify = str(self.ca_path) if self.ca_path else True

    def salesforce_settings(self, **overrides: Any) -> SalesforceSettings:
        """Settings for `leadflow_salesforce.connect` that log in to this emulator (SOAP by default)."""
        base: dict[str, Any] = {
            "login_url": self.url,
            "instance_url": self.url,
            "username": self.username,
            "password": SecretStr(self.password),
            "security_token": SecretStr(self.security_token),
            "consumer_key": self.consumer_key,
            "consumer_secret": SecretStr(self.consumer_secret),
            "ca_bundle": self.ca_path,
            "api_version": self.api_version,
            "timeout": 30.0,
        }
        base.update(overrides)
        return SalesforceSettings(**base)

    # ---- control plane -------------------------------------------------------------------------
    def control(self, method: str, path: str, json: Any = None) -> Any:
        r = self._http.request(method, f"{self.url}/__emulator__/{path.lstrip('/')}", json=json, timeout=30)
        r.raise_for_status()
        return r.json()

    def reset(self) -> None:
        self.control("POST", "reset")

    def seed(self, fixture: str | dict[str, Any] = "demo") -> int:
        body = {"fixture": fixture} if isinstance(fixture, str) else fixture
        return int(self.control("POST", "seed", body)["records"])

    def set_clock(self, **body: Any) -> dict[str, Any]:
        """now=ISO (freeze=bool) | offsetSeconds=N | advanceSeconds=N | reset=True."""
        return self.control("POST", "clock", body)  # type: ignore[no-any-return]

    def add_fault(self, **spec: Any) -> dict[str, Any]:
        return self.control("POST", "faults", spec)["faults"][0]  # type: ignore[no-any-return]

    def clear_faults(self) -> None:
        self.control("DELETE", "faults")

    def revoke_sessions(self) -> int:
        return int(self.control("POST", "sessions/revoke", {})["revoked"])

    def configure(self, **body: Any) -> dict[str, Any]:
        """duplicateRule=bool, dailyApiLimit=N, apiUsage=N, sessionTtlSeconds=N."""
        return self.control("POST", "settings", body)  # type: ignore[no-any-return]

    def requests_log(self, limit: int = 1000) -> list[dict[str, Any]]:
        return self.control("GET", f"requests?limit={limit}")["requests"]  # type: ignore[no-any-return]

    def stats(self) -> dict[str, Any]:
        return self.control("GET", "stats")  # type: ignore[no-any-return]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self._http.close()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)


def start_emulator(
    *,
    data: str = ":memory:",
    seed: str | None = None,
    tls: bool = True,
    cert_dir: Path | None = None,
    env: dict[str, str] | None = None,
    startup_timeout: float = 30.0,
    log_level: str = "warning",
) -> EmulatorHandle:
    """Start `python -m leadflow_sf_emulator` on a free loopback port and wait until it listens."""
    workdir = Path(tempfile.mkdtemp(prefix="sfemu-"))
    certs = cert_dir or workdir / "certs"
    ready = workdir / "ready"
    cmd = [
        sys.executable,
        "-m",
        "leadflow_sf_emulator",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--data",
        data,
        "--cert-dir",
        str(certs),
        "--ready-file",
        str(ready),
        "--log-level",
        log_level,
        "--tls" if tls else "--no-tls",
    ]
    if seed:
        cmd += ["--seed", seed]
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("SFEMU_")}
    child_env.update(env or {})
    log_file = open(workdir / "emulator.log", "wb")
    proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, env=child_env)  # noqa: S603
    deadline = time.monotonic() + startup_timeout
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            log_file.close()
            out = (workdir / "emulator.log").read_text(errors="replace")[-4000:]
            shutil.rmtree(workdir, ignore_errors=True)
            raise RuntimeError(f"salesforce emulator did not start:\n{out}")
        time.sleep(0.05)
    host, port, scheme = ready.read_text().split()
    log_file.close()
    return EmulatorHandle(
        url=f"{scheme}://{host}:{port}",
        ca_path=certs / "ca.pem" if tls else None,
        data_path=data,
        process=proc,
        _workdir=workdir,
    )


@contextmanager
def running_emulator(**kwargs: Any) -> Iterator[EmulatorHandle]:
    handle = start_emulator(**kwargs)
    try:
        yield handle
    finally:
        handle.stop()
