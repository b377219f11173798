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
from leadflow_contracts.custom_answers import CustomAnswersConfig
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from leadflow_model.leakage import LeakageError, check_columns, check_lead_fields

ColumnType = Literal["string", "number", "boolean", "country"]

# Where a live lead's value for a Lead field comes from. Each name is one reader in
# ``leadflow_model.intake.LIVE_SOURCES``; ``answer:<key>`` reads a declared custom form answer.
# Both paths (the CSV/Salesforce history and the live event) then go through the same conversion
# (``convert_value``: missing values, value table, typing), so they give identical feature rows.
LIVE_SOURCE_DOCS: dict[str, str] = {
    "lead_source_kind": "lead.lead_source (web_form, ad_platform, …) through the column's value table",
    "utm_source": "lead.source.campaign.utm_source through the column's value table (no fallback)",
    "do_not_email": "lead.do_not_email",
    "do_not_call": "lead.do_not_call",
    "visits": "lead.engagement.visits (None = unknown)",
    "time_on_site": "lead.engagement.time_on_site_seconds (None = unknown)",
    "page_views_per_visit": "lead.engagement.page_views / visits, 2 decimals (0 without visits; None = unknown)",
    "content_downloads": "lead.engagement.content_downloads",
    "country": "lead.country (ISO 3166-1 alpha-2)",
    "industry": "lead.industry",
    "occupation": 'lead.job_title through intake.title_rules (a title no rule matches → "unknown")',
    "city": "lead.city",
    "employees": "lead.employees",
}
ANSWER_PREFIX = "answer:"

# The default live source of each Lead field (a column may name its own with ``live``).
DEFAULT_LIVE: dict[str, str] = {
    "Lead_Origin__c": "lead_source_kind",
    "LeadSource": "utm_source",
    "HasOptedOutOfEmail": "do_not_email",
    "DoNotCall": "do_not_call",
    "Web_Visits__c": "visits",
    "Web_Time_On_Site__c": "time_on_site",
    "Web_Page_Views_Per_Visit__c": "page_views_per_visit",
    "Content_Downloads__c": "content_downloads",
    "Country": "country",
    "Industry": "industry",
    "Title": "occupation",
    "City": "city",
    "NumberOfEmployees": "employees",
}
# Kept for callers that list the usable Lead fields: field → where a live lead's value comes from.
INTAKE_FIELDS: dict[str, str] = {f: LIVE_SOURCE_DOCS[src] for f, src in DEFAULT_LIVE.items()}
OCCUPATION_UNKNOWN = "unknown"


class MappingError(ValueError):
    """The mapping file is invalid; the message names the field or column."""


class ColumnMap(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str = Field(
        pattern=r"^[A-Za-z][A-Za-z0-9_]*$", description="Salesforce Lead field (API name) the column is loaded into."
    )
    type: ColumnType = "string"
    true_values: tuple[str, ...] = ("Yes", "yes", "true", "True", "1")
    values: dict[str, Any] = Field(
        default_factory=dict,
        description="Value translation applied before typing, on both paths (keys compared case-insensitively): "
        "export spellings and live values (utm_source, lead-source kind) → the history's value.",
    )
    live: tuple[str, ...] = Field(
        default=(),
        description="Live sources tried in order (first non-missing wins): names of LIVE_SOURCE_DOCS or "
        "answer:<key>. Empty = the field's default source (DEFAULT_LIVE).",
    )

    @field_validator("live", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return (v,) if isinstance(v, str) else v

    def live_sources(self) -> tuple[str, ...]:
        if self.live:
            return self.live
        default = DEFAULT_LIVE.get(self.field)
        return (default,) if default else ()

    def describe_live(self) -> str:
        parts = []
        for src in self.live_sources():
            if src.startswith(ANSWER_PREFIX):
                parts.append(f"custom answer `{src[len(ANSWER_PREFIX) :]}` (LeadSubmitted.custom_answers)")
            else:
                parts.append(LIVE_SOURCE_DOCS.get(src, src))
        return ", else ".join(parts) or "–"


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
    title_default: str | None = Field(
        default=None, description=f'Value for a non-empty job title no rule matched (default "{OCCUPATION_UNKNOWN}").'
    )


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
    custom_answers: CustomAnswersConfig | None = Field(
        default=None, description="The org's declared custom form answers (a path in the YAML file, resolved on load)."
    )

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
        for col, c in self.columns.items():
            sources = c.live_sources()
            if not sources:
                raise ValueError(
                    f"columns: {col!r} → {c.field} cannot be derived from a live lead at scoring time (train/serve "
                    f"skew); give it a live source ({sorted(LIVE_SOURCE_DOCS)} or answer:<key>) or leave it out; "
                    f"fields with a default source: {sorted(DEFAULT_LIVE)}"
                )
            for src in sources:
                if src.startswith(ANSWER_PREFIX):
                    self._check_answer(col, c, src[len(ANSWER_PREFIX) :])
                elif src not in LIVE_SOURCE_DOCS:
                    raise ValueError(
                        f"columns: {col!r}: unknown live source {src!r}; known: {sorted(LIVE_SOURCE_DOCS)}"
                    )
        if self.outcome.column in self.columns:
            raise ValueError(f"columns: the outcome column {self.outcome.column!r} cannot be a feature")
        return self

    def _check_answer(self, col: str, c: ColumnMap, key: str) -> None:
        declared = self.custom_answers.answers if self.custom_answers else {}
        spec = declared.get(key)
        if spec is None:
            raise ValueError(
                f"columns: {col!r} reads custom answer {key!r}, which is not declared in custom_answers "
                f"(declared: {sorted(declared)})"
            )
        if not spec.intake_time:
            raise LeakageError(
                f"answer:{key}", "the custom answer is not known at intake (intake_time: false)", f"column {col!r}"
            )
        if spec.salesforce_field and spec.salesforce_field != c.field and len(c.live_sources()) == 1:
            raise ValueError(
                f"columns: {col!r} → {c.field}, but custom answer {key!r} is written to {spec.salesforce_field}; "
                "history and live leads must use the same field"
            )

    @property
    def fields(self) -> list[str]:
        return [c.field for c in self.columns.values()]

    def field_types(self) -> dict[str, ColumnType]:
        return {c.field: c.type for c in self.columns.values()}


def parse_mapping(data: Any, *, source: str = "<mapping>", base_dir: str | Path | None = None) -> Mapping:
    """``base_dir``: where a ``custom_answers: <path>`` is resolved from (the mapping file's folder)."""
    if isinstance(data, dict) and isinstance(data.get("custom_answers"), str):
        ref = Path(data["custom_answers"])
        if not ref.is_absolute():
            if base_dir is None:
                raise MappingError(f"{source}: custom_answers: a relative path needs the mapping file's folder")
            ref = Path(base_dir) / ref
        data = {**data, "custom_answers": load_custom_answers(ref)}
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


def _read_yaml(p: Path, what: str) -> Any:
    try:
        return yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise MappingError(f"{p}: cannot read {what} ({e.strerror or e})") from None
    except yaml.YAMLError as e:
        raise MappingError(f"{p}: not valid YAML ({e})") from None


def load_custom_answers(path: str | Path) -> CustomAnswersConfig:
    """The custom-answers YAML (deploy/custom-answers.yaml) → config; errors name the file and key."""
    p = Path(path)
    data = _read_yaml(p, "custom answers file")
    try:
        return CustomAnswersConfig.model_validate(data)
    except ValidationError as e:
        parts = [f"{'.'.join(str(x) for x in err['loc']) or '(root)'}: {err['msg']}" for err in e.errors()]
        raise MappingError(f"{p}: " + "; ".join(parts)) from None


def load_mapping(path: str | Path) -> Mapping:
    p = Path(path)
    data = _read_yaml(p, "mapping file")
    return parse_mapping(data, source=str(p), base_dir=p.parent)
