from datetime import UTC, datetime

import pytest
from leadflow_contracts import LeadSubmitted, RejectionReason
from leadflow_intake.domain.decide import Accepted, DecisionContext, decide, derive_lead_id
from leadflow_intake.domain.rejections import Rejection
from leadflow_intake.domain.suppression import SuppressionList

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def submitted(**overrides) -> LeadSubmitted:
    data = {
        "event_id": "evt-1",
        "occurred_at": "2026-11-26T09:30:00Z",
        "source": {"system": "hubspot-forms"},
        "person": {
            "first_name": "ANNA",
            "last_name": "van der berg",
            "email": "Anna@Acme-Industries.DE",
            "phone": "030 1234567",
            "language": "de_DE",
        },
        "company": {"name": "  Acme   Industries ", "country": "Germany", "website": "https://www.acme.de"},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return LeadSubmitted.model_validate(data)


def accept(lead: LeadSubmitted, **ctx) -> Accepted:
    result = decide(lead, DecisionContext(now=NOW, **ctx))
    assert isinstance(result, Accepted), result
    return result


def reject(lead: LeadSubmitted, **ctx) -> Rejection:
    result = decide(lead, DecisionContext(now=NOW, **ctx))
    assert isinstance(result, Rejection), result
    return result


def test_a_good_lead_is_normalised_and_explained():
    result = accept(submitted())
    lead = result.lead
    assert (lead.first_name, lead.last_name) == ("Anna", "van der Berg")
    assert (lead.email, lead.email_domain, lead.email_is_free) == (
        "Anna@acme-industries.de",
        "acme-industries.de",
        False,
    )
    assert (lead.phone_e164, lead.phone_country) == ("+49301234567", "DE")
    assert (lead.country, lead.language, lead.company_name) == ("DE", "de-DE", "Acme Industries")
    assert lead.company_domain == "acme.de"
    assert lead.source_event_id == "evt-1" and lead.accepted_at == NOW
    assert result.step.service == "intake" and result.step.decision == "accepted"
    assert result.step.data["phone_region_from"] == "company.country"
    assert result.step.data["company_domain_from"] == "company.website"
    assert result.dropped == ()


def test_lead_id_is_kept_when_given_and_derived_stably_when_not():
    assert accept(submitted(lead_id="L-7")).lead_id == "L-7"
    derived = accept(submitted()).lead_id
    assert derived == accept(submitted()).lead_id == derive_lead_id("hubspot-forms", "evt-1")
    assert derived != accept(submitted(event_id="evt-2")).lead_id
    assert derived != accept(submitted(source={"system": "other"})).lead_id


def test_accepted_event_id_is_deterministic_per_source_and_event():
    assert accept(submitted()).event_id == accept(submitted()).event_id
    assert accept(submitted()).event_id != accept(submitted(event_id="evt-2")).event_id


def test_company_domain_falls_back_to_a_business_email_but_never_free_mail():
    business = accept(submitted(company={"website": None}))
    assert business.lead.company_domain == "acme-industries.de"
    assert business.step.data["company_domain_from"] == "person.email"
    free = accept(submitted(company={"website": None}, person={"email": "anna@gmail.com"}))
    assert free.lead.company_domain is None
    assert free.lead.email_is_free


def test_source_default_region_reads_national_numbers_when_the_lead_has_no_country():
    result = accept(submitted(company={"country": None}, person={"phone": "020 7946 0958"}), default_region="GB")
    assert result.lead.phone_e164 == "+442079460958"
    assert result.step.data["phone_region_from"] == "source.default_region"


def test_no_contact_at_all_is_rejected():
    r = reject(submitted(person={"email": None, "phone": "  "}))
    assert r.reason is RejectionReason.NO_CONTACT
    assert "person.email or person.phone" in r.message


def test_invalid_email_without_phone_is_rejected_naming_the_field():
    r = reject(submitted(person={"email": "anna-at-acme", "phone": None}))
    assert (r.reason, r.field) == (RejectionReason.INVALID_EMAIL, "person.email")
    assert "person.email" in r.message


def test_invalid_phone_without_email_is_rejected_naming_the_field():
    r = reject(submitted(person={"email": None, "phone": "12"}))
    assert (r.reason, r.field) == (RejectionReason.INVALID_PHONE, "person.phone")


def test_both_invalid_lists_both_errors():
    r = reject(submitted(person={"email": "nope", "phone": "12"}))
    assert r.reason is RejectionReason.INVALID_EMAIL
    assert [e["field"] for e in r.errors] == ["person.email", "person.phone"]


def test_unverifiable_phone_with_valid_email_is_kept_as_given_and_marked_unverified():
    result = accept(submitted(person={"phone": " 12 "}))
    assert result.lead.phone_e164 is None and result.lead.email is not None
    assert result.lead.phone_unverified == "12"
    assert result.dropped == ()
    assert "kept person.phone unverified" in result.step.reason
    assert result.step.data["phone_status"] == "unverified"
    assert result.phone_status == "unverified"
    assert any("phone_unverified" in note for note in result.notes)


def test_invalid_email_with_valid_phone_drops_the_email():
    result = accept(submitted(person={"email": "anna@"}))
    assert result.lead.email is None and result.lead.phone_e164 == "+49301234567"
    assert result.dropped == ("person.email",)


def test_strict_contact_rejects_instead_of_dropping():
    r = reject(submitted(person={"phone": "12"}), strict_contact=True)
    assert (r.reason, r.field) == (RejectionReason.INVALID_PHONE, "person.phone")


def test_unknown_country_and_language_are_dropped_not_rejected_and_the_default_region_is_not_guessed():
    result = accept(submitted(company={"country": "Atlantis"}, person={"language": "klingonish"}), default_region="DE")
    assert result.lead.country is None and result.lead.language is None
    assert set(result.dropped) == {"company.country", "person.language"}
    assert result.step.data["country_unresolved"] == "Atlantis"
    # a national number cannot be verified without the lead's country: kept as given, not made German
    assert result.lead.phone_e164 is None and result.lead.phone_unverified == "030 1234567"


def test_the_default_region_applies_only_when_the_lead_names_no_country():
    result = accept(submitted(company={"country": None}), default_region="DE")
    assert result.lead.phone_e164 == "+49301234567"
    assert result.step.data["phone_region_from"] == "source.default_region"


def test_may_not_call_is_accepted_but_flagged():
    result = accept(submitted(consent={"may_call": False, "may_email": False}))
    assert result.lead.do_not_call and result.lead.do_not_email
    assert "flagged do_not_call, do_not_email" in result.step.reason
    assert result.step.data["do_not_call"] is True


def test_consent_not_asked_is_not_a_flag():
    result = accept(submitted())
    assert not result.lead.do_not_call and not result.lead.do_not_email


def test_suppressed_email_is_rejected():
    suppression = SuppressionList.of_values(["anna@acme-industries.de"])
    r = reject(submitted(), suppression=suppression)
    assert (r.reason, r.field) == (RejectionReason.SUPPRESSED, "person.email")


def test_suppressed_phone_is_rejected_whatever_format_it_was_typed_in():
    suppression = SuppressionList.of_values(["+49301234567"])
    r = reject(submitted(person={"email": None, "phone": "+49 (30) 123-4567"}), suppression=suppression)
    assert (r.reason, r.field) == (RejectionReason.SUPPRESSED, "person.phone")


def test_suppression_does_not_hit_other_people():
    suppression = SuppressionList.of_values(["someone.else@acme-industries.de", "+49309999999"])
    accept(submitted(), suppression=suppression)


def test_source_must_match_the_authenticated_source():
    r = reject(submitted(), authenticated_source="another-system")
    assert (r.reason, r.field) == (RejectionReason.SCHEMA_VIOLATION, "source.system")
    accept(submitted(), authenticated_source="hubspot-forms")


def test_trace_from_the_submitter_is_not_lost_by_decide():
    result = accept(submitted(message="Call me after 3pm", callback={"start": "2026-11-27T14:00:00+01:00"}))
    assert result.lead.message == "Call me after 3pm"
    assert result.lead.callback is not None and result.lead.callback.start.hour == 13
