"""Which records a lead was merged into, and which merged leads a Salesforce change concerns.

A lead that enrich found to be a duplicate never gets a Salesforce record of its own: crm-sync updates
the record it repeats (an open Lead, by Salesforce Id; leadflow's own lead still in flight, by that
lead's external id) or files a follow-up Task on a Contact. Rep activity then happens on *that* record,
and the change feed keys it by that record's lead, never by the merged lead. So sla-monitor remembers,
per merged lead, the keys of the record it went into, and looks every change up by the same keys:

- ``lf:<leadflow lead id>``: leadflow's own lead (changes on it, and Tasks on it, carry its id as ``lead_id``);
- ``sf:<Salesforce Id>``: a Lead or Contact by Id (a Lead change's record id, a Task's ``WhoId``).
"""

from __future__ import annotations

from leadflow_contracts.crm import CrmChange
from leadflow_contracts.pipeline import LeadRouted

from leadflow_sla_monitor.domain.signals import salesforce_ids


def merged_into(routed: LeadRouted) -> tuple[str, ...]:
    """The keys of the record ``routed``'s lead was merged into (empty when it is its own record)."""
    dup = routed.enrichment.duplicate_of
    if dup is None:
        return ()
    if dup.leadflow_id:
        return (f"lf:{dup.leadflow_id}",)
    return (f"sf:{dup.record_id}",)


def change_keys(change: CrmChange) -> tuple[str, ...]:
    """The keys under which leads merged into the changed record (or the Task's record) were filed."""
    return (f"lf:{change.lead_id}", *(f"sf:{i}" for i in salesforce_ids(change)))
