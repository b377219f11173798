"""Test helpers: crm-changes' change feed as it runs in production (its own database and gateway), recording
what it would publish instead of publishing it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from leadflow_contracts.crm import CrmChange
from leadflow_platform.clock import SystemClock
from leadflow_platform.db import create_engine
from leadflow_salesforce import SalesforceSettings
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow_crm_changes.adapters.repository import Repository
from leadflow_crm_changes.adapters.salesforce import SimpleSalesforceGateway
from leadflow_crm_changes.domain.feed import DEFAULT_OBJECTS
from leadflow_crm_changes.poller import ChangeFeed, FeedConfig


async def recording_feed(
    directory: Path, salesforce: SalesforceSettings
) -> tuple[ChangeFeed, list[CrmChange], AsyncEngine]:
    """A feed over every default object from the beginning, on a SQLite file in ``directory``; the list it
    returns grows with every change the feed would publish (call ``feed.step()`` to poll once); dispose the
    engine when done."""
    published: list[CrmChange] = []

    async def collect(events: Sequence[CrmChange]) -> None:
        published.extend(events)

    engine = create_engine(f"sqlite+aiosqlite:///{directory / 'feed.db'}")
    repository = Repository(engine)
    await repository.create_tables()
    feed = ChangeFeed(
        FeedConfig(
            objects=DEFAULT_OBJECTS,
            poll_interval=0.1,
            overlap=timedelta(seconds=1),
            start_from="beginning",
            lease_name="feed",
            lease_ttl=10,
            holder="t",
        ),
        repository,
        SimpleSalesforceGateway(salesforce),
        collect,
        SystemClock(),
    )
    return feed, published, engine
