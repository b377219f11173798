"""The history mapping file: how an export's columns become Salesforce Lead fields, and how a live
``LeadEnriched`` becomes the same fields (so training and scoring see one feature space).

Loaded from versioned YAML, validated by pydantic; every error names the bad field or column. The
leakage guard runs on load: a column or Lead field that is filled after contact is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from leadflow_model.leakage import LeakageError, check_columns, check_lead_fields

ColumnType = Literal["string", "number", "boolean", "country"]

# Lead fields the intake extractor (leadflow_model.intake) can fill from a LeadEnriched event.
# A model may only use these: anything else would be missing at scoring time (train/serve skew).
INTAKE_FIELDS: dict[str, str] = {
    "Lead_Origin__c": "lead.lead_source (kind) through intake.origin_by_lead_source",
    "LeadSource": "lead.source.campaign.utm_source (else lead.source.system) through intake.lead_source_values",
    "HasOptedOutOfEmail": "lead.do_not_email",
    "DoNotCall": "lead.do_not_call",
    "Web_Visits__c": "lead.engagement.visits",
    "Web_Time_On_Site__c": "lead.engagement.time_on_site_seconds",
    "Web_Page_Views_Per_Visit__c": "lead.engagement.page_views / lead.engagement.visits (0 without visits)",
    "Content_Downloads__c": "lead.engagement.content_downloads",
    "Country": "lead.country (ISO 3166-1 alpha-2), else enrichment.firmographics.country",
    "Industry": "lead.industry, else enrichment.firmographics.industry",
    "Title": "lead.job_title through intake.title_rules (occupation)",
    "City": "lead.city",
    "NumberOfEmployees": "lead.employees, else enrichment.firmographics.employees",
}


class MappingError(ValueError):
    """The mapping file is invalid; the message names the field or column."""


class ColumnMap(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str = Field(
        pattern=r"^[A-Za-z][A-Za-z0-9_]*$", description="Salesforce Lead field (API name) the column is loaded into."
    )
    type: ColumnType = "string"
    true_values: tuple[str, ...] = ("Yes", "yes", "true", "True", "1")
    values: dict[str, Any] = Field(default_factory=dict, description="Value translation applied before typing.")


class Outcome(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str
    positive: tuple[str, ...] = ("1",)


class History(BaseModel):
    """The export has no dates: CreatedDate is laid out in the order of ``order_column`` (creation order)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: datetime = datetime(2023, 1, 2, 8, 0, tzinfo=UTC)
    step_minutes: float = Field(default=120, gt=0)
    lost_status: str = "Closed - Not Converted"
    converted_status: str = "Closed - Converted"

    @field_validator("start")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("history.start must carry a time zone (e.g. 2023-01-02T08:00:00Z)")
        return v.astimezone(UTC)


class TitleRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    contains: tuple[str, ...]
    value: str


class IntakeMap(BaseModel):
    """How a live LeadEnriched maps onto the same Lead fields (see INTAKE_FIELDS)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    origin_by_lead_source: dict[str, str] = Field(default_factory=dict)
    lead_source_values: dict[str, str] = Field(
        default_factory=dict, description="utm_source / source system (lower case) → LeadSource value"
    )
    title_rules: tuple[TitleRule, ...] = ()
    title_default: str | None = Field(default=None, description="Value for a non-empty job title no rule matched.")


class Mapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(ge=1)
    name: str = Field(min_length=1)
    description: str = ""
    id_column: str
    order_column: str | None = None
    outcome: Outcome
    history: History = Field(default_factory=History)
    missing_values: tuple[str, ...] = ("",)
    columns: dict[str, ColumnMap]
    ignored: dict[str, str] = Field(default_factory=dict, description="Columns deliberately not used, and why.")
    intake: IntakeMap = Field(default_factory=IntakeMap)

    @model_validator(mode="after")
    def _check(self) -> Mapping:
        if not self.columns:
            raise ValueError("columns: at least one feature column is needed")
        check_columns(self.columns, where="mapping columns")
        check_lead_fields([c.field for c in self.columns.values()], where="mapping target fields")
        fields = [c.field for c in self.columns.values()]
        dup = {f for f in fields if fields.count(f) > 1}
        if dup:
            raise ValueError(f"columns: Lead field(s) {sorted(dup)} mapped from more than one column")
        skew = [f"{col} → {c.field}" for col, c in self.columns.items() if c.field not in INTAKE_FIELDS]
        if skew:
            raise ValueError(
                f"columns: {skew} cannot be derived from a LeadEnriched event at scoring time; "
                f"usable Lead fields: {sorted(INTAKE_FIELDS)}"
            )
        if self.outcome.column in self.columns:
            raise ValueError(f"columns: the outcome column {self.outcome.column!r} cannot be a feature")
        return self

    @property
    def fields(self) -> list[str]:
        return [c.field for c in self.columns.values()]

    def field_types(self) -> dict[str, ColumnType]:
        return {c.field: c.type for c in self.columns.values()}


def parse_mapping(data: Any, *, source: str = "<mapping>") -> Mapping:
    try:
        return Mapping.model_validate(data)
    except LeakageError:
        raise
    except ValidationError as e:
        for err in e.errors():
            ctx = err.get("ctx") or {}
            if isinstance(ctx.get("error"), LeakageError):
                raise ctx["error"] from None
        parts = [f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in e.errors()]
        raise MappingError(f"{source}: " + "; ".join(parts)) from None


def load_mapping(path: str | Path) -> Mapping:
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise MappingError(f"{p}: cannot read mapping file ({e.strerror})") from None
    except yaml.YAMLError as e:
        raise MappingError(f"{p}: not valid YAML ({e})") from None
    return parse_mapping(data, source=str(p))
