"""Lead records (Salesforce Lead fields) → a numeric matrix, the same way at training and at scoring.

Categorical fields become integer codes (a learned vocabulary; rare values share an "other" code; missing
stays NaN so the model learns what "not answered" means). Numbers stay numbers. A few derived features are
computed from intake-time fields only (time per visit, total page views, how many profile questions the
prospect answered). Every column belongs to a *group* named after its source field: explanations ablate a
whole group at once.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from leadflow_model.mapping import ColumnType

OTHER = "__other__"

# Derived features: name → (group, source fields). Computed only when the source fields are mapped.
_DERIVED: dict[str, tuple[str, tuple[str, ...]]] = {
    "time_per_visit": ("Web_Time_On_Site__c", ("Web_Time_On_Site__c", "Web_Visits__c")),
    "page_views_total": ("Web_Page_Views_Per_Visit__c", ("Web_Page_Views_Per_Visit__c", "Web_Visits__c")),
    "profile_answers": ("profile", ("Title", "Industry", "Country")),
}
_PROFILE_FIELDS = ("Title", "Industry", "Country")


class FeatureSpec(BaseModel):
    """What the model was trained on: fields, their kinds, category vocabularies, derived columns."""

    model_config = ConfigDict(frozen=True)

    fields: tuple[str, ...]
    kinds: dict[str, ColumnType]
    vocab: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    derived: tuple[str, ...] = ()
    profile_fields: tuple[str, ...] = _PROFILE_FIELDS

    @property
    def columns(self) -> list[str]:
        return [*self.fields, *self.derived]

    @property
    def categorical_mask(self) -> list[bool]:
        return [self.kinds.get(c) in ("string", "country") for c in self.fields] + [False] * len(self.derived)

    def groups(self) -> dict[str, list[int]]:
        """Group name → column indexes (a field and the derived columns that come from it)."""
        out: dict[str, list[int]] = {}
        for i, f in enumerate(self.fields):
            out.setdefault(f, []).append(i)
        for j, d in enumerate(self.derived):
            group = _DERIVED[d][0]
            out.setdefault(group, []).append(len(self.fields) + j)
        return out

    def category(self, field: str, code: float) -> str | None:
        if math.isnan(code):
            return None
        vocab = self.vocab.get(field, ())
        i = int(code)
        return vocab[i] if i < len(vocab) else OTHER


def fit_spec(
    records: Sequence[dict[str, Any]],
    kinds: dict[str, ColumnType],
    *,
    min_count: int = 5,
    profile_fields: Sequence[str] | None = None,
) -> FeatureSpec:
    """``profile_fields``: the form's profile questions (occupation, specialisation, country, custom answers)
    whose answered count is a derived feature."""
    fields = tuple(kinds)
    profile = tuple(f for f in (profile_fields if profile_fields is not None else _PROFILE_FIELDS) if f in kinds)
    vocab: dict[str, tuple[str, ...]] = {}
    for f in fields:
        if kinds[f] in ("string", "country"):
            counts = Counter(str(r.get(f)) for r in records if r.get(f) is not None)
            keep = [v for v, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if n >= min_count]
            vocab[f] = tuple(keep[:250])
    derived = tuple(
        d
        for d, (_, src) in _DERIVED.items()
        if (d != "profile_answers" and all(s in kinds for s in src)) or (d == "profile_answers" and profile)
    )
    return FeatureSpec(fields=fields, kinds=dict(kinds), vocab=vocab, derived=derived, profile_fields=profile)


def _num(v: Any) -> float:
    if v is None or v == "":
        return math.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def encode(spec: FeatureSpec, records: Sequence[dict[str, Any]]) -> np.ndarray:
    """Records → float matrix (rows = records, columns = spec.columns)."""
    n = len(records)
    x = np.full((n, len(spec.fields) + len(spec.derived)), np.nan, dtype=np.float64)
    for j, f in enumerate(spec.fields):
        kind = spec.kinds[f]
        col = [r.get(f) for r in records]
        if kind in ("string", "country"):
            index = {v: i for i, v in enumerate(spec.vocab.get(f, ()))}
            other = float(len(index))
            x[:, j] = [math.nan if v is None else index.get(str(v), other) for v in col]
        elif kind == "boolean":
            x[:, j] = [math.nan if v is None else (1.0 if v else 0.0) for v in col]
        else:
            x[:, j] = [_num(v) for v in col]
    pos = {f: j for j, f in enumerate(spec.fields)}
    base = len(spec.fields)
    with np.errstate(divide="ignore", invalid="ignore"):
        for k, d in enumerate(spec.derived):
            if d == "time_per_visit":
                t, v = x[:, pos["Web_Time_On_Site__c"]], x[:, pos["Web_Visits__c"]]
                x[:, base + k] = np.where(v > 0, t / v, 0.0)
            elif d == "page_views_total":
                x[:, base + k] = x[:, pos["Web_Page_Views_Per_Visit__c"]] * x[:, pos["Web_Visits__c"]]
            elif d == "profile_answers":
                cols = [pos[f] for f in spec.profile_fields if f in pos]
                x[:, base + k] = (~np.isnan(x[:, cols])).sum(axis=1)
    return x
