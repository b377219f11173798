"""``leadflow enrich check [--policy FILE]`` and ``leadflow enrich match --email … --company …`` (against the
mirror tables in ``--database-url``): why a lead would match the account it matches."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from leadflow_platform.db import create_engine

from leadflow_enrich.adapters.mirror_repository import MirrorRepository
from leadflow_enrich.adapters.policy_file import load_policy
from leadflow_enrich.domain.index import MirrorIndex
from leadflow_enrich.domain.matching import LeadKeys, candidates
from leadflow_enrich.domain.normalise import domain_of, normalise_phone
from leadflow_enrich.domain.policy import PolicyError
from leadflow_enrich.domain.records import MIRROR_OBJECTS
from leadflow_enrich.testing import normalized_lead


def _check(args: argparse.Namespace) -> int:
    try:
        policy = load_policy(args.policy)
    except PolicyError as e:
        print(f"invalid: {e}", file=sys.stderr)
        return 1
    print(
        f"ok: {policy.version} (fuzzy threshold {policy.matching.fuzzy_threshold:g}, "
        f"{len(policy.free_mail_domains)} free-mail domains, dormant after "
        f"{policy.client_type.dormant_after_months} months)"
    )
    return 0


async def _match(args: argparse.Namespace) -> int:
    policy = load_policy(args.policy)
    engine = create_engine(args.database_url)
    index = MirrorIndex(policy.free_mail_domains, policy.duplicates)
    try:
        repo = MirrorRepository(engine)
        for obj in MIRROR_OBJECTS:
            async for rec in repo.stream(obj):
                index.apply(rec)
    finally:
        await engine.dispose()
    email = args.email
    lead = normalized_lead(
        email=email,
        email_domain=domain_of(email) if email else None,
        email_is_free=bool(email) and domain_of(email) in policy.free_mail_domains,
        company_name=args.company,
        company_domain=args.website,
        phone_e164=normalise_phone(args.phone, args.country),
        country=args.country,
    )
    keys = LeadKeys.of(lead, index.free_mail)
    print(f"mirror: {index.counts()}")
    print(
        f"keys: email_domain={keys.email_domain} website={keys.website_domain} name='{keys.company_name}' "
        f"phone={'yes' if keys.phone else 'no'}"
    )
    found = candidates(keys, index, policy.matching)
    if not found:
        print("no account matched")
    for i, c in enumerate(found[: args.top]):
        a = c.account
        print(
            f"{'->' if i == 0 else '  '} {a.id} {a.name!r} {c.method.value} conf={c.confidence:.3f} "
            f"key={a.key_account} last_activity={a.last_activity} ({c.evidence})"
        )
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("enrich", help="Validate the enrichment policy or explain an account match.")
    sub = parser.add_subparsers(dest="enrich_command", required=True)
    check = sub.add_parser("check", help="Validate an enrichment policy file (default: the bundled one).")
    check.add_argument("--policy", type=Path, default=None)
    check.set_defaults(func=_check)
    match = sub.add_parser("match", help="Rank the mirror's accounts for a lead's e-mail/company/website/phone.")
    match.add_argument("--database-url", default="sqlite+aiosqlite:///./var/enrich.db")
    match.add_argument("--policy", type=Path, default=None)
    match.add_argument("--email")
    match.add_argument("--company")
    match.add_argument("--website")
    match.add_argument("--phone")
    match.add_argument("--country", help="ISO alpha-2, used to read a national phone number")
    match.add_argument("--top", type=int, default=5)
    match.set_defaults(func=lambda a: asyncio.run(_match(a)))
