"""Find and load the rule set YAML (I/O lives here; validation in ``domain.ruleset``)."""

from __future__ import annotations

from pathlib import Path

import yaml

from leadflow_score.domain.ruleset import Ruleset, RulesetError, parse_ruleset

RULESET_NAME = "ruleset-v1.yaml"


def default_ruleset_file() -> Path:
    """The packaged copy (wheel) or services/score/rules (editable install / source tree)."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[1] / "rules" / RULESET_NAME, here.parents[3] / "rules" / RULESET_NAME):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"{RULESET_NAME} not found next to the package or in services/score/rules")


def load_ruleset(path: Path | None = None) -> Ruleset:
    path = path or default_ruleset_file()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise RulesetError(f"{path}: cannot read: {e}") from None
    return parse_ruleset(raw, source=str(path))
