"""Load the sources file and the suppression list, with errors that name the file and the field."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from leadflow_contracts import CustomAnswersConfig
from pydantic import SecretStr, ValidationError

from leadflow_intake.domain.sources import SourceConfig, SourcesFile
from leadflow_intake.domain.suppression import SuppressionList

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message names the file, line or field."""


@dataclass(frozen=True)
class Source:
    name: str
    config: SourceConfig
    secret: SecretStr | None


@dataclass(frozen=True)
class SourceRegistry:
    """The configured sources with their signing secrets resolved."""

    sources: Mapping[str, Source] = field(default_factory=dict)

    def get(self, name: str) -> Source | None:
        return self.sources.get(name)

    def default_region(self, name: str) -> str | None:
        source = self.sources.get(name)
        return source.config.default_region if source else None

    @classmethod
    def build(cls, spec: SourcesFile, secrets: Mapping[str, SecretStr | None]) -> SourceRegistry:
        return cls(
            {
                name: Source(
                    name,
                    cfg,
                    secrets.get(cfg.signing_secret_env) if cfg.signing_secret_env else None,
                )
                for name, cfg in spec.sources.items()
            }
        )

    def missing_secrets(self) -> list[str]:
        """Sources that require a signature but whose secret variable is unset (they fail closed)."""
        return sorted(name for name, s in self.sources.items() if s.config.require_signature and s.secret is None)


def load_sources_file(path: Path) -> SourcesFile:
    try:
        raw = yaml.safe_load(path.read_text("utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the sources file ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    try:
        return SourcesFile.model_validate(raw or {})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False))
        raise ConfigError(f"{path}: {problems}") from exc


def load_suppression_file(path: Path) -> SuppressionList:
    """One SHA-256 hex digest a line; blank lines and ``#`` comments are ignored."""
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the suppression list ({exc.strerror})") from exc
    hashes: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.split("#", 1)[0].strip().lower()
        if not entry:
            continue
        if not _HEX64.match(entry):
            raise ConfigError(f"{path}, line {number}: expected a SHA-256 hex digest (64 hex characters)")
        hashes.add(entry)
    return SuppressionList(frozenset(hashes))


def load_custom_answers(path: Path) -> CustomAnswersConfig:
    """The custom-answers YAML → config; errors name the file and the bad key."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"{path}: cannot read custom answers file ({e.strerror or e})") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({e})") from None
    try:
        return CustomAnswersConfig.model_validate(data)
    except ValidationError as e:
        parts = [f"{'.'.join(str(x) for x in err['loc']) or '(root)'}: {err['msg']}" for err in e.errors()]
        raise ConfigError(f"{path}: " + "; ".join(parts)) from None
