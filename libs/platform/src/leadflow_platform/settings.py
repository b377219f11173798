"""Settings base: every service subclasses it with its own env prefix (``INTAKE_``, ``ROUTE_``…)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class DemoClockSettings(BaseSettings):
    """The demo clock (``LEADFLOW_DEMO_CLOCK_SCALE`` / ``_ANCHOR``, shared by every process of ``make run``).

    Off (``scale`` 1) unless set: production runs on the wall clock. With ``scale`` 60 one real minute is
    an hour of SLA time: demo time is ``start`` at the wall-clock instant ``anchor`` (the ``make run``
    supervisor sets the anchor once, so every process and every restart agrees on the time).
    """

    model_config = SettingsConfigDict(env_prefix="LEADFLOW_DEMO_CLOCK_", env_file=".env", extra="ignore")

    scale: float = Field(default=1.0, ge=1.0, le=100_000, description="Demo seconds per real second; 1 = off.")
    anchor: datetime | None = Field(default=None, description="Wall-clock instant the demo clock starts from.")
    start: datetime | None = Field(default=None, description="Demo time at the anchor (default: the anchor).")

    @property
    def enabled(self) -> bool:
        """On when time runs faster or starts elsewhere (a demo day that begins on a working morning)."""
        return self.scale != 1.0 or self.start is not None


class ServiceSettings(BaseSettings):
    """Common settings. Subclasses set ``model_config = SettingsConfigDict(env_prefix="X_")``.

    ``os.environ`` is read here and nowhere else.
    """

    model_config = SettingsConfigDict(env_prefix="LEADFLOW_", env_file=".env", extra="ignore")

    service_name: str = "leadflow"
    instance_id: str = Field(default="", description="Distinguishes replicas in logs and leases.")
    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_client_id: str | None = None
    topic_prefix: str = Field(default="", description="Prepended to every topic name (test isolation).")
    kafka_idempotent_producer: bool = Field(
        default=False, description="Enable on Apache Kafka; the embedded Tansu broker does not support it."
    )
    kafka_compression: str | None = Field(
        default="none",
        description="none or gzip (lz4/zstd need extras). aiokafka's gzip costs ~100-200 us per lead: "
        "worth it on a network, not on the loopback embedded broker.",
    )
    kafka_linger_ms: int = Field(
        default=0,
        ge=0,
        description=(
            "How long the producer waits for more messages before sending a batch. The consumer runtime hands"
            " a whole batch's outputs to the producer at once, so they share requests anyway; measured on the"
            " embedded broker (load 11), publish → all acknowledged p50 for 1 / 10 / 100 messages: 1.1 / 1.9 /"
            " 7.5 ms at 0 ms, 7.1 / 7.4 / 11.6 ms at 5 ms."
        ),
    )
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    database_url: str = "sqlite+aiosqlite:///./var/leadflow.db"
    sqlite_inline: bool = Field(
        default=True,
        description=(
            "On SQLite, run the driver on the event loop's thread with one pooled connection"
            " (leadflow_platform.db.InlineSqliteConnection) instead of aiosqlite's worker thread. Each"
            " hand-off to that thread cost ~0.5-1 ms on a loaded 2-core machine: intake's claim (begin, two"
            " inserts) took 6.7 ms p50 of its 11 ms batch. make bench-processes at 200 leads/s: publish ->"
            " LeadRouted p50 230 -> 142 ms, -> CrmSynced 416 -> 283 ms. No effect on PostgreSQL."
        ),
    )
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    log_level: str = "INFO"
    log_json: bool | None = Field(default=None, description="None = JSON when stdout is not a TTY.")
    shutdown_grace_seconds: float = 10.0

    # The consumer runtime (leadflow_platform.consumer): one place for batch, group and back-off settings.
    consumer_group: str | None = Field(default=None, description="Kafka consumer group; None = leadflow-<service>.")
    batch_max_records: int = Field(default=500, ge=1, description="Records per handler call at most.")
    batch_timeout_ms: int = Field(
        default=100,
        ge=1,
        description=(
            "How long a poll waits for records on an idle topic. A poll returns as soon as any record is"
            " there (aiokafka's getmany wakes on the fetch that brings it), so this does not delay a record;"
            " FastStream's batch subscriber sleeps this long after an empty poll, but the runtime's"
            " subscribers poll again at once instead (consumer._poll_without_idle_sleep), so it only sets"
            " how often an idle consumer's loop turns. Each turn costs CPU (FastStream's consume loop,"
            " getmany): 10 ms turned it 100 times a second per consumer, and make bench-processes at 20"
            " leads/s (2026-12-07, alternated 2 x 2) gave intake, enrich, score and route 1-22 % less CPU per"
            " lead at 100 ms than at 10 ms (intake 4,375-4,575 vs 4,975-5,225 us; crm-sync, at 20 ms before,"
            " within the noise), with the same publish -> CrmSynced p50 (45-48 vs 46-47 ms)."
        ),
    )
    fetch_max_wait_ms: int = Field(
        default=50,
        ge=0,
        description=(
            "How long the broker may hold a fetch with no new records. The embedded broker (Tansu) does not"
            " wake a held fetch when records arrive; it reads again about half the wait later: produce →"
            " consume on an idle topic p50 3 / 8 / 13 / 26 ms at 10 / 25 / 50 / 100 ms (max 26.5 ms at 50)."
            " But each short fetch costs CPU on both sides: the idle pipeline"
            " (five services, seven consumers) kept Tansu at 36 % of a core at 10 ms and 14 % at 50 ms (services"
            " 32 % → 20 %), and on 2 cores that CPU is what a lead waits for under load: make bench-processes at"
            " 200 leads/s, publish → CrmSynced p50 566-676 ms at 50 ms vs 736-799 ms at 10 ms (3-4 runs each),"
            " at 20 leads/s 119 vs 138 ms; 10 ms was again slower on 2026-12-05 (CrmSynced p50 375-382 vs"
            " 295-302 ms). Apache Kafka answers as soon as records arrive, and so does the embedded broker's"
            " front door with --prompt-fetch (off in make run), so there a longer wait only saves idle requests;"
            " but a Tansu 0.6.0 fetch costs broker CPU whatever its wait (0.1 ms on a new partition, growing"
            " ~0.5 us per batch stored in it: embedded_kafka's docstring), and with prompt fetch it"
            " serves 2.4 fetches per lead: at 200 leads/s CrmSynced p50 242-283 vs 153-156 ms (2026-12-06)."
            " Third session of 2026-12-06, 2 runs each at 200 leads/s: 25 ms CrmSynced p50 158-172 ms at 1.94"
            " cores, 50 ms 101-119 ms at 1.54-1.55 cores, 100 ms 139-145 ms at 1.13-1.21 cores: the wait trades"
            " the broker's fetch CPU against the time a record sits in a held fetch."
        ),
    )
    partition_assignment_strategy: Literal["range", "roundrobin", "sticky"] | None = Field(
        default=None,
        description=(
            "How the group spreads partitions over its members; None = the client's default (round robin)."
            " 'range' gives a member the same partition numbers of every topic it consumes, so one lead's"
            " events on several topics (all keyed by lead_id, equally partitioned) reach one consumer."
        ),
    )
    max_poll_interval_ms: int | None = Field(
        default=None, ge=1_000, description="Longest time between two fetches before the member leaves the group."
    )
    session_timeout_ms: int | None = Field(
        default=None, ge=1_000, description="Group session timeout; None = the client's default."
    )
    heartbeat_interval_ms: int | None = Field(
        default=None, ge=100, description="Heartbeat period; None = a tenth of the session timeout when set."
    )
    retry_backoff_initial_seconds: float = Field(
        default=0.2, ge=0, description="Back-off after the first infrastructure failure of a batch (doubles, jittered)."
    )
    retry_backoff_max_seconds: float = Field(default=10.0, ge=0, description="Cap of the back-off.")
    commit_in_background: bool = Field(
        default=True,
        description=(
            "Commit a batch's offsets in a background task instead of awaiting the commit before the next poll."
            " The offsets are the batch's own (each partition's last record + 1), taken only after it was handled"
            " and published, so nothing is committed past an unprocessed record; a commit still in flight when the"
            " process dies means those records are read again and recognised by their event ids, as after any"
            " crash between publish and commit. Commits never overlap: acks that come while one is in flight go"
            " out together in the next. False: FastStream's acknowledgement awaits the commit (one round trip to"
            " the broker per batch on the consume loop)."
        ),
    )
    commit_interval_ms: int = Field(
        default=100,
        ge=0,
        description=(
            "With commit_in_background: at most one offset commit per consumer this often, carrying every"
            " batch acknowledged since the one before (0 = after each batch, merged only while one is in"
            " flight). Longer saves broker requests; a crash re-reads up to this much more, recognised by"
            " event id. A graceful stop commits what is pending at once. make bench-processes at 200 leads/s"
            " (2026-12-06, 2 runs each): 1.49-1.51 cores at 100 ms vs 1.54-1.59 at 0 (broker 2,052-2,150 vs"
            " 2,255-2,267 us per lead), publish -> CrmSynced p50 96-100 vs 98-104 ms."
        ),
    )
    event_loop: Literal["auto", "uvloop", "asyncio"] = Field(
        default="auto",
        description=(
            "The event loop uvicorn runs the service on: auto = uvloop when it is installed (it is a platform"
            " dependency outside Windows), else asyncio's own. uvloop's loop, transports and timers are in C"
            " (libuv): less CPU per Kafka round trip, HTTP request and timer than asyncio's selector loop."
        ),
    )
    gc_freeze: bool = Field(
        default=True, description="gc.freeze() start-up objects, raise the gen-0 threshold (service.tune_gc)."
    )
    gc_gen0_threshold: int = Field(default=50_000, ge=700)
    demo_clock: DemoClockSettings = Field(
        default_factory=DemoClockSettings,
        description="Accelerated SLA time for demos (leadflow_platform.clock.clock_for); off by default.",
    )

    def group_id(self) -> str:
        return self.consumer_group or f"leadflow-{self.service_name}"

    def topic(self, name: str) -> str:
        """The real topic name for a contract topic."""
        return self.topic_prefix + name
