"""The identity service (`/id/<org>/<user>`, `/services/oauth2/userinfo`), the version root and `/recent`.

Shapes follow Salesforce's "Identity URLs" and "UserInfo Endpoint" documentation: the identity answer
carries `urls` with the literal `{version}` placeholder unless the `version` parameter asks for one
(jsforce's `conn.identity()` reads the `identity` entry of the version root, then this URL).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from leadflow_sf_emulator.errors import SalesforceError
from leadflow_sf_emulator.org import Org
from leadflow_sf_emulator.values import format_datetime

# what `GET /services/data/vXX.X` lists: only resources this emulator serves
VERSION_ROOT_RESOURCES = ("sobjects", "query", "queryAll", "search", "recent", "limits", "composite", "jobs")
RECENT_OBJECTS = ("Lead", "Contact", "Account", "Opportunity")


def identity_url(base_url: str, org: Org, user_id: str) -> str:
    return f"{base_url}/id/{org.settings.org_id}/{user_id}"


def version_root(org: Org, version: str, base_url: str, user_id: str) -> dict[str, str]:
    base = f"/services/data/v{version}"
    out = {k: f"{base}/{k}" for k in VERSION_ROOT_RESOURCES}
    out["identity"] = identity_url(base_url, org, user_id)
    return out


def _user(org: Org, user_id: str) -> dict[str, Any]:
    rec = org.store.tables["User"].get(user_id)
    if rec is None or rec.get("IsDeleted"):
        raise SalesforceError("NOT_FOUND", "Bad_Id", status=404)
    return rec


def _urls(base_url: str, org_id: str, user_id: str, version: str) -> dict[str, str]:
    org15 = org_id[:15]
    return {
        "enterprise": f"{base_url}/services/Soap/c/{version}/{org15}",
        "metadata": f"{base_url}/services/Soap/m/{version}/{org15}",
        "partner": f"{base_url}/services/Soap/u/{version}/{org15}",
        "rest": f"{base_url}/services/data/v{version}/",
        "sobjects": f"{base_url}/services/data/v{version}/sobjects/",
        "search": f"{base_url}/services/data/v{version}/search/",
        "query": f"{base_url}/services/data/v{version}/query/",
        "recent": f"{base_url}/services/data/v{version}/recent/",
        "profile": f"{base_url}/{user_id}",
        "custom_domain": base_url,
    }


def _iso(value: Any) -> str | None:
    return format_datetime(value) if isinstance(value, datetime) else (str(value) if value else None)


def identity(org: Org, user_id: str, base_url: str, version: str | None) -> dict[str, Any]:
    user = _user(org, user_id)
    org_id = org.settings.org_id
    v = {"latest": org.version}.get(version or "", version) or "{version}"
    name = user.get("Name") or " ".join(p for p in (user.get("FirstName"), user.get("LastName")) if p)
    return {
        "id": identity_url(base_url, org, user_id),
        "asserted_user": True,
        "user_id": user_id,
        "organization_id": org_id,
        "username": user.get("Username"),
        "nick_name": user.get("CommunityNickname") or (user.get("Username") or "").split("@")[0],
        "display_name": name,
        "email": user.get("Email"),
        "email_verified": True,
        "first_name": user.get("FirstName"),
        "last_name": user.get("LastName"),
        "timezone": user.get("TimeZoneSidKey") or org.settings.timezone,
        "photos": {"picture": f"{base_url}/profilephoto/005/F", "thumbnail": f"{base_url}/profilephoto/005/T"},
        "mobile_phone": user.get("MobilePhone"),
        "mobile_phone_verified": False,
        "is_lightning_login_user": False,
        "status": {"created_date": None, "body": None},
        "urls": _urls(base_url, org_id, user_id, v),
        "active": bool(user.get("IsActive")),
        "user_type": "STANDARD",
        "language": user.get("LanguageLocaleKey") or "en_US",
        "locale": user.get("LocaleSidKey") or "en_US",
        "utcOffset": 0,
        "last_modified_date": _iso(user.get("LastModifiedDate")),
        "is_app_installed": True,
    }


def userinfo(org: Org, user_id: str, base_url: str) -> dict[str, Any]:
    """OpenID Connect UserInfo: the same person, with OIDC claim names."""
    ident = identity(org, user_id, base_url, None)
    return {
        "sub": ident["id"],
        "user_id": user_id,
        "organization_id": ident["organization_id"],
        "preferred_username": ident["username"],
        "nickname": ident["nick_name"],
        "name": ident["display_name"],
        "email": ident["email"],
        "email_verified": True,
        "given_name": ident["first_name"],
        "family_name": ident["last_name"],
        "zoneinfo": ident["timezone"],
        "photos": ident["photos"],
        "profile": f"{base_url}/{user_id}",
        "picture": ident["photos"]["picture"],
        "address": {},
        "urls": ident["urls"],
        "active": ident["active"],
        "user_type": "STANDARD",
        "language": ident["language"],
        "locale": ident["locale"],
        "utcOffset": 0,
        "updated_at": ident["last_modified_date"],
        "is_app_installed": True,
    }


def recent(org: Org, version: str, limit_param: str | None) -> list[dict[str, Any]]:
    """Recently viewed records. The emulator has no record views, so "recent" means the most recently
    modified Leads, Contacts, Accounts and Opportunities (newest first), each with Id and Name."""
    try:
        limit = int(limit_param) if limit_param else 200
    except ValueError:
        raise SalesforceError("INVALID_QUERY_PARAMETER_VALUE", f"Invalid limit: {limit_param}") from None
    if limit < 1:
        raise SalesforceError("INVALID_QUERY_PARAMETER_VALUE", f"Invalid limit: {limit_param}")
    rows: list[tuple[Any, str, dict[str, Any]]] = []
    for name in RECENT_OBJECTS:
        if org.schema.get(name) is None:
            continue
        for rec in org.store.records(name):
            rows.append((rec.get("LastModifiedDate") or rec.get("CreatedDate"), name, rec))
    rows.sort(key=lambda t: (t[0].timestamp() if isinstance(t[0], datetime) else 0.0, t[2]["Id"]), reverse=True)
    out = []
    for _, name, rec in rows[: min(limit, 200)]:
        display = rec.get("Name") or " ".join(p for p in (rec.get("FirstName"), rec.get("LastName")) if p)
        out.append(
            {
                "attributes": {"type": name, "url": f"/services/data/v{version}/sobjects/{name}/{rec['Id']}"},
                "Id": rec["Id"],
                "Name": display,
            }
        )
    return out
