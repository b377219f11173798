"""In-flight identity decisions (pure): every person is one root, e-mail beats phone, redelivery is stable."""

from hypothesis import given, settings
from hypothesis import strategies as st
from leadflow_enrich.domain.identity import Candidate, identity_keys, plan_identities
from leadflow_enrich.testing import normalized_lead


def _apply(table: dict[str, str], plan) -> dict[str, str]:  # type: ignore[no-untyped-def]
    out = dict(table)
    for w in plan.writes:
        if w.expected is None:
            out.setdefault(w.key, w.root)
        elif out.get(w.key) == w.expected:
            out[w.key] = w.root
    return out


def test_identity_keys_normalise_email_and_phone_email_first() -> None:
    lead = normalized_lead(email=" Ola.Nordmann@Example.NO ", phone_e164="+4791234567")
    assert identity_keys(lead) == ("email:ola.nordmann@example.no", "phone:+4791234567")
    assert identity_keys(normalized_lead()) == ()
    assert identity_keys(normalized_lead(email="åse@bølgen.no")) == ("email:åse@bølgen.no",)
    long = "a" * 70 + "@" + "b" * 40 + ".example"  # kept by intake for the rep only, never sent as Email
    assert identity_keys(normalized_lead(email_original=long.upper())) == ("email:" + long,)


def test_second_submission_repeats_the_first_by_email_or_phone() -> None:
    batch = [
        Candidate("a", ("email:x@y.no", "phone:+4711111111")),
        Candidate("b", ("email:x@y.no",)),
        Candidate("c", ("email:other@y.no", "phone:+4711111111")),
    ]
    plan = plan_identities(batch, {}, lambda _: True)
    assert {k: (v.root, v.on) for k, v in plan.duplicates.items()} == {"b": ("a", "email"), "c": ("a", "phone")}
    # c's e-mail now leads to a too: a fourth submission with only that e-mail is the same person
    table = _apply({}, plan)
    assert table["email:other@y.no"] == "a"
    later = plan_identities([Candidate("d", ("email:other@y.no",))], table, lambda _: True)
    assert later.duplicates["d"].root == "a" and later.duplicates["d"].duplicate_of().leadflow_id == "a"


def test_email_owner_beats_phone_owner_and_nothing_is_stolen() -> None:
    table = {"email:x@y.no": "a", "phone:+4722222222": "b"}
    plan = plan_identities([Candidate("c", ("email:x@y.no", "phone:+4722222222"))], table, lambda _: True)
    assert plan.duplicates["c"].root == "a" and plan.writes == []


def test_a_closed_root_no_longer_holds_its_keys() -> None:
    table = {"email:x@y.no": "old"}
    plan = plan_identities([Candidate("new", ("email:x@y.no",))], table, lambda root: root != "old")
    assert "new" not in plan.duplicates
    assert _apply(table, plan) == {"email:x@y.no": "new"}


def test_mirror_resolved_leads_claim_nothing() -> None:
    plan = plan_identities([Candidate("a", ("email:x@y.no",), resolved_by_mirror=True)], {}, lambda _: True)
    assert plan.writes == [] and plan.duplicates == {}


people = st.lists(
    st.tuples(st.integers(0, 5), st.integers(0, 5), st.booleans(), st.booleans()), min_size=1, max_size=30
)


@settings(max_examples=300, deadline=None)
@given(people)
def test_every_key_has_one_root_and_redelivery_decides_the_same(subs: list[tuple[int, int, bool, bool]]) -> None:
    batch = []
    for i, (e, p, has_e, has_p) in enumerate(subs):
        keys = tuple(k for k, present in ((f"email:{e}@x.no", has_e), (f"phone:+47{p}", has_p)) if present)
        batch.append(Candidate(f"lead-{i}", keys))
    plan = plan_identities(batch, {}, lambda _: True)
    table = _apply({}, plan)
    roots = {c.lead_id: plan.duplicates[c.lead_id].root if c.lead_id in plan.duplicates else c.lead_id for c in batch}
    for c in batch:
        if c.keys:
            assert table[c.keys[0]] == roots[c.lead_id]  # the strongest key leads to the lead's root
        assert roots[roots[c.lead_id]] == roots[c.lead_id]  # no chains: a root is its own root
    by_email: dict[str, set[str]] = {}
    for c in batch:
        for k in c.keys:
            if k.startswith("email:"):
                by_email.setdefault(k, set()).add(roots[c.lead_id])
    assert all(len(r) == 1 for r in by_email.values())  # the same e-mail is never two people
    again = plan_identities(batch, table, lambda _: True)  # a redelivered batch
    assert again.writes == []
    assert {k: v.root for k, v in again.duplicates.items()} == {k: v.root for k, v in plan.duplicates.items()}
