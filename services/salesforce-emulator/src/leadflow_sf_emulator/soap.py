"""The partner SOAP endpoint: `login`, `logout` and `convertLead`."""

from __future__ import annotations

import hmac
from datetime import date
from typing import Any
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from defusedxml import ElementTree as SafeET

from leadflow_sf_emulator import dml, ids
from leadflow_sf_emulator.errors import SalesforceError
from leadflow_sf_emulator.org import Org
from leadflow_sf_emulator.store import Txn

ENV = "http://schemas.xmlsoap.org/soap/envelope/"
_ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns="urn:partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    "<soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"
)


class SoapFault(Exception):
    def __init__(self, code: str, message: str, fault_type: str = "UnexpectedErrorFault") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fault_type = fault_type

    def xml(self) -> str:
        m = escape(self.message)
        return (
            '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
            'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.partner.soap.sforce.com" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault>'
            f"<faultcode>sf:{self.code}</faultcode><faultstring>{self.code}: {m}</faultstring><detail>"
            f'<sf:{self.fault_type} xsi:type="sf:{self.fault_type}"><sf:exceptionCode>{self.code}</sf:exceptionCode>'
            f"<sf:exceptionMessage>{m}</sf:exceptionMessage></sf:{self.fault_type}></detail>"
            "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
        )


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(el: Element, name: str) -> Element | None:
    for c in el:
        if _local(c.tag) == name:
            return c
    return None


def _text(el: Element, name: str) -> str | None:
    c = _child(el, name)
    if c is None:
        return None
    nil = c.get("{http://www.w3.org/2001/XMLSchema-instance}nil")
    if nil == "true":
        return None
    return (c.text or "").strip() or None


def parse_envelope(body: bytes) -> tuple[Element | None, Element]:
    """(Header, the operation element inside Body)."""
    try:
        root = SafeET.fromstring(body)
    except Exception as e:  # defusedxml raises several types for hostile or broken XML
        raise SoapFault("INVALID_SOAP_MESSAGE", f"Unable to parse the SOAP message: {type(e).__name__}") from None
    if _local(root.tag) != "Envelope":
        raise SoapFault("INVALID_SOAP_MESSAGE", "Envelope element expected")
    header = _child(root, "Header")
    body_el = _child(root, "Body")
    if body_el is None or len(body_el) == 0:
        raise SoapFault("INVALID_SOAP_MESSAGE", "Body element with an operation expected")
    return header, body_el[0]


def operation_name(op: Element) -> str:
    return _local(op.tag)


def session_id(header: Element | None) -> str | None:
    if header is None:
        return None
    sh = _child(header, "SessionHeader")
    return _text(sh, "sessionId") if sh is not None else None


# ---- login -------------------------------------------------------------------------------------------
def check_password(org: Org, username: str | None, password: str | None, *, token_optional: bool) -> str:
    """The user id for these credentials, or INVALID_LOGIN."""
    s = org.settings
    secret = s.password.get_secret_value()
    token = s.security_token.get_secret_value()
    found = org.store.find_by("User", "Username", username) if username else []
    rec = org.store.tables["User"].get(found[0]) if found else None
    candidates = [secret + token] + ([secret] if token_optional else [])
    ok = password is not None and any(hmac.compare_digest(password, c) for c in candidates)
    if rec is None or not ok or not rec.get("IsActive"):
        raise SoapFault(
            "INVALID_LOGIN", "Invalid username, password, security token; or user locked out.", "LoginFault"
        )
    user_id: str = rec["Id"]
    return user_id


def login(org: Org, op: Element, base_url: str) -> str:
    user_id = check_password(org, _text(op, "username"), _text(op, "password"), token_optional=False)
    sid = org.sessions.issue(user_id)
    org_id = org.settings.org_id
    v = org.version
    user = org.store.tables["User"][user_id]
    return _ENVELOPE.format(
        body=(
            "<loginResponse><result>"
            f"<metadataServerUrl>{base_url}/services/Soap/m/{v}/{org_id[:15]}</metadataServerUrl>"
            "<passwordExpired>false</passwordExpired><sandbox>true</sandbox>"
            f"<serverUrl>{base_url}/services/Soap/u/{v}/{org_id[:15]}</serverUrl>"
            f"<sessionId>{escape(sid)}</sessionId><userId>{user_id}</userId>"
            f"<userInfo><organizationId>{org_id}</organizationId>"
            f"<userEmail>{escape(user.get('Email') or '')}</userEmail>"
            f"<userFullName>{escape(user.get('Name') or '')}</userFullName><userId>{user_id}</userId>"
            f"<userName>{escape(user.get('Username') or '')}</userName>"
            f"<userTimeZone>{escape(user.get('TimeZoneSidKey') or 'UTC')}</userTimeZone></userInfo>"
            "</result></loginResponse>"
        )
    )


def logout() -> str:
    """`logout`: the session in the SessionHeader is ended; the answer is an empty logoutResponse."""
    return _ENVELOPE.format(body="<logoutResponse/>")


# ---- convertLead -------------------------------------------------------------------------------------
def _bool(v: str | None) -> bool:
    return (v or "").lower() == "true"


def _quarter_end(d: date) -> date:
    q_end_month = 3 * ((d.month - 1) // 3) + 3
    nxt = date(d.year + (q_end_month == 12), 1 if q_end_month == 12 else q_end_month + 1, 1)
    return date.fromordinal(nxt.toordinal() - 1)


def convert_one(org: Org, txn: Txn, ctx: dml.DmlContext, lc: Element) -> dict[str, Any]:
    store = org.store
    schema = org.schema
    lead_id = ids.normalize(_text(lc, "leadId"))
    lead = store.tables["Lead"].get(lead_id) if lead_id and lead_id.startswith("00Q") else None
    if lead_id is None or lead is None:
        raise SalesforceError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", fields=["leadId"])
    if lead.get("IsDeleted"):
        raise SalesforceError("ENTITY_IS_DELETED", "entity is deleted", fields=[])
    if lead.get("IsConverted"):
        raise SalesforceError("CANNOT_UPDATE_CONVERTED_LEAD", "This lead was already converted.", fields=[])
    status = _text(lc, "convertedStatus")
    converted_statuses = {r["MasterLabel"] for r in store.records("LeadStatus") if r.get("IsConverted")}
    if status not in converted_statuses:
        raise SalesforceError("INVALID_STATUS", f"invalid convertedStatus: {status}", fields=["convertedStatus"])
    owner_id = _text(lc, "ownerId")
    if owner_id is not None:
        owner_id = ids.normalize(owner_id)
        if owner_id is None or not owner_id.startswith("005") or owner_id not in store.tables["User"]:
            raise SalesforceError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", fields=["ownerId"])
    elif str(lead.get("OwnerId") or "").startswith("00G"):
        raise SalesforceError(
            "INVALID_CROSS_REFERENCE_KEY",
            "Converted objects can only be owned by users.  If the lead is not owned by a user, you must specify "
            "a user for the Owner field.",
            fields=["ownerId"],
        )
    owner = owner_id or lead["OwnerId"]
    today = ctx.now.date()

    account_id = _text(lc, "accountId")
    if account_id is not None:
        account_id = ids.normalize(account_id)
        acc = store.tables["Account"].get(account_id) if account_id else None
        if acc is None or acc.get("IsDeleted"):
            raise SalesforceError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", fields=["accountId"])
    else:
        account_id = dml.create(
            txn,
            schema.objects["Account"],
            {
                "Name": lead["Company"],
                "OwnerId": owner,
                "Phone": lead.get("Phone"),
                "Website": lead.get("Website"),
                "Industry": lead.get("Industry"),
                "BillingStreet": lead.get("Street"),
                "BillingCity": lead.get("City"),
                "BillingState": lead.get("State"),
                "BillingPostalCode": lead.get("PostalCode"),
                "BillingCountry": lead.get("Country"),
                "NumberOfEmployees": lead.get("NumberOfEmployees"),
                "AnnualRevenue": lead.get("AnnualRevenue"),
                "Client_Type__c": lead.get("Client_Type__c"),
            },
            ctx,
        )
    contact_id = _text(lc, "contactId")
    if contact_id is not None:
        contact_id = ids.normalize(contact_id)
        con = store.tables["Contact"].get(contact_id) if contact_id else None
        if contact_id is None or con is None or con.get("IsDeleted"):
            raise SalesforceError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", fields=["contactId"])
        if con.get("AccountId") != account_id:
            raise SalesforceError(
                "INVALID_CROSS_REFERENCE_KEY",
                "The contact must belong to the account the lead is converted into",
                fields=["contactId"],
            )
        if _bool(_text(lc, "overwriteLeadSource")) and lead.get("LeadSource"):
            dml.update(txn, schema.objects["Contact"], contact_id, {"LeadSource": lead["LeadSource"]}, ctx)
    else:
        contact_id = dml.create(
            txn,
            schema.objects["Contact"],
            {
                "AccountId": account_id,
                "FirstName": lead.get("FirstName"),
                "LastName": lead["LastName"],
                "Salutation": lead.get("Salutation"),
                "Title": lead.get("Title"),
                "Email": lead.get("Email"),
                "Phone": lead.get("Phone"),
                "MobilePhone": lead.get("MobilePhone"),
                "MailingCity": lead.get("City"),
                "MailingCountry": lead.get("Country"),
                "LeadSource": lead.get("LeadSource"),
                "OwnerId": owner,
                "Language__c": lead.get("Language__c"),
                "HasOptedOutOfEmail": lead.get("HasOptedOutOfEmail"),
                "DoNotCall": lead.get("DoNotCall"),
            },
            ctx,
        )
    opportunity_id = None
    if not _bool(_text(lc, "doNotCreateOpportunity")):
        name = _text(lc, "opportunityName") or f"{lead['Company']}-"
        opportunity_id = dml.create(
            txn,
            schema.objects["Opportunity"],
            {
                "Name": name[:120],
                "AccountId": account_id,
                "StageName": "Prospecting",
                "CloseDate": _quarter_end(today).isoformat(),
                "LeadSource": lead.get("LeadSource"),
                "OwnerId": owner,
            },
            ctx,
        )
    # Open activities on the lead follow it to the contact.
    task_obj = schema.objects["Task"]
    for task in list(store.records("Task")):
        if task.get("WhoId") == lead_id:
            changes: dict[str, Any] = {"WhoId": contact_id}
            if task.get("WhatId") is None:
                changes["WhatId"] = opportunity_id or account_id
            dml.update(txn, task_obj, task["Id"], changes, ctx)
    system = dml.DmlContext(**{**ctx.__dict__, "system_mode": True})
    lead_changes: dict[str, Any] = {
        "IsConverted": True,
        "ConvertedDate": today.isoformat(),
        "ConvertedAccountId": account_id,
        "ConvertedContactId": contact_id,
        "ConvertedOpportunityId": opportunity_id,
        "Status": status,
    }
    if owner_id:
        lead_changes["OwnerId"] = owner_id
    dml.update(txn, schema.objects["Lead"], lead_id, lead_changes, system)
    return {
        "accountId": account_id,
        "contactId": contact_id,
        "leadId": lead_id,
        "opportunityId": opportunity_id,
        "success": True,
    }


def convert_lead(org: Org, op: Element, user_id: str) -> str:
    converts = [c for c in op if _local(c.tag) == "leadConverts"]
    if not converts:
        raise SoapFault("INVALID_FIELD", "leadConverts is required", "InvalidFieldFault")
    if len(converts) > 100:
        raise SoapFault("LIMIT_EXCEEDED", "Too many leadConverts: at most 100 per call")
    results = []
    txn = org.store.begin()
    ctx = org.dml_context(user_id)
    try:
        for lc in converts:
            mark = txn.savepoint()
            try:
                results.append(convert_one(org, txn, ctx, lc))
            except SalesforceError as e:
                txn.rollback_to(mark)
                raw_id = _text(lc, "leadId")
                results.append({"leadId": ids.normalize(raw_id) or raw_id, "success": False, "error": e})
    except BaseException:
        txn.rollback()
        raise
    txn.commit()
    return _ENVELOPE.format(
        body="<convertLeadResponse>" + "".join(_result_xml(r) for r in results) + "</convertLeadResponse>"
    )


def _result_xml(r: dict[str, Any]) -> str:
    def el(name: str, value: Any) -> str:
        if value is None:
            return f'<{name} xsi:nil="true"/>'
        return f"<{name}>{escape(str(value))}</{name}>"

    parts = [el("accountId", r.get("accountId")), el("contactId", r.get("contactId"))]
    if not r["success"]:
        e: SalesforceError = r["error"]
        fields = "".join(f"<fields>{escape(f)}</fields>" for f in (e.fields or []))
        parts.append(
            f"<errors>{fields}<message>{escape(e.message)}</message><statusCode>{e.code}</statusCode></errors>"
        )
    parts += [
        el("leadId", r.get("leadId")),
        el("opportunityId", r.get("opportunityId")),
        el("success", "true" if r["success"] else "false"),
    ]
    return "<result>" + "".join(parts) + "</result>"
