"""Custom form answers: the org's own intake questions ("what is your specialisation?", "how did you hear
of us?"), declared once in configuration and shared by intake (validation), crm-sync (Salesforce custom
fields) and predictive scoring (intake-time features).

``LeadSubmitted.custom_answers`` is a bounded map ``key → value``. Every key must be declared in a
``CustomAnswersConfig`` (type, allowed values, target Salesforce field, whether it is known at intake).
Pure data and pure checks: loading the YAML file is the caller's business.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

MAX_CUSTOM_ANSWERS = 50
MAX_ANSWER_LENGTH = 255
ANSWER_KEY_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"

AnswerKey = Annotated[str, StringConstraints(pattern=ANSWER_KEY_PATTERN)]
# bool before float: pydantic's smart union keeps ``true`` a bool and ``3`` a number.
AnswerValue = bool | float | Annotated[str, StringConstraints(max_length=MAX_ANSWER_LENGTH)]
CustomAnswers = Annotated[
    dict[AnswerKey, AnswerValue],
    Field(
        max_length=MAX_CUSTOM_ANSWERS,
        description="Answers to the org's own form questions, keyed as declared in the custom-answers "
        f"configuration (at most {MAX_CUSTOM_ANSWERS} keys, values up to {MAX_ANSWER_LENGTH} characters).",
    ),
]

AnswerType = Literal["choice", "text", "number", "boolean"]
_SF_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,36}__c$")


class CustomAnswerSpec(BaseModel):
    """One declared question."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: AnswerType = "choice"
    label: str = Field(min_length=1, max_length=40, description="Question / Salesforce field label.")
    values: tuple[str, ...] = Field(default=(), description="Allowed values (choice): the form's options.")
    salesforce_field: str | None = Field(
        default=None, description="Lead custom field the answer is written to (e.g. Specialization__c)."
    )
    max_length: int = Field(default=MAX_ANSWER_LENGTH, ge=1, le=MAX_ANSWER_LENGTH)
    minimum: float | None = None
    maximum: float | None = None
    intake_time: bool = Field(
        default=True, description="Known when the lead arrives: may be a model feature (never post-contact)."
    )

    @model_validator(mode="after")
    def _check(self) -> CustomAnswerSpec:
        if self.type == "choice" and not self.values:
            raise ValueError("a choice needs its allowed values")
        if self.type != "choice" and self.values:
            raise ValueError(f"values are only for type choice, not {self.type}")
        if len(set(v.lower() for v in self.values)) != len(self.values):
            raise ValueError("values must be distinct (case-insensitively)")
        if self.salesforce_field is not None and not _SF_FIELD.match(self.salesforce_field):
            raise ValueError(f"salesforce_field {self.salesforce_field!r} is not a custom field API name (X__c)")
        return self

    def check(self, value: bool | float | str) -> bool | float | str:
        """The canonical value (a choice in its declared spelling), or ValueError naming what is allowed."""
        if self.type == "choice":
            text = str(value).strip()
            for allowed in self.values:
                if allowed.lower() == text.lower():
                    return allowed
            raise ValueError(f"{text[:60]!r} is not one of {list(self.values)}")
        if self.type == "text":
            if isinstance(value, bool):
                raise ValueError("expected text, got a boolean")
            text = str(value).strip()
            if len(text) > self.max_length:
                raise ValueError(f"longer than {self.max_length} characters")
            return text
        if self.type == "boolean":
            if isinstance(value, bool):
                return value
            low = str(value).strip().lower()
            if low in ("true", "yes", "1"):
                return True
            if low in ("false", "no", "0"):
                return False
            raise ValueError(f"{str(value)[:60]!r} is not yes/no")
        if isinstance(value, bool):
            raise ValueError("expected a number, got a boolean")
        try:
            num = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{str(value)[:60]!r} is not a number") from None
        if math.isnan(num) or math.isinf(num):
            raise ValueError("not a finite number")
        if self.minimum is not None and num < self.minimum:
            raise ValueError(f"{num:g} is below the minimum {self.minimum:g}")
        if self.maximum is not None and num > self.maximum:
            raise ValueError(f"{num:g} is above the maximum {self.maximum:g}")
        return num


class AnswerProblem(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    problem: str

    @property
    def field(self) -> str:
        return f"custom_answers.{self.key}"


class CustomAnswersConfig(BaseModel):
    """The org's declared questions (``deploy/custom-answers.yaml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(default=1, ge=1)
    on_invalid: Literal["drop", "reject"] = Field(
        default="drop",
        description="drop: the lead is accepted without that answer and the trace says why; "
        "reject: the whole lead goes to leads.rejected naming the answer.",
    )
    answers: dict[AnswerKey, CustomAnswerSpec] = Field(default_factory=dict, max_length=MAX_CUSTOM_ANSWERS)

    @model_validator(mode="after")
    def _unique_fields(self) -> CustomAnswersConfig:
        fields = [s.salesforce_field for s in self.answers.values() if s.salesforce_field]
        dup = sorted({f for f in fields if fields.count(f) > 1})
        if dup:
            raise ValueError(f"salesforce_field(s) {dup} used by more than one answer")
        return self

    def validate_answers(
        self, answers: dict[str, bool | float | str]
    ) -> tuple[dict[str, bool | float | str], tuple[AnswerProblem, ...]]:
        """(accepted answers in canonical form, problems). Undeclared keys and disallowed values are problems;
        blank answers are simply "not answered" and dropped silently."""
        ok: dict[str, bool | float | str] = {}
        problems: list[AnswerProblem] = []
        for key, value in answers.items():
            spec = self.answers.get(key)
            if spec is None:
                problems.append(AnswerProblem(key=key, problem="not a declared custom answer"))
                continue
            if isinstance(value, str) and not value.strip():
                continue
            try:
                ok[key] = spec.check(value)
            except ValueError as e:
                problems.append(AnswerProblem(key=key, problem=str(e)))
        return ok, tuple(problems)

    def salesforce_fields(self, answers: dict[str, bool | float | str]) -> dict[str, bool | float | str]:
        """Answers → Lead custom field values (only answers that have a field)."""
        out: dict[str, bool | float | str] = {}
        for key, value in answers.items():
            spec = self.answers.get(key)
            if spec is not None and spec.salesforce_field:
                out[spec.salesforce_field] = value
        return out


def salesforce_field_definitions(config: CustomAnswersConfig) -> list[dict[str, object]]:
    """The Lead custom fields the answers are written to, in the emulator schema's format (sobjects.json):
    a choice is an unrestricted picklist of its values, text a string, a number a double, yes/no a checkbox."""
    out: list[dict[str, object]] = []
    for spec in config.answers.values():
        if not spec.salesforce_field:
            continue
        f: dict[str, object] = {"name": spec.salesforce_field, "label": spec.label}
        if spec.type == "choice":
            f.update(type="picklist", values=list(spec.values), restricted=False)
        elif spec.type == "text":
            f.update(type="string", length=spec.max_length)
        elif spec.type == "number":
            f.update(type="double", precision=18, scale=2)
        else:
            f.update(type="boolean", default=False)
        out.append(f)
    return out
