"""Lead-to-account matching over the mirror index. Pure: values in, a decision with its reason out.

Candidates come from, in order of strength: the lead's e-mail being a known contact's, the e-mail
domain / company website domain (free-mail domains ignored), the normalised company name, the phone
number, and — only when nothing exact was found — a fuzzy name match (rapidfuzz, with a threshold).

Tie-breakers, deterministic: stronger method first (an exact domain beats a fuzzy name); then higher
confidence; then a key account over others; then the most recently active account; then the lowest id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from leadflow_contracts import AccountMatch, MatchMethod, NormalizedLead
from rapidfuzz import fuzz, process

from leadflow_enrich.domain.index import MirrorIndex
from leadflow_enrich.domain.normalise import domain_of, normalise_company_name, normalise_email
from leadflow_enrich.domain.policy import MatchingPolicy
from leadflow_enrich.domain.records import AccountRecord

METHOD_RANK: dict[MatchMethod, int] = {
    MatchMethod.CONTACT_EMAIL: 0,
    MatchMethod.EMAIL_DOMAIN: 1,
    MatchMethod.WEBSITE_DOMAIN: 1,
    MatchMethod.NAME_EXACT: 2,
    MatchMethod.PHONE: 3,
    MatchMethod.NAME_FUZZY: 4,
}
_TIEBREAK_NAMES = ("stronger method", "higher confidence", "key account", "most recently active", "lowest id")


@dataclass(frozen=True, slots=True)
class LeadKeys:
    """What matching compares, taken once from the lead."""

    email: str | None
    email_domain: str | None
    website_domain: str | None
    company_name: str
    phone: str | None

    @classmethod
    def of(cls, lead: NormalizedLead, free_mail: frozenset[str]) -> LeadKeys:
        email = normalise_email(lead.email)
        email_domain = (lead.email_domain or domain_of(email) or "").lower() or None
        if lead.email_is_free or (email_domain in free_mail):
            email_domain = None
        website = domain_of(lead.company_domain)
        if website in free_mail:
            website = None
        return cls(
            email=email,
            email_domain=email_domain,
            website_domain=website,
            company_name=normalise_company_name(lead.company_name),
            phone=lead.phone_e164,
        )


@dataclass(frozen=True, slots=True)
class Candidate:
    account: AccountRecord
    method: MatchMethod
    confidence: float
    evidence: str

    def sort_key(self) -> tuple[int, float, int, int, str]:
        activity = self.account.last_activity or date.min
        return (
            METHOD_RANK[self.method],
            -round(self.confidence, 4),
            0 if self.account.key_account else 1,
            -activity.toordinal(),
            self.account.id,
        )


@dataclass(frozen=True, slots=True)
class MatchDecision:
    match: AccountMatch
    account: AccountRecord | None
    reason: str


def _offer(
    cands: dict[str, Candidate],
    index: MirrorIndex,
    account_ids: set[str] | list[str],
    method: MatchMethod,
    confidence: float,
    evidence: str,
) -> None:
    for aid in account_ids:
        account = index.accounts.get(aid)
        if account is None:
            continue
        new = Candidate(account, method, confidence, evidence)
        old = cands.get(aid)
        if old is None or new.sort_key() < old.sort_key():
            cands[aid] = new


def candidates(keys: LeadKeys, index: MirrorIndex, policy: MatchingPolicy) -> list[Candidate]:
    """Every account the lead could belong to, best first."""
    conf = policy.confidence
    cands: dict[str, Candidate] = {}
    if keys.email:
        for cid in sorted(index.contact_by_email.get(keys.email, ())):
            contact = index.contacts[cid]
            if contact.account_id:
                _offer(
                    cands,
                    index,
                    [contact.account_id],
                    MatchMethod.CONTACT_EMAIL,
                    conf[MatchMethod.CONTACT_EMAIL],
                    f"e-mail of contact {cid}",
                )
    for domain, method in (
        (keys.email_domain, MatchMethod.EMAIL_DOMAIN),
        (keys.website_domain, MatchMethod.WEBSITE_DOMAIN),
    ):
        if not domain:
            continue
        _offer(cands, index, index.accounts_for_website(domain), method, conf[method], f"website {domain}")
        _offer(
            cands,
            index,
            index.accounts_for_contact_domain(domain),
            method,
            conf[method] - policy.contact_domain_discount,
            f"contacts at {domain}",
        )
    if keys.company_name:
        _offer(
            cands,
            index,
            index.accounts_for_name(keys.company_name),
            MatchMethod.NAME_EXACT,
            conf[MatchMethod.NAME_EXACT],
            f"name '{keys.company_name}'",
        )
    if keys.phone:
        _offer(
            cands,
            index,
            index.accounts_for_phone(keys.phone),
            MatchMethod.PHONE,
            conf[MatchMethod.PHONE],
            "account phone",
        )
        for cid in sorted(index.contact_by_phone.get(keys.phone, ())):
            account_id = index.contacts[cid].account_id
            if account_id:
                _offer(
                    cands, index, [account_id], MatchMethod.PHONE, conf[MatchMethod.PHONE], f"phone of contact {cid}"
                )
    if not cands and keys.company_name:
        names = index.fuzzy_name_candidates(keys.company_name, policy.fuzzy_max_candidates)
        hits = process.extract(
            keys.company_name, names, scorer=fuzz.token_sort_ratio, score_cutoff=policy.fuzzy_threshold, limit=None
        )
        for name, score, _ in hits:
            confidence = round(conf[MatchMethod.NAME_FUZZY] * score / 100.0, 4)
            _offer(
                cands,
                index,
                index.accounts_for_name(name),
                MatchMethod.NAME_FUZZY,
                confidence,
                f"name '{name}' ~ {score:.1f}",
            )
    return sorted(cands.values(), key=Candidate.sort_key)


def _tiebreak(winner: Candidate, runner_up: Candidate) -> str:
    for name, a, b in zip(_TIEBREAK_NAMES, winner.sort_key(), runner_up.sort_key(), strict=True):
        if a != b:
            return name
    return "lowest id"  # pragma: no cover - ids are unique


def match_account(lead: NormalizedLead, index: MirrorIndex, policy: MatchingPolicy) -> MatchDecision:
    keys = LeadKeys.of(lead, index.free_mail)
    found = candidates(keys, index, policy)
    if not found:
        return MatchDecision(AccountMatch(), None, "no account matched by e-mail, domain, name or phone")
    best = found[0]
    acc = best.account
    reason = f"{best.method.value} ({best.evidence}) -> account {acc.id}"
    if len(found) > 1:
        reason += f"; {len(found)} candidates, won on {_tiebreak(best, found[1])}"
    match = AccountMatch(
        account_id=acc.id,
        account_name=acc.name,
        owner_id=acc.owner_id,
        method=best.method,
        confidence=min(1.0, max(0.0, best.confidence)),
        key_account=acc.key_account,
        candidates=len(found),
    )
    return MatchDecision(match, acc, reason)
