import httpx
import pytest
from leadflow_contracts import topics
from leadflow_demo.app import create_app
from leadflow_demo.settings import DemoSettings
from leadflow_platform.testing.fixtures import consume, wait_for

pytestmark = pytest.mark.integration


async def test_demo_generator_publishes_its_stream_to_the_real_broker(kafka_bootstrap, topic_namespace):
    settings = DemoSettings(
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topic_namespace.prefix,
        rate=500,
        total=40,
        seed=3,
        progress_interval=60,
    )
    app = create_app(settings, known=[])
    async with app.router.lifespan_context(app):
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://demo")
        await wait_for(lambda: app.state.generator_state["done"], timeout=30)
        body = (await client.get("/progress")).json()
        assert body["counts"]["in"] == 40
        assert (await client.get("/healthz")).status_code == 200
    records = await consume(kafka_bootstrap, topic_namespace(topics.LEADS_INBOUND), 40)
    assert len(records) == 40
    assert all(r.key for r in records)
