"""SOAP `convertLead` through the client's own session (simple-salesforce has no helper for it)."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeET
from pydantic import BaseModel, ConfigDict, Field
from simple_salesforce.api import Salesforce

_XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"


class LeadConvert(BaseModel):
    model_config = ConfigDict(frozen=True)

    lead_id: str
    converted_status: str = "Closed - Converted"
    account_id: str | None = None
    contact_id: str | None = None
    owner_id: str | None = None
    do_not_create_opportunity: bool = False
    opportunity_name: str | None = None
    overwrite_lead_source: bool = False
    send_notification_email: bool = False


class LeadConvertError(BaseModel):
    status_code: str
    message: str
    fields: list[str] = Field(default_factory=list)


class LeadConvertResult(BaseModel):
    lead_id: str | None
    success: bool
    account_id: str | None = None
    contact_id: str | None = None
    opportunity_id: str | None = None
    errors: list[LeadConvertError] = Field(default_factory=list)


class ConvertLeadFault(Exception):
    """A SOAP fault for the whole call (bad session after re-login, limits, malformed request)."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def _el(name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<urn:{name}>{escape(str(value))}</urn:{name}>"


def _envelope(session_id: str, converts: list[LeadConvert]) -> str:
    items = "".join(
        "<urn:leadConverts>"
        + _el("accountId", c.account_id)
        + _el("contactId", c.contact_id)
        + _el("convertedStatus", c.converted_status)
        + _el("doNotCreateOpportunity", c.do_not_create_opportunity)
        + _el("leadId", c.lead_id)
        + _el("opportunityName", c.opportunity_name)
        + _el("overwriteLeadSource", c.overwrite_lead_source)
        + _el("ownerId", c.owner_id)
        + _el("sendNotificationEmail", c.send_notification_email)
        + "</urn:leadConverts>"
        for c in converts
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope '
        'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com">'
        f"<soapenv:Header><urn:SessionHeader><urn:sessionId>{escape(session_id)}</urn:sessionId>"
        "</urn:SessionHeader></soapenv:Header>"
        f"<soapenv:Body><urn:convertLead>{items}</urn:convertLead></soapenv:Body></soapenv:Envelope>"
    )


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find_all(el: Any, name: str) -> list[Any]:
    return [e for e in el.iter() if _local(e.tag) == name]


def _text(el: Any, name: str) -> str | None:
    for c in el:
        if _local(c.tag) == name:
            if c.get(_XSI_NIL) == "true":
                return None
            return (c.text or "").strip() or None
    return None


def _fault(content: bytes, status: int) -> ConvertLeadFault:
    try:
        root = SafeET.fromstring(content)
        code = next((e.text for e in root.iter() if _local(e.tag) == "exceptionCode"), None)
        msg = next((e.text for e in root.iter() if _local(e.tag) == "exceptionMessage"), None)
        if code is None:
            fc = next((e.text for e in root.iter() if _local(e.tag) == "faultcode"), "") or ""
            code = fc.split(":")[-1] or "UNKNOWN_EXCEPTION"
            msg = next((e.text for e in root.iter() if _local(e.tag) == "faultstring"), "")
        return ConvertLeadFault(code, msg or "", status)
    except Exception:
        return ConvertLeadFault("UNKNOWN_EXCEPTION", content[:500].decode("utf-8", "replace"), status)


def convert_leads(sf: Salesforce, converts: list[LeadConvert]) -> list[LeadConvertResult]:
    """Convert up to 100 leads in one SOAP call; one result per request, in order.

    On INVALID_SESSION_ID the client logs in again (password/OAuth modes) and retries once.
    """
    if not converts:
        return []
    if len(converts) > 100:
        raise ValueError("convertLead takes at most 100 leads per call")
    url = f"https://{sf.sf_instance}/services/Soap/u/{sf.sf_version}"
    headers = {"Content-Type": "text/xml; charset=UTF-8", "SOAPAction": "convertLead"}
    for attempt in range(2):
        resp = sf.session.post(url, data=_envelope(sf.session_id, converts).encode("utf-8"), headers=headers)
        if resp.status_code == 200:
            break
        fault = _fault(resp.content, resp.status_code)
        if fault.code == "INVALID_SESSION_ID" and attempt == 0 and getattr(sf, "_salesforce_login_partial", None):
            sf._refresh_session()
            continue
        raise fault
    root = SafeET.fromstring(resp.content)
    results = []
    for r in _find_all(root, "result"):
        errors = [
            LeadConvertError(
                status_code=_text(e, "statusCode") or "UNKNOWN_EXCEPTION",
                message=_text(e, "message") or "",
                fields=[(f.text or "") for f in e if _local(f.tag) == "fields"],
            )
            for e in r
            if _local(e.tag) == "errors"
        ]
        results.append(
            LeadConvertResult(
                lead_id=_text(r, "leadId"),
                success=_text(r, "success") == "true",
                account_id=_text(r, "accountId"),
                contact_id=_text(r, "contactId"),
                opportunity_id=_text(r, "opportunityId"),
                errors=errors,
            )
        )
    return results
