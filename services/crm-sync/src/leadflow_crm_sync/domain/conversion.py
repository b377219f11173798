"""When a qualified lead becomes an opportunity, and into what (account, contact, owner, opportunity)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from leadflow_contracts import ChangeType, CrmChange

from leadflow_crm_sync.domain.ids import is_user_id
from leadflow_crm_sync.domain.policy import ConversionPolicy
from leadflow_crm_sync.domain.state import LeadState


@dataclass(frozen=True)
class ConvertedIds:
    account_id: str | None
    contact_id: str | None
    opportunity_id: str | None


@dataclass(frozen=True)
class ConversionPlan:
    lead_sf_id: str
    account_id: str | None
    owner_id: str | None
    opportunity_name: str | None
    create_opportunity: bool
    converted_status: str
    email: str | None
    opportunity_fields: dict[str, Any]
    reason: str


def _status_change(change: CrmChange) -> str | None:
    for fc in change.changed_fields:
        if fc.field.lower() == "status":
            return None if fc.new is None else str(fc.new)
    return None


def observed_conversion(change: CrmChange) -> ConvertedIds | None:
    """The lead was converted in Salesforce (by a rep, or by us earlier): the ids it went into."""
    if change.object != "Lead" or change.change_type == ChangeType.DELETED:
        return None
    rec = change.record
    if rec.get("IsConverted") is True:
        return ConvertedIds(
            rec.get("ConvertedAccountId"), rec.get("ConvertedContactId"), rec.get("ConvertedOpportunityId")
        )
    return None


def wants_conversion(change: CrmChange, policy: ConversionPolicy) -> str | None:
    """The reason to convert, or None: the lead is in a qualified status and not converted yet.

    The status change itself is the usual signal; when the feed saw the record for the first time (no old
    values) the record's current status decides, so a qualification is not missed. Converting is idempotent.
    """
    if change.object != "Lead" or change.change_type == ChangeType.DELETED:
        return None
    if change.record.get("IsConverted") is True:
        return None
    new_status = _status_change(change)
    if new_status is not None:
        if new_status in policy.qualified_statuses:
            return f"status set to {new_status!r} by {change.changed_by or 'someone'}"
        return None
    current = change.record.get("Status")
    if current in policy.qualified_statuses:
        return f"status is {current!r} (first seen by the change feed)"
    return None


def _opportunity_type(state: LeadState, policy: ConversionPolicy) -> str | None:
    types = policy.opportunity_types
    return types.get(state.client_type or "", types.get("default"))


def plan_conversion(
    change: CrmChange, state: LeadState, policy: ConversionPolicy, today: date, reason: str
) -> ConversionPlan:
    rec = change.record
    # The account: what the record says now (a rep who changed Matched_Account__c wins), else our match.
    account_id = rec.get("Matched_Account__c") if "Matched_Account__c" in rec else state.matched_account_id
    account_id = account_id or None
    # The owner: the key account manager for key accounts, else the lead's user owner, else the rep who qualified.
    lead_owner = rec.get("OwnerId") or state.owner_id
    if state.key_account and account_id == state.matched_account_id and is_user_id(state.account_owner_id):
        owner = state.account_owner_id
        why = "key account: its key account manager"
    elif is_user_id(lead_owner):
        owner, why = lead_owner, "the lead's owner"
    elif is_user_id(change.changed_by):
        owner, why = change.changed_by, "the rep who qualified it (lead owned by a queue)"
    else:
        owner, why = None, "no user owner known"
    company = rec.get("Company") or state.company or "Lead"
    campaign = state.campaign or state.lead_source or "Leadflow"
    name = policy.opportunity_name.format(
        company=company, campaign=campaign, source=state.lead_source or "", lead_id=state.lead_id
    )[:120]
    opp_fields: dict[str, Any] = {
        "StageName": policy.opportunity_stage,
        "CloseDate": (today + timedelta(days=policy.close_days)).isoformat(),
    }
    otype = _opportunity_type(state, policy)
    if otype:
        opp_fields["Type"] = otype
    desc = [f"Converted by leadflow: {reason}."]
    if state.campaign:
        desc.append(f"Campaign: {state.campaign}")
    if state.lead_source:
        desc.append(f"Source: {state.lead_source}")
    opp_fields["Description"] = "\n".join(desc)
    return ConversionPlan(
        lead_sf_id=change.record_id,
        account_id=account_id,
        owner_id=owner,
        opportunity_name=name,
        create_opportunity=policy.create_opportunity,
        converted_status=policy.converted_status,
        email=rec.get("Email") or state.email,
        opportunity_fields=opp_fields,
        reason=f"{reason}; owner = {why}; account = {'matched/chosen ' + account_id if account_id else 'new'}",
    )
