"""`make run`'s demo stream through intake: no lead is dead-lettered for its contact data (issue 11).

The demo generator's good leads include what real forms send (about a quarter have non-ASCII e-mail
addresses); its deliberately bad records are broken messages, each with a named non-contact reason."""

from collections import Counter
from datetime import UTC, datetime

import pytest
from leadflow_demo.domain.generator import KnownContact, LeadFactory
from leadflow_intake.domain.decide import Accepted, DecisionContext, decide
from leadflow_intake.domain.parsing import JsonLimits, Parsed, parse_submission

pytestmark = pytest.mark.unit
NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
KNOWN = [
    KnownContact("Freja", "Kelly", "freja.kelly@alpenretail.example", "Alpen Retail AS", "Norway", "22 12 34 56"),
    KnownContact("Jörg", "Bauer", "joerg.bauer@rheinwerk.example", "Rheinwerk Logistik GmbH", "Deutschland"),
]
CONTACT_REASONS = {"invalid_email", "invalid_phone", "no_contact", "invalid_country"}


def test_the_demo_stream_has_no_contact_data_dead_letters():
    factory = LeadFactory(7, KNOWN, bad_ratio=0.05, replay_ratio=0.02)
    outcomes: Counter[tuple[str, str]] = Counter()
    for _ in range(3000):
        generated = factory.next(NOW)
        parsed = parse_submission(generated.value, max_bytes=64 * 1024, limits=JsonLimits())
        if not isinstance(parsed, Parsed):
            outcomes[(generated.kind, parsed.rejection.reason.value)] += 1
            continue
        result = decide(parsed.lead, DecisionContext(now=NOW))
        if isinstance(result, Accepted):
            outcomes[(generated.kind, f"accepted:{result.email_decision}:{result.phone_status}")] += 1
        else:
            outcomes[(generated.kind, result.reason.value)] += 1
    assert not {reason for _, reason in outcomes} & CONTACT_REASONS, outcomes
    assert {kind for kind, reason in outcomes if not reason.startswith("accepted")} == {"bad"}
    assert outcomes[("good", "accepted:not_storable:verified")] > 300  # non-ASCII addresses kept as email_original
    assert {"too_deep", "string_too_long", "invalid_json"} <= {reason for _, reason in outcomes}
