"""Contributions in words: how much each intake fact moved this lead's probability.

A group's contribution is p(lead) − p(lead with that group unknown): the model is asked again with the
group's columns set to missing (the same "not answered" the model saw in training). All ablations of a
batch are predicted in one stacked call, so the cost is one matrix of (groups + 1) x batch rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from leadflow_model.features import OTHER, FeatureSpec


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
        return f"{_plain(row[j])} of 3 profile questions answered"
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


def contributions(
    predict: Callable[[np.ndarray], np.ndarray], spec: FeatureSpec, x: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(probabilities, deltas[rows, groups], group names) for the batch ``x``."""
    groups = spec.groups()
    names = list(groups)
    n = x.shape[0]
    stacked = np.empty(((len(names) + 1) * n, x.shape[1]), dtype=x.dtype)
    stacked[:n] = x
    for g, name in enumerate(names, start=1):
        block = stacked[g * n : (g + 1) * n]
        block[:] = x
        block[:, groups[name]] = np.nan
    p = predict(stacked)
    base = p[:n]
    deltas = base[None, :] - p[n:].reshape(len(names), n)
    return base, deltas.T, names


def top_words(
    spec: FeatureSpec, x_row: np.ndarray, deltas_row: np.ndarray, names: list[str], k: int
) -> list[tuple[str, float]]:
    """The k groups that moved the probability most, as ("came from Lead Add Form", +0.18)."""
    order = np.argsort(-np.abs(deltas_row))[:k]
    return [(describe(spec, names[g], x_row), float(deltas_row[g])) for g in order if abs(deltas_row[g]) >= 0.005]


def format_contribution(words: str, delta: float) -> str:
    return f"{words}: {delta * 100:+.0f} %"
