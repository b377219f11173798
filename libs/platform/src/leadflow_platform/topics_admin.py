"""Create topics from ``deploy/topics.yaml`` (idempotent)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from leadflow_contracts import topics as contract_topics
from pydantic import BaseModel, ConfigDict, Field


class TopicSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    partitions: int = Field(default=6, ge=1)
    retention_ms: int | None = Field(default=None, ge=-1)


class TopicsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    defaults: TopicSpec = TopicSpec()
    topics: dict[str, TopicSpec | None]

    def resolved(self) -> dict[str, TopicSpec]:
        out = {}
        for name, spec in self.topics.items():
            merged = self.defaults.model_dump() | ((spec.model_dump(exclude_unset=True)) if spec else {})
            out[name] = TopicSpec(**merged)
        return out


def default_topics_file() -> Path:
    here = Path(__file__).resolve()
    for parent in (Path.cwd(), *here.parents):
        candidate = parent / "deploy" / "topics.yaml"
        if candidate.exists():
            return candidate
    raise FileNotFoundError("deploy/topics.yaml not found above " + str(here))


def load_topics(path: Path | None = None) -> dict[str, TopicSpec]:
    raw: Any = yaml.safe_load((path or default_topics_file()).read_text())
    spec = TopicsFile.model_validate(raw).resolved()
    missing = set(contract_topics.ALL_TOPICS) - set(spec)
    if missing:
        raise ValueError(f"deploy/topics.yaml lacks contract topics: {sorted(missing)}")
    return spec


async def ensure_topics(bootstrap: str, specs: dict[str, TopicSpec] | None = None) -> list[str]:
    """Create the missing topics; return the names created."""
    specs = specs if specs is not None else load_topics()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="leadflow-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [
            NewTopic(
                name,
                num_partitions=spec.partitions,
                replication_factor=1,
                topic_configs={"retention.ms": str(spec.retention_ms)} if spec.retention_ms else {},
            )
            for name, spec in specs.items()
            if name not in existing
        ]
        if new:
            try:
                await admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass
        return [t.name for t in new]
    finally:
        await admin.close()
