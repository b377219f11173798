"""score with the real model registry (leadflow_model): a model trained on the shared export is picked
up while the service runs (hot reload, no restart) and blended into the score with its reasons."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker
from leadflow_contracts import LeadScored, LeadSourceKind
from leadflow_platform.clock import FakeClock
from leadflow_score.app import create_app
from leadflow_score.settings import ScoreSettings
from leadflow_score.testing import enriched

pytestmark = pytest.mark.component
REPO = Path(__file__).resolve().parents[4]
CSV = REPO.parent / "shared" / "data" / "x-education-leads.csv"
NOW = datetime(2026, 1, 5, 9, 0, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    if not CSV.exists():
        pytest.skip(f"the shared lead export is not beside the repo ({CSV})")
    from leadflow_model.history import read_csv_history
    from leadflow_model.mapping import load_mapping
    from leadflow_model.train import TrainConfig
    from leadflow_model.workflow import train_and_write

    mapping = load_mapping(REPO / "deploy" / "model" / "x-education-mapping.yaml")
    history = read_csv_history(CSV, mapping)
    small = history.subset(list(range(0, len(history), 4)))
    root = tmp_path_factory.mktemp("models")
    outcome = train_and_write(
        small, mapping, root, TrainConfig(cv_folds=2, param_grid=({"max_iter": 30},), baseline=False)
    )
    return root, outcome.version


async def test_a_model_published_while_running_is_used_without_restart(trained_model: Any, tmp_path: Path) -> None:
    from leadflow_model.workflow import publish

    root, version = trained_model
    settings = ScoreSettings(kafka_bootstrap="127.0.0.1:1", model_dir=root, model_check_seconds=0.01, model_weight=0.4)
    app = create_app(settings, clock=FakeClock(NOW), ensure_kafka_topics=False)
    broker = app.state.broker
    scored: list[LeadScored] = []

    @broker.subscriber("leads.scored")
    async def sink(body: dict) -> None:
        scored.append(LeadScored.model_validate(body))

    async with TestKafkaBroker(broker) as br, app.router.lifespan_context(app):
        before = enriched("L-before", lead_source=LeadSourceKind.WEB_FORM, engagement={"visits": 5})
        await br.publish(before.to_json_bytes(), "leads.enriched", key=before.kafka_key())
        publish(root, version)  # `leadflow scoring publish` while the service runs
        import asyncio

        await asyncio.sleep(0.05)
        after = enriched("L-after", lead_source=LeadSourceKind.WEB_FORM, engagement={"visits": 5})
        await br.publish(after.to_json_bytes(), "leads.enriched", key=after.kafka_key())
    by_id = {s.lead_id: s.score for s in scored}
    assert by_id["L-before"].model is None, "no active model yet: rules only"
    model = by_id["L-after"].model
    assert model is not None and model.model_version == version and 0 <= model.probability <= 1
    assert any(r.component == "model" for r in by_id["L-after"].reasons)
    rules_only = by_id["L-before"].score
    assert by_id["L-after"].score == pytest.approx(round(0.6 * rules_only + 0.4 * model.probability * 100, 1))
