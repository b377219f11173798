"""The crm-sync policy file (versioned YAML), validated by pydantic with errors that name the bad field."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from leadflow_contracts import ClientType, CustomAnswersConfig, LeadSourceKind, SlaEventKind
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

LEAD_SOURCE_VALUES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")
CLIENT_TYPE_VALUES = ("Key Account", "Existing Customer", "New", "Regional", "Retail", "Dormant")
SLA_STATUS_VALUES = ("On Track", "Warning", "Breached", "Met")
TASK_PRIORITIES = ("High", "Normal", "Low")


class WriteKind(StrEnum):
    """What a Salesforce write is for; the budget policy decides which ones are critical."""

    NEW_LEAD = "new_lead"
    OWNER_CHANGE = "owner_change"
    LEAD_UPDATE = "lead_update"
    CALLBACK_TASK = "callback_task"
    INQUIRY_TASK = "inquiry_task"
    SLA_BREACH = "sla_breach"
    SLA_STATUS = "sla_status"
    REMINDER_TASK = "reminder_task"
    ESCALATION_TASK = "escalation_task"
    CONVERSION = "conversion"


class PolicyError(ValueError):
    """The policy file is invalid; the message names the field."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LeadPolicy(_Model):
    new_status: str = "Open - Not Contacted"
    missing_company: str = Field(default="[not provided]", min_length=1, max_length=255)
    missing_last_name: str = Field(default="[not provided]", min_length=1, max_length=80)
    score_reasons_max: int = Field(default=10, ge=0, le=100)
    lead_sources: dict[LeadSourceKind, str]
    client_types: dict[ClientType, str]
    sla_status: dict[SlaEventKind, str]

    @model_validator(mode="after")
    def _values(self) -> LeadPolicy:
        _complete("lead_sources", self.lead_sources, list(LeadSourceKind))
        _allowed("lead_sources", self.lead_sources, LEAD_SOURCE_VALUES, "a LeadSource picklist value")
        _complete("client_types", self.client_types, list(ClientType))
        _allowed("client_types", self.client_types, CLIENT_TYPE_VALUES, "a Client_Type__c picklist value")
        _allowed("sla_status", self.sla_status, SLA_STATUS_VALUES, "an SLA_Status__c value")
        return self


def _complete(name: str, mapping: Mapping[Any, str], keys: list[Any]) -> None:
    for key in keys:
        if key not in mapping:
            raise ValueError(f"{name}: missing a mapping for {key.value!r}")


def _allowed(name: str, mapping: Mapping[Any, str], values: Collection[str], what: str) -> None:
    for key, value in mapping.items():
        if value not in values:
            raise ValueError(f"{name}.{key.value}: {value!r} is not {what}")


class TaskTemplate(_Model):
    subject: str = Field(min_length=1, max_length=255)
    priority: str = "Normal"
    reminder_minutes_before: int = Field(default=0, ge=0, le=24 * 60)

    @model_validator(mode="after")
    def _priority(self) -> TaskTemplate:
        if self.priority not in TASK_PRIORITIES:
            raise ValueError(f"priority: {self.priority!r} must be one of {', '.join(TASK_PRIORITIES)}")
        return self


class TaskPolicy(_Model):
    callback: TaskTemplate
    inquiry: TaskTemplate
    sla_warning: TaskTemplate
    escalation: TaskTemplate


class BudgetPolicy(_Model):
    reserve_requests: int = Field(default=500, ge=0)
    reserve_fraction: float = Field(default=0.05, ge=0, le=1)
    critical: frozenset[WriteKind] = frozenset()


class ConversionPolicy(_Model):
    qualified_statuses: tuple[str, ...] = ("Qualified",)
    converted_status: str = "Closed - Converted"
    create_opportunity: bool = True
    opportunity_stage: str = "Qualification"
    close_days: int = Field(default=30, ge=0, le=3650)
    opportunity_name: str = "{company} - {campaign}"
    opportunity_types: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _template(self) -> ConversionPolicy:
        try:
            self.opportunity_name.format(company="c", campaign="x", source="s", lead_id="l")
        except (KeyError, IndexError, ValueError) as e:
            raise ValueError(f"opportunity_name: bad template placeholder {e}") from None
        if not self.qualified_statuses:
            raise ValueError("qualified_statuses: at least one status is needed")
        return self


class SyncPolicy(_Model):
    version: str = Field(min_length=1)
    lead: LeadPolicy
    tasks: TaskPolicy
    budget: BudgetPolicy = BudgetPolicy()
    conversion: ConversionPolicy = ConversionPolicy()
    custom_answers: CustomAnswersConfig | None = Field(
        default=None,
        description="The org's declared custom form answers (deploy/custom-answers.yaml): each answer with a "
        "salesforce_field is written to that Lead field.",
    )

    def with_custom_answers(self, config: CustomAnswersConfig | None) -> SyncPolicy:
        return self.model_copy(update={"custom_answers": config})


def _format_error(source: str, err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "(root)"
        lines.append(f"{where}: {e['msg']}")
    return f"invalid crm-sync policy {source}: " + "; ".join(lines)


def parse_policy(raw: Any, source: str = "<policy>") -> SyncPolicy:
    try:
        return SyncPolicy.model_validate(raw)
    except ValidationError as e:
        raise PolicyError(_format_error(source, e)) from None


def load_custom_answers_file(path: Path) -> CustomAnswersConfig:
    """The custom-answers YAML (CRMSYNC_CUSTOM_ANSWERS_FILE) → config; errors name the file and key."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise PolicyError(f"custom answers file {path}: cannot read ({e.strerror or e})") from None
    except yaml.YAMLError as e:
        raise PolicyError(f"custom answers file {path}: not YAML ({e})") from None
    try:
        return CustomAnswersConfig.model_validate(raw)
    except ValidationError as e:
        raise PolicyError(_format_error(f"custom answers file {path}", e)) from None


def load_policy(path: Path | None = None) -> SyncPolicy:
    """The policy from ``path``, or the bundled default."""
    if path is None:
        text = resources.files("leadflow_crm_sync").joinpath("policy.yaml").read_text(encoding="utf-8")
        source = "policy.yaml (bundled)"
    else:
        text = Path(path).read_text(encoding="utf-8")
        source = str(path)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise PolicyError(f"invalid crm-sync policy {source}: not YAML ({e})") from None
    return parse_policy(raw, source)
