"""Every figure the console shows, defined once: what is counted, from which events, over which window.

Pages render their part of this glossary (``glossary.html``), and the tests check that every figure a
page shows (``data-metric``) has an entry here and equals the same figure computed from raw events.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    key: str
    name: str
    counts: str
    source: str
    window: str


TIME_BASE = Term(
    "time_base",
    "Time base",
    "Every time and delay is on the clock the SLA clocks run on. Under the demo clock (the banner) that is demo "
    "time: stamps made on the wall clock — the source's submission, crm-sync's write, Salesforce's "
    "SystemModstamp, dead letters — are mapped onto it as ops reads them, the way sla-monitor maps a "
    "Salesforce touch, so one real second to Salesforce reads as a demo minute at 60×. A step stamped before "
    "its submission even so is marked “clock skew”: that producer's clock is off.",
    "leads.routed, crm.synced, sla.events, crm.changes, dead letters; LEADFLOW_DEMO_CLOCK_*",
    "—",
)

_NOW = (
    Term(
        "open",
        "Open leads",
        "Leads routed to an owner whose first touch has not happened and whose first-touch clock was not "
        "cancelled, each Salesforce Lead once: a lead crm-sync could not write to Salesforce is not open (see "
        "“not in Salesforce”), nor a follow-up on an existing Contact (no Lead is written; see “follow-ups on "
        "existing contacts”), nor a duplicate merged into another Lead (counted as that Lead).",
        "leads.routed (enrichment.duplicate_of), sla.events (first_touch met/cancelled), crm.synced (object), "
        "leads.deadletter",
        "now",
    ),
    Term(
        "follow_ups",
        "Follow-ups on existing contacts",
        "Routed leads enrich matched to an existing Salesforce Contact: crm-sync writes no Lead, only a "
        "follow-up Task on the Contact. Counted while their first touch is ahead (as “open” is), never in “open”.",
        "leads.routed (enrichment.duplicate_of.object = Contact), crm.synced (object = Contact), sla.events",
        "now",
    ),
    Term(
        "follow_ups_breached",
        "Follow-ups breached",
        "Follow-ups on existing contacts with at least one SLA clock breached and not met or cancelled since "
        "(not in “breached”, which counts Salesforce Leads).",
        "leads.routed (enrichment.duplicate_of.object = Contact), sla.events (breached, met, cancelled)",
        "now",
    ),
    Term(
        "due_15",
        "Due in 15 min",
        "Open leads whose first-touch due time is within the next 15 minutes.",
        "leads.routed (first_touch_due; a reassignment's new due time), sla.events",
        "now … now + 15 min",
    ),
    Term(
        "due_60",
        "Due in 60 min",
        "Open leads whose first-touch due time is within the next 60 minutes.",
        "leads.routed, sla.events",
        "now … now + 60 min",
    ),
    Term(
        "breached",
        "Breached",
        "Leads in Salesforce with at least one SLA clock (first touch, qualification or callback) breached "
        "and not met or cancelled since — the leads Salesforce shows with SLA_Status__c = Breached. Each Salesforce "
        "Lead counts once (a duplicate merged into another Lead is that Lead); follow-ups on existing contacts "
        "are counted apart; the split by clock below may add up to more.",
        "sla.events (breached, met, cancelled per clock), leads.routed (enrichment.duplicate_of)",
        "now",
    ),
    Term(
        "breached_first_touch",
        "First touch breached",
        "Leads whose first-touch clock is breached and not met since.",
        "sla.events (clock = first_touch)",
        "now",
    ),
    Term(
        "breached_qualify",
        "Qualification breached",
        "Leads whose qualification clock is breached and not met since.",
        "sla.events (clock = qualify)",
        "now",
    ),
    Term(
        "breached_callback",
        "Callback breached",
        "Leads whose requested callback was missed and not made since.",
        "sla.events (clock = callback)",
        "now",
    ),
    Term(
        "not_in_salesforce",
        "Not in Salesforce",
        "Routed leads crm-sync dead-lettered instead of writing (no CrmSynced since). Not counted as open; "
        "open each from Pipeline health to read the Salesforce error and replay it.",
        "leads.deadletter (service crm-sync, from leads.routed), crm.synced",
        "now",
    ),
    Term(
        "unassigned",
        "Unassigned",
        "Open leads owned by a queue rather than a rep.",
        "leads.routed (owner_type = queue)",
        "now",
    ),
)

_SPEED = (
    Term("touches", "Touches", "First touches (first-touch clock met) in the window.", "sla.events (met)", "window"),
    Term(
        "total",
        "Total delay",
        "Submission → first touch (median p50 and p90, from 10 % histogram bins).",
        "leads.routed (submitted_at), sla.events (met)",
        "window (whole UTC hours or days)",
    ),
    Term(
        "system",
        "System delay",
        "Submission → in Salesforce with an owner (the CrmSynced that carried the owner).",
        "leads.routed, crm.synced",
        "window",
    ),
    Term(
        "human",
        "Human delay",
        "In Salesforce with an owner → first touch.",
        "crm.synced, sla.events (met)",
        "window",
    ),
    Term(
        "attainment",
        "SLA attainment",
        "First-touch clocks met on time ÷ concluded (met or breached); each lead counted once.",
        "sla.events (met, breached)",
        "window",
    ),
    TIME_BASE,
)

_BREACHES = (
    Term(
        "breach",
        "Breach",
        "One row per clock breach (first touch, qualification, callback); “open” until that clock is met.",
        "sla.events (breached, escalated, met)",
        "all time, newest first",
    ),
    Term("late", "How late", "Due time → touch (or now, while still open).", "sla.events", "per breach"),
)

_TEAM = (
    Term(
        "reps",
        "Reps",
        "Salesforce users with a selling role (Seller, Key Account Manager, Team Leader — the same filter as "
        "Staffing's available reps), grouped by their Salesforce team (Team__c, else the role). Users without one "
        "(the integration user, the head of sales, finance) are not reps (unless route's roster puts them in a "
        "team's round-robin rotation): they are listed under “Others holding leads” only while they hold leads, "
        "without a weight share.",
        "crm.changes (User), crm.roster",
        "now",
    ),
    Term(
        "queues",
        "Queues",
        "Queues holding open leads. A lead routed to a queue without a team (the finance queue) is filed under "
        "the queue as Salesforce names it, never under a team “(none)”.",
        "leads.routed (owner_type = queue), crm.roster (queues)",
        "now",
    ),
    Term("open_leads", "Open", "The rep's open leads (as on the Now board).", "leads.routed, sla.events", "now"),
    Term(
        "cap_used",
        "Cap used",
        "Open ÷ the rep's open-lead cap (route's cap from its roster; the ops setting until route publishes "
        "it). Highlighted only when over the cap.",
        "leads.routed, roster",
        "now",
    ),
    Term(
        "assigned",
        "Assigned",
        "Every lead routed to the rep: round-robin deals and also a person's repeat routed to that person's owner "
        "(one person, one owner), existing customers to their account owner, key accounts to their manager, "
        "reassignments and callbacks. Not compared with the weight.",
        "leads.routed",
        "last N days (UTC days)",
    ),
    Term(
        "round_robin",
        "Round-robin",
        "Of the assigned leads, the ones route dealt by weighted round-robin among the team's rotation "
        "(LeadRouted assignment.round_robin): the only assignments the weights govern.",
        "leads.routed (assignment.round_robin)",
        "last N days (UTC days)",
    ),
    Term(
        "in_rotation",
        "Not in rotation",
        "A rep route never deals a round-robin lead: not in its team's pool (a team leader when the leader does "
        "not sell, a role the team does not sell with, weight 0), as route says in its roster (until it has: the "
        "selling roles above). Shown without share, weight share or Δ, never flagged as unfair.",
        "crm.roster (in_rotation)",
        "now",
    ),
    Term(
        "share",
        "Share",
        "The rep's round-robin deals ÷ the round-robin deals of the team's reps in rotation.",
        "leads.routed (assignment.round_robin)",
        "last N days (UTC days)",
    ),
    Term(
        "weight_share",
        "Weight share",
        "The rep's routing weight ÷ the weights of the team's available reps in rotation (route's weight, "
        "Salesforce Weight__c). Shown for reference: the fairness is judged against Expected, which also knows "
        "who was available and who spoke the lead's language.",
        "crm.roster, crm.changes (User)",
        "now",
    ),
    Term(
        "expected",
        "Expected",
        "The round-robin deals the rep could expect given who could win each lead: route draws every lead from a "
        "pool (the reps available, under their caps and, when one is free, speaking the lead's language), where "
        "a rep wins with its weight ÷ the pool's weights; Expected adds those chances over the pools the rep was "
        "in. The only Dutch speaker expects the Dutch leads. Deals without a pool (from an older route) count at "
        "the weight share instead. The chart's expected share is Expected ÷ the team's round-robin deals, what "
        "the share beside it is compared with.",
        "leads.routed (assignment.pool), crm.roster",
        "last N days (UTC days)",
    ),
    Term(
        "deviation",
        "Δ",
        "Round-robin − expected, in deals, for reps in rotation; highlighted only when it is beyond chance "
        "(|z| > 3, z = Δ ÷ the standard deviation of the draws: the square root of Σ p(1 − p) over the pools).",
        "leads.routed (assignment.round_robin, assignment.pool), crm.roster",
        "last N days",
    ),
)

_PIPELINE = (
    Term(
        "lag",
        "Consumer lag",
        "Log-end offset − committed offset, summed over a topic's partitions, per consumer group.",
        "Kafka admin API",
        "sampled every few seconds",
    ),
    Term(
        "throughput", "Throughput", "Messages written per second to each topic.", "log-end offsets", "between samples"
    ),
    Term(
        "dead_letters",
        "Dead letters",
        "Records a service could not process (intake rejects and every DeadLetter), with the reason.",
        "leads.rejected, leads.deadletter",
        "all time",
    ),
    Term(
        "dead_letters_attention",
        "Dead letters that need attention",
        "Dead letters never replayed that mean a fault inside the pipeline or in Salesforce: a record that passed "
        "intake and a service could not process (poison, processing_error), a lead crm-sync could not write "
        "(not in Salesforce), or an unreadable record on a dead-letter topic. Red when any.",
        "leads.deadletter (every service), unreadable records on leads.rejected",
        "all time",
    ),
    Term(
        "input_rejects",
        "Input rejects",
        "Submissions intake refused as the sender wrote them (invalid JSON, schema violation, string too long, "
        "too deep, no usable contact…): expected input errors at the edge, not an incident, so never red; the "
        "sender fixes them, or an operator replays a fixed copy. The demo generator sends some on purpose.",
        "leads.rejected (intake)",
        "all time",
    ),
    Term(
        "waiting",
        "Waiting",
        "Dead letters never replayed.",
        "leads.rejected, leads.deadletter, replays made here",
        "all time",
    ),
    Term(
        "api_budget",
        "API budget",
        "Salesforce daily API requests used, the org's limit and what is left, as the last Salesforce response to "
        "crm-sync reported them (the Sforce-Limit-Info header, api-usage=used/limit).",
        "crm-sync's /metrics: leadflow_salesforce_api_used / _limit / _remaining{service=crm-sync}",
        "Salesforce's rolling 24 h",
    ),
    Term(
        "change_feed_lag",
        "Change-feed lag",
        "Newest Salesforce change on crm.changes: how long ago Salesforce made it, and the crm.changes consumers' lag.",
        "crm.changes (system_modstamp)",
        "now",
    ),
    Term(
        "reconcile",
        "Last reconcile",
        "The last “leadflow reconcile --json” run: when, and how many differences between leadflow and "
        "Salesforce, by kind.",
        "OPS_RECONCILE_RESULT_FILE (var/reconcile/last.json)",
        "last run",
    ),
)

_STAFFING = (
    Term(
        "arrivals",
        "Arrival rate",
        "Leads first routed ÷ the hours the data covers (from the first arrival in the window, or the "
        "window's start, to now) — never extrapolated from a partial hour.",
        "leads.routed (first routing)",
        "last 24 h",
    ),
    Term(
        "available_reps",
        "Available reps",
        "Active, not absent Salesforce users with a selling role.",
        "crm.changes (User)",
        "now",
    ),
    Term(
        "needed",
        "Reps needed",
        "Fewest reps for the target share of leads answered within the target time (Erlang C).",
        "the inputs above",
        "—",
    ),
)

_LEAD = (
    Term(
        "timeline",
        "Timeline",
        "Every step of this lead in submission order: who acted (a service or a rep), what it decided.",
        "leads.routed, crm.synced, sla.events, dead letters",
        "this lead",
    ),
    Term(
        "routing_policy",
        "Routing policy",
        "The route rule that chose the owner.",
        "leads.routed (assignment.policy)",
        "this lead",
    ),
    Term(
        "sla_policy",
        "SLA policy",
        "The sla-monitor policy that set the clocks' due times.",
        "sla.events (policy)",
        "this lead",
    ),
    Term(
        "dropped_fields",
        "Values Salesforce refused",
        "Fields crm-sync's field-level fallback left out because Salesforce refused the value (the reason is "
        "Salesforce's status code): the record was written without them. A name, title or company longer than "
        "its field is written cut to fit instead (STRING_TOO_LONG, 'cut'). On a Lead the whole value is kept "
        "for the rep in the Leadflow_Dropped_Fields__c note; a Contact has no such note.",
        "crm.synced (dropped_fields, object, salesforce_id)",
        "this lead",
    ),
    Term(
        "salesforce_record",
        "Salesforce",
        "The record crm-sync wrote: the lead's own Lead, or for a follow-up the existing Contact it wrote the "
        "follow-up Task on (before that write, the Contact enrich matched).",
        "crm.synced (object, salesforce_id), leads.routed (enrichment.duplicate_of)",
        "this lead",
    ),
    TIME_BASE,
)

GLOSSARY: dict[str, tuple[Term, ...]] = {
    "now": _NOW,
    "speed": _SPEED,
    "breaches": _BREACHES,
    "team": _TEAM,
    "pipeline": _PIPELINE,
    "deadletter": tuple(
        t for t in _PIPELINE if t.key in ("dead_letters", "dead_letters_attention", "input_rejects", "waiting")
    ),
    "staffing": _STAFFING,
    "lead": _LEAD,
}


def terms(page: str) -> tuple[Term, ...]:
    return GLOSSARY.get(page, ())


def keys(page: str) -> set[str]:
    return {t.key for t in terms(page)}
