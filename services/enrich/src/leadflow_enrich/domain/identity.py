"""Identity in flight: the same person submitted again before (or just after) the first lead reached Salesforce.

The mirror learns leadflow's own Leads only once crm-sync has written them and the change feed has
polled them back (seconds to minutes). Until then a second submission of the same person would look
new. So enrich keeps *claims*: normalised identity keys (``email:<address>``, ``phone:<E.164>``) → the
lead id of the first lead that carried them (the *root*). Claims live in the database, shared by every
enrich replica, one row per key (primary key), so two replicas cannot both decide "new" for one key.

Pure decision rules (the adapter does the reads and conditional writes, and repeats the decision until
what it wrote is what the table holds):

- A lead the mirror already resolves (an open Lead or a Contact with the same e-mail/phone) keeps that
  decision and claims nothing: the mirror is the better evidence once it knows the record. So does a lead
  whose own Lead the mirror already holds (a late redelivery).
- Otherwise its keys are looked up, e-mail first: the first key owned by another *live* root makes the
  lead a duplicate of that root (``DuplicateOf.leadflow_id``); else the lead is its own root.
- A root is dead when the mirror shows its Lead closed or converted: its claims no longer hold, and the
  next submission of that person is a new lead (and takes the keys over).
- The lead's unowned keys (and keys it owns itself, from a redelivery) are claimed for its root, so a
  third submission matching only the second one's phone still finds the first lead.
- A redelivered lead finds its own claims and decides exactly as before (idempotent).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from leadflow_contracts import DuplicateOf, NormalizedLead

from leadflow_enrich.domain.normalise import normalise_email, normalise_phone

MatchedOn = Literal["email", "phone"]


def identity_keys(lead: NormalizedLead) -> tuple[str, ...]:
    """The lead's identity keys, e-mail first: ``email:<normalised address>``, ``phone:<E.164>``."""
    keys: list[str] = []
    # an e-mail Salesforce cannot hold (too long, non-ASCII local part) still identifies the person
    email = normalise_email(lead.email) or normalise_email(lead.email_original)
    if email:
        keys.append("email:" + email)
    phone = normalise_phone(lead.phone_e164) if lead.phone_e164 else None
    if phone:
        keys.append("phone:" + phone)
    return tuple(keys)


def key_kind(key: str) -> MatchedOn:
    return "email" if key.startswith("email:") else "phone"


@dataclass(frozen=True, slots=True)
class Candidate:
    """One lead of a batch, in batch order."""

    lead_id: str
    keys: tuple[str, ...]
    resolved_by_mirror: bool = False


@dataclass(frozen=True, slots=True)
class InFlight:
    """The lead repeats ``root`` (matched on ``on``)."""

    root: str
    on: MatchedOn

    def duplicate_of(self) -> DuplicateOf:
        return DuplicateOf(object="Lead", record_id=self.root, matched_on=self.on, leadflow_id=self.root)


@dataclass(frozen=True, slots=True)
class ClaimWrite:
    """Set ``key`` → ``root``: insert when ``expected`` is None (only if still unowned), else replace ``expected``."""

    key: str
    root: str
    expected: str | None = None


@dataclass
class IdentityPlan:
    duplicates: dict[str, InFlight] = field(default_factory=dict)
    """lead_id → the in-flight lead it repeats."""
    writes: list[ClaimWrite] = field(default_factory=list)
    wanted: dict[str, str] = field(default_factory=dict)
    """key → the root the table must hold after the writes (checked by re-reading)."""


def plan_identities(
    batch: Sequence[Candidate], owners: Mapping[str, str], is_live: Callable[[str], bool]
) -> IdentityPlan:
    """Decide every lead of a batch against the stored claims ``owners`` (key → root), in batch order."""
    plan = IdentityPlan()
    current = dict(owners)
    live: dict[str, bool] = {}

    def alive(root: str) -> bool:
        if root not in live:
            live[root] = is_live(root)
        return live[root]

    for cand in batch:
        if cand.resolved_by_mirror or not cand.keys:
            continue
        root, on = cand.lead_id, None
        for key in cand.keys:
            owner = current.get(key)
            if owner is not None and (owner == cand.lead_id or alive(owner)):
                root, on = owner, key_kind(key)
                break
        if root != cand.lead_id:
            assert on is not None
            plan.duplicates[cand.lead_id] = InFlight(root, on)
        for key in cand.keys:
            owner = current.get(key)
            if owner is None:
                plan.writes.append(ClaimWrite(key, root))
            elif owner != root and (owner == cand.lead_id or not alive(owner)):
                # our own earlier claim (a race lost on another key) or a closed lead's: repoint it
                plan.writes.append(ClaimWrite(key, root, expected=owner))
            else:
                continue
            current[key] = root
            plan.wanted[key] = root
    return plan
