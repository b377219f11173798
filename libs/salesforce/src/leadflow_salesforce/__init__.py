"""Leadflow's Salesforce client factory: simple-salesforce over a verified TLS session, plus lead conversion."""

from leadflow_salesforce.client import SalesforceSettings, build_session, connect
from leadflow_salesforce.convert import (
    ConvertLeadFault,
    LeadConvert,
    LeadConvertError,
    LeadConvertResult,
    convert_leads,
)

__all__ = [
    "ConvertLeadFault",
    "LeadConvert",
    "LeadConvertError",
    "LeadConvertResult",
    "SalesforceSettings",
    "build_session",
    "connect",
    "convert_leads",
]
