"""The 3,200-lead corpus through intake's decision, lead by lead (the same corpus runs over the real
broker in tests/integration/test_intake_corpus_broker.py)."""

from collections import Counter
from datetime import UTC, datetime

import pytest
from leadflow_contracts import LeadSubmitted
from leadflow_intake.domain.decide import Accepted, DecisionContext, decide
from leadflow_intake.testing_corpus import DEFAULT_REGION, Expected, build_corpus

pytestmark = pytest.mark.unit


def test_the_corpus_is_varied_and_deterministic():
    corpus = build_corpus()
    assert len(corpus) >= 3000 and build_corpus()[1234] == corpus[1234]
    kinds = {field: Counter(c.kinds[field] for c in corpus) for field in ("country", "phone", "email", "language")}
    assert {"local", "local_folded", "local_upper", "english", "alpha2", "alpha3", "unknown", "absent"} <= set(
        kinds["country"]
    )
    assert sum(n for k, n in kinds["country"].items() if k.startswith("name_")) > 200  # every market language
    assert {"e164", "international", "double_zero", "dotted_international", "national", "national_compact",
            "national_dashed", "garbage"} <= set(kinds["phone"])  # fmt: skip
    assert {"stored", "stored_punycode", "not_storable", "invalid", "absent"} <= set(kinds["email"])
    assert {"tag", "tag_upper", "tag_region", "english_name", "autonym", "unknown"} <= set(kinds["language"])
    assert len({c.payload["company"].get("country") for c in corpus}) > 200


def test_every_corpus_lead_gets_the_expected_verdict():
    wrong = []
    for lead in build_corpus():
        result = decide(
            LeadSubmitted.model_validate(lead.payload),
            DecisionContext(now=datetime(2026, 12, 4, tzinfo=UTC), default_region=DEFAULT_REGION),
        )
        if isinstance(result, Accepted):
            got = Expected(
                "accepted",
                country=result.lead.country,
                phone_e164=result.lead.phone_e164,
                phone_unverified=result.lead.phone_unverified,
                language=result.lead.language,
                email=result.lead.email,
                email_decision=result.email_decision,
                email_original=result.lead.email_original,
            )
        else:
            got = Expected("rejected", reason=result.reason.value)
        if got != lead.expected:
            wrong.append((lead.index, lead.kinds, got, lead.expected))
    assert wrong == []
