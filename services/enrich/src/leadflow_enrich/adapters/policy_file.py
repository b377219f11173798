"""Load the enrichment policy YAML (I/O lives here; validation in ``domain.policy``)."""

from __future__ import annotations

from pathlib import Path

import yaml

from leadflow_enrich.domain.policy import EnrichPolicy, PolicyError, parse_policy

DEFAULT_POLICY_FILE = Path(__file__).resolve().parent.parent / "data" / "enrich-policy-v1.yaml"


def load_policy(path: Path | None = None) -> EnrichPolicy:
    path = path or DEFAULT_POLICY_FILE
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise PolicyError(f"{path}: cannot read: {e}") from None
    return parse_policy(raw, source=str(path))
