"""Leadflow's Salesforce client factory: simple-salesforce over a verified TLS session, plus lead conversion."""

from leadflow_salesforce.client import SalesforceSettings, build_session, connect
from leadflow_salesforce.convert import (
    ConvertLeadFault,
    LeadConvert,
    LeadConvertError,
    LeadConvertResult,
    convert_leads,
)
from leadflow_salesforce.limits import ApiUsage, parse_limit_info

__all__ = [
    "ApiUsage",
    "ConvertLeadFault",
    "LeadConvert",
    "LeadConvertError",
    "LeadConvertResult",
    "SalesforceSettings",
    "build_session",
    "connect",
    "convert_leads",
    "parse_limit_info",
]
