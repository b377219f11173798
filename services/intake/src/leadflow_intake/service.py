"""The intake use case, shared by the Kafka subscriber and the HTTP endpoint:
submissions (raw bytes) → parse → decide → claim (idempotency) → publish, one transaction per batch."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from leadflow_contracts import CustomAnswersConfig, LeadAccepted, LeadRejected, RejectionReason, TraceStep, topics
from leadflow_platform.clock import Clock
from leadflow_platform.logging import get_logger
from leadflow_platform.metrics import EVENTS_FAILED, EVENTS_IN, EVENTS_OUT, HANDLER_SECONDS

from leadflow_intake.adapters.config_files import SourceRegistry
from leadflow_intake.adapters.publisher import LeadPublisher, Outbound
from leadflow_intake.adapters.repository import SeenEventsRepository
from leadflow_intake.domain.custom_answers import apply_custom_answers
from leadflow_intake.domain.decide import SERVICE, Accepted, DecisionContext, decide, derive_lead_id
from leadflow_intake.domain.emails import EmailPolicy
from leadflow_intake.domain.parsing import (
    INTAKE_NAMESPACE,
    JsonLimits,
    Parsed,
    Unparsed,
    content_hash,
    parse_submission,
)
from leadflow_intake.domain.rejections import Rejection
from leadflow_intake.domain.suppression import SuppressionList

log = get_logger("leadflow_intake")

Channel = Literal["kafka", "http"]
Status = Literal["accepted", "rejected", "duplicate"]


@dataclass(frozen=True, slots=True)
class Submission:
    raw: bytes
    channel: Channel = "kafka"
    authenticated_source: str | None = None
    defaults: Mapping[str, Any] | None = None
    origin: str | None = None
    """Where the bytes came from (``topic/partition/offset`` on Kafka), recorded in rejections."""


@dataclass(frozen=True, slots=True)
class Outcome:
    status: Status
    lead_id: str
    event_id: str | None
    """The submission's event id (given or derived); ``None`` when the bytes could not be read."""
    published_event_id: str
    """The id of the ``LeadAccepted`` / ``LeadRejected`` this submission maps to (deterministic)."""
    rejection: Rejection | None = None
    dropped: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    """What was not taken as given (dropped, not stored, unverified), one sentence each."""
    contact: dict[str, str | None] = field(default_factory=dict)
    """``{"email": <decision>, "phone": <verified|unverified>}`` for an accepted lead."""


@dataclass(frozen=True, slots=True)
class IntakePolicy:
    max_payload_bytes: int = 64 * 1024
    max_original_bytes: int = 512 * 1024
    """A rejection carries at most this many original bytes (broker message limits); beyond it the
    rejection says so, with the SHA-256 and origin of the full message."""
    strict_contact: bool = False
    default_region: str | None = None
    email_policy: EmailPolicy = field(default_factory=EmailPolicy)
    max_json_depth: int = 32
    max_json_items: int = 1000
    suppression: SuppressionList = field(default_factory=SuppressionList)
    sources: SourceRegistry = field(default_factory=SourceRegistry)
    custom_answers: CustomAnswersConfig | None = None
    """The org's declared custom form answers; without it any custom answer is dropped (and traced)."""


@dataclass(frozen=True, slots=True)
class _Pending:
    outcome: Outcome
    claim_key: str
    message: Outbound


class IntakeService:
    def __init__(
        self,
        *,
        policy: IntakePolicy,
        repository: SeenEventsRepository,
        publisher: LeadPublisher,
        clock: Clock,
        topic_prefix: str = "",
    ) -> None:
        self.policy = policy
        self.repository = repository
        self.publisher = publisher
        self.clock = clock
        self.inbound_topic = topic_prefix + topics.LEADS_INBOUND
        self.accepted_topic = topic_prefix + topics.LEADS_ACCEPTED
        self.rejected_topic = topic_prefix + topics.LEADS_REJECTED
        self.counts: dict[str, int] = {"accepted": 0, "rejected": 0, "duplicate": 0}
        """What this instance published / skipped since it started (tests, diagnostics)."""

    async def process(self, submissions: Sequence[Submission]) -> list[Outcome]:
        """Evaluate, de-duplicate and publish a batch. Raises if the database or broker fails
        (nothing is committed then, and the caller retries the whole batch)."""
        if not submissions:
            return []
        started = time.perf_counter()
        now = self.clock.now()
        pending = [self._evaluate(s, now) for s in submissions]
        accepted_keys = [p.claim_key for p in pending if p.outcome.status == "accepted"]
        rejected_keys = [p.claim_key for p in pending if p.outcome.status == "rejected"]
        outcomes: list[Outcome] = []
        async with self.repository.claim(accepted_keys, rejected_keys, now) as (fresh_acc, fresh_rej):
            fresh = fresh_acc | fresh_rej
            to_send: list[Outbound] = []
            for p in pending:
                if p.claim_key in fresh:
                    fresh.discard(p.claim_key)  # a replay later in the same batch is a duplicate too
                    to_send.append(p.message)
                    outcomes.append(p.outcome)
                else:
                    outcomes.append(_as_duplicate(p.outcome))
            await self.publisher.publish_all(to_send)
        self._record(submissions, outcomes, time.perf_counter() - started)
        return outcomes

    # -- evaluation (pure apart from the clock value passed in) ------------------------------------

    def _evaluate(self, sub: Submission, now: Any) -> _Pending:
        try:
            parsed = parse_submission(
                sub.raw,
                max_bytes=self.policy.max_payload_bytes,
                defaults=sub.defaults,
                limits=JsonLimits(self.policy.max_json_depth, self.policy.max_json_items),
            )
            if isinstance(parsed, Unparsed):
                return self._rejected(sub, now, parsed.rejection, parsed.event_id, parsed.lead_id, parsed.source_system)
            return self._decided(sub, now, parsed)
        except Exception as exc:  # a bug must not stop the partition: the bytes go to leads.rejected
            log.error("intake_internal_error", channel=sub.channel, error=type(exc).__name__, exc_info=True)
            rejection = Rejection(
                RejectionReason.SCHEMA_VIOLATION,
                f"intake could not process this submission ({type(exc).__name__}); it is kept here for replay",
            )
            return self._rejected(sub, now, rejection, None, None, None)

    def _decided(self, sub: Submission, now: Any, parsed: Parsed) -> _Pending:
        lead = parsed.lead
        system = lead.source.system
        region = self.policy.sources.default_region(system) or self.policy.default_region
        ctx = DecisionContext(
            now=now,
            channel=sub.channel,
            default_region=region,
            suppression=self.policy.suppression,
            strict_contact=self.policy.strict_contact,
            authenticated_source=sub.authenticated_source,
            email_policy=self.policy.email_policy,
        )
        decision = decide(lead, ctx)
        if not isinstance(decision, Rejection):
            decision = apply_custom_answers(lead, decision, self.policy.custom_answers)
        if isinstance(decision, Rejection):
            return self._rejected(sub, now, decision, lead.event_id, lead.lead_id or None, system)
        return self._accepted(lead.event_id, lead.trace, decision, now)

    def _accepted(self, source_event_id: str, trace: tuple[TraceStep, ...], d: Accepted, now: Any) -> _Pending:
        event = LeadAccepted(
            event_id=d.event_id,
            lead_id=d.lead_id,
            occurred_at=now,
            trace=(*trace, d.step),
            lead=d.lead,
        )
        return _Pending(
            Outcome(
                "accepted",
                d.lead_id,
                source_event_id,
                d.event_id,
                dropped=d.dropped,
                notes=d.notes,
                contact={"email": d.email_decision, "phone": d.phone_status},
            ),
            claim_key=d.event_id,
            message=Outbound(self.accepted_topic, d.lead_id.encode(), event.to_json_bytes()),
        )

    def _rejected(
        self,
        sub: Submission,
        now: Any,
        rejection: Rejection,
        event_id: str | None,
        lead_id: str | None,
        system: str | None,
    ) -> _Pending:
        digest = content_hash(sub.raw)
        rejection_id = str(uuid.uuid5(INTAKE_NAMESPACE, f"rejected:{digest}"))
        if not lead_id:
            lead_id = derive_lead_id(system, event_id) if system and event_id else f"unparsed-{digest[:32]}"
        original = sub.raw
        message = rejection.message
        if len(original) > self.policy.max_original_bytes:
            original = original[: self.policy.max_original_bytes]
            message += (
                f" (original truncated to its first {len(original)} of {len(sub.raw)} bytes; "
                f"sha256 {digest}; full message at {sub.origin or 'the sender'})"
            )
        step = TraceStep(
            service=SERVICE,
            decision="rejected",
            reason=rejection.reason.value,
            at=now,
            data={
                "channel": sub.channel,
                "field": rejection.field,
                "bytes": len(sub.raw),
                "sha256": digest,
                "origin": sub.origin,
            },
        )
        event = LeadRejected(
            event_id=rejection_id,
            lead_id=lead_id,
            occurred_at=now,
            trace=(step,),
            reason=rejection.reason,
            message=message,
            field=rejection.field,
            errors=rejection.errors,
            source_event_id=event_id,
            source_system=system,
            channel=sub.channel,
            original_base64=base64.b64encode(original).decode("ascii"),
        )
        return _Pending(
            Outcome("rejected", lead_id, event_id, rejection_id, rejection=rejection),
            claim_key=rejection_id,
            message=Outbound(self.rejected_topic, lead_id.encode(), event.to_json_bytes()),
        )

    # -- observability ---------------------------------------------------------------------------

    def _record(self, submissions: Sequence[Submission], outcomes: list[Outcome], seconds: float) -> None:
        channel = submissions[0].channel
        source_label = self.inbound_topic if channel == "kafka" else "http:/v1/leads"
        EVENTS_IN.labels(SERVICE, source_label).inc(len(submissions))
        HANDLER_SECONDS.labels(SERVICE, f"{channel}_batch").observe(seconds)
        accepted = rejected = duplicates = 0
        for o in outcomes:
            if o.status == "accepted":
                accepted += 1
                log.debug(
                    "lead_accepted",
                    lead_id=o.lead_id,
                    event_id=o.event_id,
                    channel=channel,
                    dropped=",".join(o.dropped) or None,
                )
            elif o.status == "rejected" and o.rejection is not None:
                rejected += 1
                EVENTS_FAILED.labels(SERVICE, source_label, o.rejection.reason.value).inc()
                log.debug(
                    "lead_rejected",
                    lead_id=o.lead_id,
                    event_id=o.event_id,
                    channel=channel,
                    reason=o.rejection.reason.value,
                    field=o.rejection.field,
                )
            else:
                duplicates += 1
                log.debug("lead_duplicate", lead_id=o.lead_id, event_id=o.event_id, channel=channel)
        self.counts["accepted"] += accepted
        self.counts["rejected"] += rejected
        self.counts["duplicate"] += duplicates
        if accepted:
            EVENTS_OUT.labels(SERVICE, self.accepted_topic).inc(accepted)
        if rejected:
            EVENTS_OUT.labels(SERVICE, self.rejected_topic).inc(rejected)
        log.debug(
            "batch_processed",
            channel=channel,
            size=len(submissions),
            accepted=accepted,
            rejected=rejected,
            duplicates=duplicates,
            seconds=round(seconds, 4),
        )


def _as_duplicate(outcome: Outcome) -> Outcome:
    return Outcome(
        "duplicate",
        outcome.lead_id,
        outcome.event_id,
        outcome.published_event_id,
        rejection=outcome.rejection,
        dropped=outcome.dropped,
        notes=outcome.notes,
        contact=outcome.contact,
    )
