"""Routing policies, evaluated in the configured order; every decision carries its policy and reason."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from leadflow_contracts import ClientType

from leadflow_route.domain.config import PolicyName, RoutingConfig, TeamConfig
from leadflow_route.domain.ledger import Ledger, day_bucket, hour_bucket
from leadflow_route.domain.roster import Queue, Rep, Roster, normalise_language

Target = Literal["any", "team_queue", "team_leader"]


class RoutingError(RuntimeError):
    """No owner at all could be found (the configuration names nobody the roster knows)."""


@dataclass(frozen=True)
class RoutingRequest:
    lead_id: str
    client_type: ClientType = ClientType.NEW
    country: str | None = None
    language: str | None = None
    key_account: bool = False
    account_owner_id: str | None = None
    duplicate_owner_id: str | None = None
    """Owner of the record this lead's person already has: the open Salesforce record it duplicates (from
    enrich's mirror), the in-flight lead it repeats (route's own assignment), or, for that first lead, the
    owner its repeat was routed to first. See ``Router._duplicate`` for the rule."""
    duplicate_reason: str | None = None
    """Why ``duplicate_owner_id`` is the person's owner (said in the decision's reason)."""
    exclude_owner_ids: frozenset[str] = frozenset()
    target: Target = "any"
    preferred_team: str | None = None
    reassignment: bool = False


@dataclass(frozen=True)
class Decision:
    owner_id: str
    owner_type: Literal["user", "queue"]
    owner_name: str | None
    team: str | None
    policy: str
    reason: str
    round_robin: bool = False
    pool: tuple[tuple[str, float], ...] = ()
    """(rep id, weight) of every rep the round-robin drew from (the winner is one); empty when not round-robin."""
    data: dict[str, str | int | float | bool | None] = field(default_factory=dict)


@dataclass(frozen=True)
class TeamChoice:
    name: str
    config: TeamConfig
    reason: str


class Router:
    """Pure routing: ``route(request, roster, ledger, now)`` → ``Decision``; records user assignments in the ledger."""

    def __init__(self, config: RoutingConfig) -> None:
        self.config = config
        self._policies: dict[PolicyName, Callable[[RoutingRequest, Roster, Ledger, datetime], Decision | None]] = {
            "credit_hold": self._credit_hold,
            "key_account": self._key_account,
            "duplicate": self._duplicate,
            "existing_customer": self._existing_customer,
            "new_lead": self._new_lead,
        }
        # Shift state and local time depend only on (rep, now): cached for the current ``now``,
        # so a batch routed at one instant reads each rep's calendar once.
        self._at: datetime | None = None
        self._local: dict[str, datetime] = {}
        self._on_shift: dict[str, bool] = {}
        self._buckets: dict[str, tuple[str, str]] = {}
        self._members_cache: dict[tuple[int, str], tuple[Roster, list[Rep]]] = {}

    def _local_time(self, rep: Rep, now: datetime) -> datetime:
        if now != self._at:
            self._at, self._local, self._on_shift, self._buckets = now, {}, {}, {}
        local = self._local.get(rep.id)
        if local is None:
            local = self._local[rep.id] = rep.local_time(now)
        return local

    def _shift(self, rep: Rep, now: datetime) -> bool:
        local = self._local_time(rep, now)
        key = f"{rep.id}|{rep.timezone}|{rep.working_hours}"
        on = self._on_shift.get(key)
        if on is None:
            hours = rep.hours(self.config.default_working_hours)
            on = self._on_shift[key] = True if hours is None else hours.covers(local)
        return on

    def problems(self, roster: Roster) -> list[str]:
        """Configuration references the roster does not know (the field named, as in config errors)."""
        c, out = self.config, []
        if roster.rep(c.head_of_sales) is None:
            out.append(f"head_of_sales: unknown user {c.head_of_sales!r}")
        if roster.queue(c.finance_queue) is None:
            out.append(f"finance_queue: unknown queue {c.finance_queue!r}")
        if c.key_accounts.queue and roster.queue(c.key_accounts.queue) is None:
            out.append(f"key_accounts.queue: unknown queue {c.key_accounts.queue!r}")
        out += [f"key_accounts.managers: unknown user {m!r}" for m in c.key_accounts.managers if roster.rep(m) is None]
        for name, team in c.teams.items():
            if team.leader and roster.rep(team.leader) is None:
                out.append(f"teams.{name}.leader: unknown user {team.leader!r}")
            if roster.queue(team.queue) is None:
                out.append(f"teams.{name}.queue: unknown queue {team.queue!r}")
            if not any(r.role in team.seller_roles for r in roster.team(name)):
                out.append(f"teams.{name}: no user with Team__c {name!r} and a seller role {list(team.seller_roles)}")
        return out

    # ---- entry point -------------------------------------------------------------------------------
    def route(self, req: RoutingRequest, roster: Roster, ledger: Ledger, now: datetime) -> Decision:
        decision: Decision | None = None
        if req.duplicate_owner_id:
            # one person, one owner: not a routing decision, so before the configured policies and before a
            # reassignment's target (a duplicate's reassignment cannot move its record either; see _duplicate)
            decision = self._duplicate(req, roster, ledger, now)
        elif req.target == "team_queue":
            team = self.select_team(req, roster)
            decision = self._queue_decision(
                team, roster, "reassign_team_queue", f"reassignment asked for the team queue; {team.reason}"
            )
        elif req.target == "team_leader":
            decision = self._team_leader(req, roster, now)
        if decision is None:
            for name in self.config.policies:
                decision = self._policies[name](req, roster, ledger, now)
                if decision is not None:
                    break
        if decision is None:  # pragma: no cover - new_lead always decides
            raise RoutingError(f"no policy decided for lead {req.lead_id}")
        if decision.owner_type == "user":
            rep = roster.rep(decision.owner_id)
            ledger.record_assignment(decision.owner_id, self._local_time(rep, now) if rep else now)
        return decision

    # ---- availability --------------------------------------------------------------------------------
    def unavailable_because(self, rep: Rep, req: RoutingRequest, now: datetime) -> str | None:
        if rep.id in req.exclude_owner_ids or rep.id[:15] in req.exclude_owner_ids:
            return "had this lead before"
        if not rep.active:
            return "inactive"
        if rep.absent:
            return "absent"
        if not self._shift(rep, now):
            return "off shift"
        return None

    def _cap_reached(self, rep: Rep, team: TeamConfig, ledger: Ledger, now: datetime) -> str | None:
        caps = team.caps
        if caps.max_open is None and caps.per_hour is None and caps.per_day is None:
            return None
        load = ledger.get(rep.id)
        if caps.max_open is not None and load.open_leads >= caps.max_open:
            return "max open leads"
        buckets = self._buckets.get(rep.id)
        if buckets is None:
            local = self._local_time(rep, now)
            buckets = self._buckets[rep.id] = (hour_bucket(local), day_bucket(local))
        if caps.per_hour is not None and load.hour_bucket == buckets[0] and load.hour_count >= caps.per_hour:
            return "hourly cap"
        if caps.per_day is not None and load.day_bucket == buckets[1] and load.day_count >= caps.per_day:
            return "daily cap"
        return None

    # ---- helpers -------------------------------------------------------------------------------------
    def select_team(self, req: RoutingRequest, roster: Roster) -> TeamChoice:
        teams = self.config.teams
        if req.preferred_team and req.preferred_team in teams:
            return TeamChoice(req.preferred_team, teams[req.preferred_team], f"team {req.preferred_team} kept")
        country = (req.country or "").upper() or None
        language = normalise_language(req.language)
        by_country = [n for n, t in teams.items() if country and country in t.countries]
        if by_country:
            name = by_country[0]
            return TeamChoice(name, teams[name], f"team {name} by country {country}")
        if language and language != "en":
            by_language = [n for n, t in teams.items() if language in t.languages]
            if by_language:
                name = by_language[0]
                return TeamChoice(name, teams[name], f"team {name} by language {language}")
        name = self.config.default_team
        return TeamChoice(name, teams[name], f"default team {name} (country {country or 'unknown'})")

    def _user(
        self, rep: Rep, team: str | None, policy: str, reason: str, **data: str | int | float | bool | None
    ) -> Decision:
        return Decision(rep.id, "user", rep.name or rep.username, team, policy, reason, data=dict(data))

    def _queue(self, queue: Queue, team: str | None, policy: str, reason: str) -> Decision:
        return Decision(queue.id, "queue", queue.name or queue.developer_name, team, policy, reason)

    def _queue_decision(self, team: TeamChoice, roster: Roster, policy: str, reason: str) -> Decision:
        queue = roster.queue(team.config.queue)
        if queue is not None:
            return self._queue(queue, team.name, policy, f"{reason}; queue {queue.name or queue.developer_name}")
        return self._last_resort(roster, team.name, policy, f"{reason}; team queue {team.config.queue} unknown")

    def _last_resort(self, roster: Roster, team: str | None, policy: str, reason: str) -> Decision:
        head = roster.rep(self.config.head_of_sales)
        if head is not None:
            return self._user(head, team, policy, f"{reason}; head of sales {head.name}")
        raise RoutingError(f"{reason}; and head of sales {self.config.head_of_sales!r} is not in the roster")

    def _team_of(self, rep: Rep | None, req: RoutingRequest, roster: Roster) -> TeamChoice:
        if rep is not None and rep.team in self.config.teams and not req.preferred_team:
            assert rep.team is not None
            return TeamChoice(rep.team, self.config.teams[rep.team], f"team {rep.team} of the account owner")
        return self.select_team(req, roster)

    def _members(self, team: TeamChoice, roster: Roster) -> list[Rep]:
        """The reps who take round-robin leads in a team (cached per roster object)."""
        key = (id(roster), team.name)
        cached = self._members_cache.get(key)
        if cached is not None and cached[0] is roster:
            return cached[1]
        cfg = team.config
        leader = roster.rep(cfg.leader)
        leader_id = leader.id if leader is not None and cfg.leader_sells else None
        members = [
            r for r in roster.team(team.name) if r.weight > 0 and (r.role in cfg.seller_roles or r.id == leader_id)
        ]
        if len(self._members_cache) > 64:
            self._members_cache.clear()
        self._members_cache[key] = (roster, members)
        return members

    def in_rotation(self, roster: Roster) -> frozenset[str]:
        """Ids of the reps who can win a new lead's weighted round-robin: each configured team's members
        (``_members``, the pool ``_new_lead`` deals from). The roster contract says it per rep."""
        return frozenset(
            rep.id
            for name, cfg in self.config.teams.items()
            for rep in self._members(TeamChoice(name, cfg, ""), roster)
        )

    # ---- policies ------------------------------------------------------------------------------------
    def _credit_hold(self, req: RoutingRequest, roster: Roster, ledger: Ledger, now: datetime) -> Decision | None:
        if req.client_type != ClientType.CREDIT_HOLD:
            return None
        owner = roster.rep(req.account_owner_id)
        if owner is not None:
            why = self.unavailable_because(owner, req, now)
            if why is None:
                return self._user(
                    owner, owner.team, "credit_hold", "credit hold: the account owner handles the account, no selling"
                )
            prefix = f"credit hold: account owner {owner.name} {why}"
        else:
            prefix = "credit hold: account has no known owner"
        queue = roster.queue(self.config.finance_queue)
        if queue is not None:
            return self._queue(queue, None, "credit_hold", f"{prefix}; finance queue, never a seller")
        return self._last_resort(
            roster, None, "credit_hold", f"{prefix}; finance queue {self.config.finance_queue} unknown"
        )

    def _key_account_managers(self, roster: Roster) -> list[Rep]:
        ka = self.config.key_accounts
        if ka.managers:
            found = [roster.rep(ref) for ref in ka.managers]
            return [r for r in found if r is not None]
        return sorted((r for r in roster.reps.values() if r.role == ka.manager_role), key=lambda r: r.id)

    def _key_account(self, req: RoutingRequest, roster: Roster, ledger: Ledger, now: datetime) -> Decision | None:
        if not req.key_account:
            return None
        owner = roster.rep(req.account_owner_id)
        managers = self._key_account_managers(roster)
        if owner is not None:
            why = self.unavailable_because(owner, req, now)
            if why is None:
                return self._user(owner, owner.team, "key_account", "key account: its key account manager")
            prefix = f"key account: its manager {owner.name} {why}"
        else:
            prefix = "key account: no account manager on record"
        others = [
            m for m in managers if (owner is None or m.id != owner.id) and self.unavailable_because(m, req, now) is None
        ]
        if others:
            chosen = min(others, key=lambda m: (ledger.get(m.id).open_leads, ledger.get(m.id).assigned_total, m.id))
            return self._user(
                chosen,
                chosen.team,
                "key_account",
                f"{prefix}; another key account manager {chosen.name} (fewest open leads)",
            )
        head = roster.rep(self.config.head_of_sales)
        if head is not None and not ({head.id, head.id[:15]} & req.exclude_owner_ids):
            return self._user(
                head, head.team, "key_account", f"{prefix}; no other key account manager free; head of sales"
            )
        queue = roster.queue(self.config.key_accounts.queue) if self.config.key_accounts.queue else None
        if queue is not None:
            return self._queue(queue, None, "key_account", f"{prefix}; nobody free; key account queue")
        return self._last_resort(roster, None, "key_account", f"{prefix}; nobody free")

    def _duplicate(self, req: RoutingRequest, roster: Roster, ledger: Ledger, now: datetime) -> Decision | None:
        """A duplicate follows its record: it goes to the record's owner, whoever and wherever they are.

        The rule, the same in route, crm-sync and ``leadflow reconcile`` (issue 12): **a duplicate never
        changes the owner of the record it is merged into.** crm-sync writes a duplicate's values onto the
        existing Lead but never its ``OwnerId``; route therefore sends the duplicate to the record's owner,
        so what leadflow believes (the duplicate's owner, its SLA clocks, the rep's load) is what Salesforce
        shows. Why not move the record to an available rep: the person is already someone's (a rep may be
        calling them right now, their history and Tasks are on that record); two reps calling one person is
        worse than a new inquiry waiting for its owner. An owner who is absent or off shift is the record's
        own matter: its SLA clocks escalate it, and that reassignment (not a duplicate's arrival) moves it.
        Availability is therefore not checked here, nor the configured policy order (credit hold, key
        account: those decided the record's owner when it was routed), nor a reassignment's target or
        exclusions (a duplicate's escalation cannot move its record; the record's own clocks do). The
        configured ``duplicate`` entry of ``policies`` is kept for compatibility; the rule runs first.
        """
        owner_id = req.duplicate_owner_id
        if not owner_id:
            return None
        why = req.duplicate_reason or "duplicate of an open record"
        rep = roster.rep(owner_id)
        if rep is not None:
            state = self.unavailable_because(rep, req, now)
            note = f" ({state}: the record's own clocks escalate it)" if state else ""
            return self._user(
                rep,
                rep.team,
                "duplicate",
                f"{why}: stays with its owner {rep.name or rep.id}{note}; a duplicate never moves a record",
            )
        queue = roster.queue(owner_id)
        if queue is not None:
            return self._queue(
                queue,
                None,
                "duplicate",
                f"{why}: stays in queue {queue.name or queue.developer_name}; a duplicate never moves a record",
            )
        owner_type: Literal["user", "queue"] = "queue" if owner_id.startswith("00G") else "user"
        return Decision(
            owner_id,
            owner_type,
            None,
            None,
            "duplicate",
            f"{why}: stays with its owner {owner_id} (not in the roster); a duplicate never moves a record",
        )

    def _existing_customer(self, req: RoutingRequest, roster: Roster, ledger: Ledger, now: datetime) -> Decision | None:
        if req.client_type != ClientType.EXISTING_CUSTOMER or not req.account_owner_id:
            return None
        owner = roster.rep(req.account_owner_id)
        if owner is not None:
            why = self.unavailable_because(owner, req, now)
            if why is None:
                return self._user(owner, owner.team, "existing_customer", "existing customer: the account owner")
            prefix = f"existing customer: account owner {owner.name} {why}"
        else:
            prefix = "existing customer: account owner not in the roster"
        team = self._team_of(owner, req, roster)
        return self._queue_decision(team, roster, "existing_customer", f"{prefix}; {team.reason}")

    def _new_lead(self, req: RoutingRequest, roster: Roster, ledger: Ledger, now: datetime) -> Decision:
        team = self.select_team(req, roster)
        cfg = team.config
        members = self._members(team, roster)
        eligible: list[Rep] = []
        skipped: Counter[str] = Counter()
        for rep in members:
            why = self.unavailable_because(rep, req, now) or self._cap_reached(rep, cfg, ledger, now)
            if why is None:
                eligible.append(rep)
            else:
                skipped[why] += 1
        language = normalise_language(req.language)
        speakers = [r for r in eligible if r.speaks(language)]
        pool, language_note = eligible, ""
        if language and speakers:
            pool, language_note = speakers, f", speaks {language}"
        elif language and eligible:
            language_note = f", nobody free speaks {language}"
        if not pool:
            detail = ", ".join(f"{n} {why}" for why, n in sorted(skipped.items())) or "no sellers"
            return self._queue_decision(
                team, roster, "new_lead", f"new lead: {team.reason}; nobody available ({detail})"
            )
        candidates = tuple((r.id, r.weight) for r in pool)
        winner_id = ledger.pick_weighted(candidates)
        winner = roster.reps[winner_id]
        decision = self._user(
            winner,
            team.name,
            "new_lead",
            f"new lead: {team.reason}; weighted round-robin among {len(pool)} available{language_note}",
            weight=winner.weight,
            candidates=len(pool),
        )
        return replace(decision, round_robin=True, pool=candidates)

    def _team_leader(self, req: RoutingRequest, roster: Roster, now: datetime) -> Decision:
        team = self.select_team(req, roster)
        leader = roster.rep(team.config.leader)
        if leader is not None:
            why = self.unavailable_because(leader, req, now)
            if why is None or why == "off shift":
                return self._user(
                    leader, team.name, "reassign_team_leader", f"reassignment asked for the team leader; {team.reason}"
                )
            prefix = f"reassignment asked for the team leader; {leader.name} {why}"
        else:
            prefix = "reassignment asked for the team leader; none configured"
        return self._queue_decision(team, roster, "reassign_team_leader", f"{prefix}; {team.reason}")
