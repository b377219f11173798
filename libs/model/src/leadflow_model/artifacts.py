"""Versioned model artifacts and the ``active.json`` pointer.

    <artifacts>/
      active.json                      {"active": "<version>", "shadow": ["<version>", ...], "updated_at": ...}
      <version>/model.joblib           the calibrated scikit-learn model
      <version>/manifest.json          version, feature spec, intake mapping, training window, sha256 of model.joblib
      <version>/metrics.json           holdout + cross-validation metrics
      <version>/model_card.md          what it is for, data, features, leakage policy, metrics, limits
      <version>/report/                evaluation report (report.md + PNG plots)

The model file is only loaded when its sha256 matches the manifest (joblib/pickle runs code on load:
artifacts directories are trusted, and a tampered or half-written file is refused).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import sklearn
from pydantic import BaseModel, ConfigDict, Field

from leadflow_model.explain import Explainer
from leadflow_model.features import FeatureSpec
from leadflow_model.mapping import ColumnMap, IntakeMap

MODEL_FILE = "model.joblib"
MANIFEST_FILE = "manifest.json"
METRICS_FILE = "metrics.json"
CARD_FILE = "model_card.md"
ACTIVE_FILE = "active.json"


class ArtifactError(ValueError):
    pass


class Manifest(BaseModel):
    model_config = ConfigDict(frozen=True)

    version: str
    created_at: datetime
    mapping_name: str
    source: str
    spec: FeatureSpec
    intake: IntakeMap
    missing_values: tuple[str, ...] = ("",)
    columns: dict[str, ColumnMap] = Field(
        default_factory=dict, description="The mapped columns (field, type, value table, live sources)."
    )
    validation: dict[str, Any] = Field(
        default_factory=dict, description="Figures of the validation step (holdout) before the final refit."
    )
    refit_on_all: bool = False
    params: dict[str, Any] = Field(default_factory=dict)
    window: dict[str, str | None] = Field(default_factory=dict)
    holdout_roc_auc: float | None = None
    holdout_pr_auc: float | None = None
    model_sha256: str
    sklearn_version: str
    explainer: Explainer | None = None


class ActivePointer(BaseModel):
    model_config = ConfigDict(frozen=True)

    active: str | None = None
    shadow: tuple[str, ...] = ()
    updated_at: datetime | None = None
    note: str | None = None


@dataclass
class LoadedModel:
    manifest: Manifest
    model: Any
    path: Path

    @property
    def version(self) -> str:
        return self.manifest.version


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def new_version(name: str, now: datetime | None = None) -> str:
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{name}-{now.strftime('%Y%m%dT%H%M%S')}Z"


def write_artifact(
    root: Path,
    *,
    version: str,
    model: Any,
    mapping_name: str,
    source: str,
    spec: FeatureSpec,
    intake: IntakeMap,
    missing_values: tuple[str, ...],
    params: dict[str, Any],
    columns: dict[str, ColumnMap] | None = None,
    refit_on_all: bool = False,
    window: dict[str, str | None],
    metrics: dict[str, Any],
    card: str,
    created_at: datetime | None = None,
    explainer: Explainer | None = None,
) -> Path:
    """Write a complete version directory (to a temp dir, then renamed: readers never see half of one)."""
    root.mkdir(parents=True, exist_ok=True)
    final = root / version
    if final.exists():
        raise ArtifactError(f"artifact version {version} already exists in {root}")
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{version}."))
    joblib.dump(model, tmp / MODEL_FILE)
    holdout = metrics.get("holdout", {})
    manifest = Manifest(
        version=version,
        created_at=created_at or datetime.now(UTC),
        mapping_name=mapping_name,
        source=source,
        spec=spec,
        intake=intake,
        missing_values=missing_values,
        columns=columns or {},
        refit_on_all=refit_on_all,
        params=params,
        window=window,
        holdout_roc_auc=holdout.get("roc_auc"),
        holdout_pr_auc=holdout.get("pr_auc"),
        model_sha256=_sha256(tmp / MODEL_FILE),
        sklearn_version=sklearn.__version__,
        explainer=explainer,
    )
    (tmp / MANIFEST_FILE).write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
    (tmp / METRICS_FILE).write_text(json.dumps(metrics, indent=2, default=str), encoding="utf-8")
    (tmp / CARD_FILE).write_text(card, encoding="utf-8")
    os.replace(tmp, final)
    return final


def read_manifest(path: Path) -> Manifest:
    try:
        return Manifest.model_validate_json((path / MANIFEST_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"{path}: no {MANIFEST_FILE} (not a model artifact)") from None
    except ValueError as e:
        raise ArtifactError(f"{path / MANIFEST_FILE}: invalid manifest ({e})") from None


def load_artifact(path: Path) -> LoadedModel:
    manifest = read_manifest(path)
    model_path = path / MODEL_FILE
    if not model_path.exists():
        raise ArtifactError(f"{path}: no {MODEL_FILE}")
    if _sha256(model_path) != manifest.model_sha256:
        raise ArtifactError(f"{model_path}: sha256 does not match the manifest (tampered or incomplete)")
    if not manifest.columns:
        raise ArtifactError(f"{path}: artifact predates the shared feature extraction (no columns); retrain it")
    model = joblib.load(model_path)
    return LoadedModel(manifest, model, path)


def read_metrics(path: Path) -> dict[str, Any]:
    return dict(json.loads((path / METRICS_FILE).read_text(encoding="utf-8")))


def read_active(root: Path) -> ActivePointer:
    p = root / ACTIVE_FILE
    if not p.exists():
        return ActivePointer()
    try:
        return ActivePointer.model_validate_json(p.read_text(encoding="utf-8"))
    except ValueError as e:
        raise ArtifactError(f"{p}: invalid active pointer ({e})") from None


def write_active(root: Path, pointer: ActivePointer) -> None:
    for v in [pointer.active, *pointer.shadow]:
        if v is not None and not (root / v / MANIFEST_FILE).exists():
            raise ArtifactError(f"version {v} is not in {root}")
    stamped = pointer.model_copy(update={"updated_at": datetime.now(UTC)})
    _atomic_write(root / ACTIVE_FILE, stamped.model_dump_json(indent=2))


def list_versions(root: Path) -> list[str]:
    if not root.exists():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / MANIFEST_FILE).exists())
