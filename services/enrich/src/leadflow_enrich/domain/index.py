"""The in-memory index over the mirror: what matching and duplicate detection read, per lead, in microseconds.

Built from the mirror tables at start and updated record by record as changes arrive (``apply`` /
``remove``). Keys are normalised once, when a record enters the index.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from leadflow_enrich.domain.normalise import (
    domain_of,
    name_block_keys,
    normalise_company_name,
    normalise_email,
    normalise_phone,
)
from leadflow_enrich.domain.policy import DuplicatePolicy
from leadflow_enrich.domain.records import (
    AccountRecord,
    ContactRecord,
    LeadRecord,
    MirrorObject,
    MirrorRecord,
    QueueRecord,
    UserRecord,
)


def _add(index: dict[str, set[str]], key: str | None, value: str) -> None:
    if key:
        index[key].add(value)


def _discard(index: dict[str, set[str]], key: str | None, value: str) -> None:
    if key and key in index:
        index[key].discard(value)
        if not index[key]:
            del index[key]


class MirrorIndex:
    """Lookups by domain, normalised name, phone and e-mail over the mirrored records."""

    def __init__(self, free_mail_domains: Iterable[str] = (), duplicates: DuplicatePolicy | None = None) -> None:
        self.free_mail = frozenset(free_mail_domains)
        self.duplicates = duplicates or DuplicatePolicy()
        self.accounts: dict[str, AccountRecord] = {}
        self.contacts: dict[str, ContactRecord] = {}
        self.leads: dict[str, LeadRecord] = {}
        self.users: dict[str, UserRecord] = {}
        self.queues: dict[str, QueueRecord] = {}
        self.account_by_website: dict[str, set[str]] = defaultdict(set)
        # domain -> account id -> number of that account's contacts with an e-mail at the domain
        self.account_by_contact_domain: dict[str, dict[str, int]] = defaultdict(dict)
        self.account_by_name: dict[str, set[str]] = defaultdict(set)
        self.name_blocks: dict[str, set[str]] = defaultdict(set)
        self.account_by_phone: dict[str, set[str]] = defaultdict(set)
        self.contact_by_email: dict[str, set[str]] = defaultdict(set)
        self.contact_by_phone: dict[str, set[str]] = defaultdict(set)
        self.open_lead_by_email: dict[str, set[str]] = defaultdict(set)
        self.open_lead_by_phone: dict[str, set[str]] = defaultdict(set)
        self.lead_by_leadflow_id: dict[str, str] = {}
        self._account_keys: dict[str, tuple[str | None, str, str | None]] = {}

    # ---- sizes ------------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        return {
            "Account": len(self.accounts),
            "Contact": len(self.contacts),
            "Lead": len(self.leads),
            "User": len(self.users),
            "Queue": len(self.queues),
        }

    # ---- maintenance ------------------------------------------------------------------------------
    def load(self, records: Iterable[MirrorRecord]) -> None:
        for rec in records:
            self.apply(rec)

    def apply(self, rec: MirrorRecord) -> None:
        """Insert or replace one record (old keys are removed first)."""
        if isinstance(rec, AccountRecord):
            self._remove_account(rec.id)
            self._add_account(rec)
        elif isinstance(rec, ContactRecord):
            self._remove_contact(rec.id)
            self._add_contact(rec)
        elif isinstance(rec, LeadRecord):
            self._remove_lead(rec.id)
            self._add_lead(rec)
        elif isinstance(rec, UserRecord):
            self.users[rec.id] = rec
        else:
            self.queues[rec.id] = rec

    def remove(self, obj: MirrorObject, record_id: str) -> None:
        if obj == "Account":
            self._remove_account(record_id)
        elif obj == "Contact":
            self._remove_contact(record_id)
        elif obj == "Lead":
            self._remove_lead(record_id)
        elif obj == "User":
            self.users.pop(record_id, None)
        else:
            self.queues.pop(record_id, None)

    def get(self, obj: MirrorObject, record_id: str) -> MirrorRecord | None:
        tables: dict[str, Mapping[str, MirrorRecord]] = {
            "Account": self.accounts,
            "Contact": self.contacts,
            "Lead": self.leads,
            "User": self.users,
            "Queue": self.queues,
        }
        return tables[obj].get(record_id)

    def _add_account(self, rec: AccountRecord) -> None:
        self.accounts[rec.id] = rec
        website = domain_of(rec.website)
        if website in self.free_mail:
            website = None
        name = normalise_company_name(rec.name)
        phone = normalise_phone(rec.phone)
        _add(self.account_by_website, website, rec.id)
        _add(self.account_by_name, name, rec.id)
        if name:
            for key in name_block_keys(name):
                self.name_blocks[key].add(name)
        _add(self.account_by_phone, phone, rec.id)
        self._account_keys[rec.id] = (website, name, phone)

    def _remove_account(self, account_id: str) -> None:
        if self.accounts.pop(account_id, None) is None:
            return
        website, name, phone = self._account_keys.pop(account_id)
        _discard(self.account_by_website, website, account_id)
        _discard(self.account_by_name, name, account_id)
        if name and name not in self.account_by_name:
            for key in name_block_keys(name):
                _discard(self.name_blocks, key, name)
        _discard(self.account_by_phone, phone, account_id)

    def _contact_domain(self, rec: ContactRecord) -> str | None:
        domain = domain_of(normalise_email(rec.email))
        return None if domain is None or domain in self.free_mail else domain

    def _add_contact(self, rec: ContactRecord) -> None:
        self.contacts[rec.id] = rec
        _add(self.contact_by_email, normalise_email(rec.email), rec.id)
        for phone in {normalise_phone(rec.phone), normalise_phone(rec.mobile_phone)}:
            _add(self.contact_by_phone, phone, rec.id)
        domain = self._contact_domain(rec)
        if domain and rec.account_id:
            counts = self.account_by_contact_domain[domain]
            counts[rec.account_id] = counts.get(rec.account_id, 0) + 1

    def _remove_contact(self, contact_id: str) -> None:
        rec = self.contacts.pop(contact_id, None)
        if rec is None:
            return
        _discard(self.contact_by_email, normalise_email(rec.email), contact_id)
        for phone in {normalise_phone(rec.phone), normalise_phone(rec.mobile_phone)}:
            _discard(self.contact_by_phone, phone, contact_id)
        domain = self._contact_domain(rec)
        if domain and rec.account_id and domain in self.account_by_contact_domain:
            counts = self.account_by_contact_domain[domain]
            left = counts.get(rec.account_id, 0) - 1
            if left > 0:
                counts[rec.account_id] = left
            else:
                counts.pop(rec.account_id, None)
            if not counts:
                del self.account_by_contact_domain[domain]

    def lead_is_open(self, rec: LeadRecord) -> bool:
        if rec.is_converted:
            return False
        status = rec.status or ""
        if status in self.duplicates.closed_lead_statuses:
            return False
        prefix = self.duplicates.closed_status_prefix
        return not (prefix and status.startswith(prefix))

    def _add_lead(self, rec: LeadRecord) -> None:
        self.leads[rec.id] = rec
        if rec.leadflow_id:
            self.lead_by_leadflow_id[rec.leadflow_id] = rec.id
        if not self.lead_is_open(rec):
            return
        _add(self.open_lead_by_email, normalise_email(rec.email), rec.id)
        for phone in {normalise_phone(rec.phone), normalise_phone(rec.mobile_phone)}:
            _add(self.open_lead_by_phone, phone, rec.id)

    def _remove_lead(self, lead_id: str) -> None:
        rec = self.leads.pop(lead_id, None)
        if rec is None:
            return
        if rec.leadflow_id and self.lead_by_leadflow_id.get(rec.leadflow_id) == lead_id:
            del self.lead_by_leadflow_id[rec.leadflow_id]
        _discard(self.open_lead_by_email, normalise_email(rec.email), lead_id)
        for phone in {normalise_phone(rec.phone), normalise_phone(rec.mobile_phone)}:
            _discard(self.open_lead_by_phone, phone, lead_id)

    # ---- lookups ----------------------------------------------------------------------------------
    def leadflow_lead_is_live(self, lead_id: str) -> bool:
        """False only when the mirror shows leadflow's Lead for ``lead_id`` closed or converted
        (unknown = still in flight = live)."""
        rid = self.lead_by_leadflow_id.get(lead_id)
        rec = self.leads.get(rid) if rid else None
        return rec is None or self.lead_is_open(rec)

    def accounts_for_website(self, domain: str) -> set[str]:
        return self.account_by_website.get(domain, set())

    def accounts_for_contact_domain(self, domain: str) -> set[str]:
        return set(self.account_by_contact_domain.get(domain, {}))

    def accounts_for_name(self, normalised: str) -> set[str]:
        return self.account_by_name.get(normalised, set())

    def accounts_for_phone(self, e164: str) -> set[str]:
        return self.account_by_phone.get(e164, set())

    def fuzzy_name_candidates(self, normalised: str, limit: int) -> list[str]:
        """At most ``limit`` normalised account names worth scoring against ``normalised``.

        Small postings (rare keys) are taken whole; when every key is common, only names sharing at least
        two keys with the lead are kept. Ties are cut by name, so the pool is deterministic.
        """
        postings = sorted((self.name_blocks[k] for k in name_block_keys(normalised) if k in self.name_blocks), key=len)
        if not postings:
            return []
        pool: set[str] = set()
        for names in postings:
            if len(pool) + len(names) > limit:
                break
            pool |= names
        if not pool:
            smallest, others = postings[0], postings[1:]
            pool = set().union(*(smallest & other for other in others)) if others else set(smallest)
        return sorted(pool)[:limit]
