"""Fixtures for leadflow_model tests: the shared X Education export (subsampled for speed), fast training
settings, and a builder for LeadEnriched events."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from leadflow_contracts import (
    Engagement,
    Enrichment,
    LeadEnriched,
    LeadSourceKind,
    NormalizedLead,
    SourceInfo,
)
from leadflow_contracts.lead import Campaign
from leadflow_model.history import History, read_csv_history
from leadflow_model.mapping import Mapping, load_mapping
from leadflow_model.train import TrainConfig

REPO = Path(__file__).resolve().parents[3]
MAPPING = REPO / "deploy" / "model" / "x-education-mapping.yaml"
CSV_CANDIDATES = [
    REPO.parent / "shared" / "data" / "x-education-leads.csv",
    Path("/work/shared/data/x-education-leads.csv"),
]


@pytest.fixture(scope="session", autouse=True)
def _one_thread() -> None:
    from leadflow_model.threads import limit_threads

    limit_threads(1)


@pytest.fixture(scope="session")
def xedu_csv() -> Path:
    for p in CSV_CANDIDATES:
        if p.exists():
            return p
    pytest.skip("the shared X Education export (shared/data/x-education-leads.csv) is not beside the repo")


@pytest.fixture(scope="session")
def xedu_mapping() -> Mapping:
    return load_mapping(MAPPING)


@pytest.fixture(scope="session")
def xedu_history(xedu_csv: Path, xedu_mapping: Mapping) -> History:
    return read_csv_history(xedu_csv, xedu_mapping)


@pytest.fixture(scope="session")
def small_history(xedu_history: History) -> History:
    """Every third lead (about 2,150), still in creation order."""
    return xedu_history.subset(list(range(0, len(xedu_history), 3)))


@pytest.fixture
def fast_cfg() -> TrainConfig:
    return TrainConfig(cv_folds=3, param_grid=({"max_iter": 60},))


def enriched(
    *,
    lead_id: str = "lead-1",
    kind: LeadSourceKind = LeadSourceKind.WEB_FORM,
    utm_source: str | None = "google",
    visits: int = 3,
    seconds: float = 600,
    page_views: int = 6,
    downloads: int = 0,
    country: str | None = "IN",
    industry: str | None = "Finance Management",
    job_title: str | None = "Analyst",
    do_not_email: bool = False,
    **extra: Any,
) -> LeadEnriched:
    now = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    lead = NormalizedLead(
        source_event_id=f"src-{lead_id}",
        submitted_at=now,
        accepted_at=now,
        source=SourceInfo(system="web", campaign=Campaign(utm_source=utm_source)),
        lead_source=kind,
        country=country,
        industry=industry,
        job_title=job_title,
        do_not_email=do_not_email,
        engagement=Engagement(
            visits=visits, time_on_site_seconds=seconds, page_views=page_views, content_downloads=downloads
        ),
        **extra,
    )
    return LeadEnriched(
        event_id=f"enriched-{lead_id}", lead_id=lead_id, occurred_at=now, lead=lead, enrichment=Enrichment()
    )


@pytest.fixture
def make_lead() -> Any:
    return enriched


@dataclass
class Versions:
    root: Path
    v1: str  # every mapped field
    v2: str  # without the web-engagement fields: a clearly weaker model
    outcome1: Any
    outcome2: Any


@pytest.fixture(scope="session")
def trained_versions(
    small_history: History, xedu_mapping: Mapping, tmp_path_factory: pytest.TempPathFactory
) -> Versions:
    from leadflow_model.workflow import train_and_write

    root = tmp_path_factory.mktemp("model-artifacts")
    cfg = TrainConfig(cv_folds=3, param_grid=({"max_iter": 40}, {"max_iter": 40, "max_leaf_nodes": 8}), baseline=False)
    o1 = train_and_write(small_history, xedu_mapping, root, cfg, now=datetime(2026, 11, 26, 10, 0, tzinfo=UTC))
    no_web = xedu_mapping.model_copy(
        update={"columns": {k: v for k, v in xedu_mapping.columns.items() if not v.field.startswith("Web_")}}
    )
    cfg2 = TrainConfig(cv_folds=3, param_grid=({"max_iter": 30},), baseline=False)
    o2 = train_and_write(small_history, no_web, root, cfg2, now=datetime(2026, 11, 26, 11, 0, tzinfo=UTC))
    return Versions(root, o1.version, o2.version, o1, o2)


@pytest.fixture
def models_dir(trained_versions: Versions, tmp_path: Path) -> Path:
    """A private copy of the artifacts dir (tests change active.json)."""
    dst = tmp_path / "models"
    shutil.copytree(trained_versions.root, dst)
    return dst
