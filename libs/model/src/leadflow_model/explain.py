"""Contributions in words: how much each intake fact moves a lead's probability.

At training time, for every feature group (a field and the derived columns computed from it) the model's
*partial dependence* is tabulated: the mean probability over a background sample of training leads when
that group is set to each of its values (each category, "other", missing; quantile bins for numbers).
Centred on the training distribution, an entry reads "leads that came from Lead Add Form score 18 points
above the average lead, everything else as it is". At scoring time a lead's contributions are table
look-ups (vectorised), so explanations cost almost nothing next to the model call. Interactions between
groups are not split out: the words describe the model's main effects, which is what a rep can act on.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from leadflow_model.features import OTHER, FeatureSpec, encode


def _plain(v: float) -> str:
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}"


def _minutes(v: float) -> str:
    return f"{v / 60:.0f} min" if v >= 60 else f"{v:.0f} s"


_CATEGORY: dict[str, tuple[str, str]] = {
    # field: (template with {v}, text when unknown)
    "Lead_Origin__c": ("came from {v}", "origin unknown"),
    "LeadSource": ("source {v}", "no lead source"),
    "Country": ("country {v}", "no country given"),
    "Industry": ("specialisation {v}", "no specialisation given"),
    "Title": ("occupation {v}", "no occupation given"),
    "City": ("city {v}", "no city given"),
    "Specialization__c": ("specialisation {v}", "no specialisation given"),
    "Occupation__c": ("occupation {v}", "no occupation given"),
    "Heard_From__c": ("heard of us through {v}", "did not say how they heard of us"),
    "Course_Priority__c": ("values {v}", "did not say what matters most"),
}
_NUMBER: dict[str, Callable[[float], str]] = {
    "Web_Visits__c": lambda v: f"{_plain(v)} website visits",
    "Web_Time_On_Site__c": lambda v: f"{_minutes(v)} on the website",
    "Web_Page_Views_Per_Visit__c": lambda v: f"{_plain(v)} pages per visit",
    "Content_Downloads__c": lambda v: "downloaded content" if v > 0 else "no content downloaded",
    "NumberOfEmployees": lambda v: f"{_plain(v)} employees",
    "HasOptedOutOfEmail": lambda v: "opted out of email" if v else "accepts email",
    "DoNotCall": lambda v: "asked not to be called" if v else "may be called",
}


def describe(spec: FeatureSpec, group: str, row: np.ndarray) -> str:
    """Words for a group's value in one encoded row."""
    if group == "profile":
        j = spec.columns.index("profile_answers")
        return f"{_plain(row[j])} of {len(spec.profile_fields)} profile questions answered"
    j = spec.fields.index(group)
    v = float(row[j])
    if group in _CATEGORY or spec.kinds.get(group) in ("string", "country"):
        template, unknown = _CATEGORY.get(group, (group + " {v}", group + " unknown"))
        cat = spec.category(group, v)
        if cat is None:
            return unknown
        return template.format(v="another value" if cat == OTHER else cat)
    if math.isnan(v):
        return f"{group} unknown"
    fn = _NUMBER.get(group)
    return fn(v) if fn else f"{group} {_plain(v)}"


_RANGE: dict[str, tuple[Callable[[float], str], str]] = {
    "Web_Visits__c": (_plain, "website visits"),
    "Web_Time_On_Site__c": (_minutes, "on the website"),
    "Web_Page_Views_Per_Visit__c": (_plain, "pages per visit"),
    "NumberOfEmployees": (_plain, "employees"),
}


def bin_words(spec: FeatureSpec, group: GroupEffect, b: int) -> str:
    """Words for bin ``b`` of a group (the same for every lead in that bin)."""
    name, last = group.group, len(group.effects) - 1
    if group.kind == "count":
        return f"{b} of {len(spec.profile_fields)} profile questions answered"
    if group.kind == "category":
        template, unknown = _CATEGORY.get(name, (name + " {v}", name + " unknown"))
        if b == last:
            return unknown
        vocab = spec.vocab.get(name, ())
        return template.format(v=vocab[b] if b < len(vocab) else "another value")
    if group.kind == "boolean":
        if b == last:
            return f"{name} unknown"
        fn = _NUMBER.get(name)
        return fn(b) if fn else f"{name} {bool(b)}"
    if b == last:
        return f"{name} unknown"
    e = group.edges
    lo = e[b - 1] if b > 0 else None
    hi = e[b] if b < len(e) else None
    if name == "Content_Downloads__c":
        return "downloaded content" if lo is not None and lo >= 1 else "no content downloaded"
    fmt, noun = _RANGE.get(name, (_plain, name))
    if lo is None and hi is None:
        return f"any {noun}"
    if lo is None:
        return f"under {fmt(hi)} {noun}"  # type: ignore[arg-type]
    if hi is None:
        return f"{fmt(lo)} or more {noun}"
    return f"{fmt(lo)}–{fmt(hi)} {noun}"


class GroupEffect(BaseModel):
    """Centred partial dependence of one group: ``effects[bin]`` in probability points."""

    model_config = ConfigDict(frozen=True)

    group: str
    kind: Literal["category", "number", "boolean", "count"]
    column: int
    edges: tuple[float, ...] = ()
    effects: tuple[float, ...]


class Explainer(BaseModel):
    model_config = ConfigDict(frozen=True)

    groups: tuple[GroupEffect, ...]
    mean_probability: float
    background: int

    def bins(self, x: np.ndarray) -> np.ndarray:
        """Bin index of every (lead, group): shape (rows, groups)."""
        out = np.empty((x.shape[0], len(self.groups)), dtype=np.int64)
        for g, ge in enumerate(self.groups):
            col = x[:, ge.column]
            miss = np.isnan(col)
            last = len(ge.effects) - 1
            if ge.kind == "number":
                idx = np.searchsorted(np.asarray(ge.edges), np.where(miss, 0.0, col), side="right")
            elif ge.kind == "count":
                idx = np.clip(np.where(miss, 0, col), 0, last).astype(np.int64)
            else:  # category codes / booleans: the value is the index; missing is the last slot
                idx = np.clip(np.where(miss, last, col), 0, last).astype(np.int64)
            out[:, g] = np.where(miss & (ge.kind != "count"), last, idx)
        return out

    def deltas(self, x: np.ndarray) -> np.ndarray:
        """Contribution of every group for every lead (probability points as fractions): (rows, groups)."""
        return self.deltas_from_bins(self.bins(x))

    def deltas_from_bins(self, b: np.ndarray) -> np.ndarray:
        out = np.empty(b.shape, dtype=np.float64)
        for g, ge in enumerate(self.groups):
            out[:, g] = np.asarray(ge.effects)[b[:, g]]
        return out

    @property
    def names(self) -> list[str]:
        return [ge.group for ge in self.groups]


def fit_explainer(
    predict: Callable[[np.ndarray], np.ndarray],
    spec: FeatureSpec,
    records: Sequence[dict[str, Any]],
    *,
    background: int = 300,
    max_bins: int = 8,
    seed: int = 7,
) -> Explainer:
    """Tabulate the centred partial dependence of every group over a sample of training records."""
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(records), size=min(background, len(records)), replace=False)
    bg = [dict(records[int(i)]) for i in pick]
    x_all = encode(spec, records)
    x_bg = encode(spec, bg)
    groups: list[GroupEffect] = []
    for name, cols in spec.groups().items():
        if name not in spec.fields:  # derived-only group (profile answers): set the column directly
            col = cols[0]
            values = sorted({int(v) for v in x_all[:, col] if not np.isnan(v)})
            top = max(values) if values else 0
            raw = []
            for v in range(top + 1):
                xm = x_bg.copy()
                xm[:, col] = v
                raw.append(float(predict(xm).mean()))
            idx = np.clip(np.nan_to_num(x_all[:, col]), 0, top).astype(np.int64)
            groups.append(_centred(name, "count", col, (), raw, idx))
            continue
        col = spec.fields.index(name)
        kind = spec.kinds[name]
        observed = x_all[:, col]
        miss = np.isnan(observed)
        reps: list[Any]
        edges: tuple[float, ...]
        if kind in ("string", "country"):
            vocab = list(spec.vocab.get(name, ()))
            reps = [*vocab, "__not_in_vocabulary__", None]
            idx = np.where(miss, len(reps) - 1, np.nan_to_num(observed)).astype(np.int64)
            gkind, edges = "category", ()
        elif kind == "boolean":
            reps = [False, True, None]
            idx = np.where(miss, 2, np.nan_to_num(observed)).astype(np.int64)
            gkind, edges = "boolean", ()
        else:
            vals = observed[~miss]
            qs = np.unique(np.quantile(vals, np.linspace(0, 1, max_bins + 1)[1:-1])) if len(vals) else np.array([])
            edges = tuple(float(e) for e in qs)
            b = np.searchsorted(qs, np.where(miss, 0.0, observed), side="right")
            reps = [
                float(np.median(vals[b[~miss] == k]))
                if (b[~miss] == k).any()
                else (float(qs[min(k, len(qs) - 1)]) if len(qs) else 0.0)
                for k in range(len(qs) + 1)
            ]
            reps.append(None)
            idx = np.where(miss, len(reps) - 1, b).astype(np.int64)
            gkind = "number"
        raw = []
        for v in reps:
            for r in bg:
                r[name] = v
            raw.append(float(predict(encode(spec, bg)).mean()))
        for r, i in zip(bg, pick, strict=True):
            r[name] = records[int(i)].get(name)
        groups.append(_centred(name, gkind, col, edges, raw, idx))
    return Explainer(groups=tuple(groups), mean_probability=float(predict(x_bg).mean()), background=len(bg))


def _centred(
    name: str, kind: str, col: int, edges: tuple[float, ...], raw: list[float], idx: np.ndarray
) -> GroupEffect:
    arr = np.asarray(raw)
    weights = np.bincount(idx, minlength=len(arr))[: len(arr)].astype(float)
    centre = float((arr * weights).sum() / weights.sum()) if weights.sum() else float(arr.mean())
    return GroupEffect(
        group=name,
        kind=kind,
        column=col,
        edges=edges,
        effects=tuple(float(v - centre) for v in arr),
    )


def top_k(deltas: np.ndarray, k: int) -> np.ndarray:
    """Indexes of the k largest |contribution| per row, largest first: (rows, k)."""
    k = min(k, deltas.shape[1])
    a = np.abs(deltas)
    part = np.argpartition(-a, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(a, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def format_contribution(words: str, delta: float) -> str:
    return f"{words}: {delta * 100:+.0f} %"
