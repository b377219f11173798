"""Server-side SVG charts (no JavaScript, no CDN). Colours come from classes in ops.css."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup, escape

Fmt = Callable[[float], str]
CHAR_W = 7.0
"""Approximate width (px) of one character of the 11.5 px chart font."""


def axis_ticks(lo: float, hi: float, most: float) -> list[float]:
    """ "Nice" ticks (1, 2, 5 × 10^k apart) covering lo..hi, at most ``most`` of them (at least 2)."""
    if hi <= lo:
        return [lo]
    most = max(2, int(most))
    span = hi - lo
    step = 1.0
    magnitude = 10 ** math.floor(math.log10(span / most)) if span / most > 0 else 1
    for factor in (1, 2, 5, 10, 20, 50):
        step = max(1.0, factor * magnitude)
        if span / step + 1 <= most:
            break
    first = math.ceil(lo / step) * step
    ticks = []
    x = first
    while x <= hi + 1e-9:
        ticks.append(round(x, 9))
        x += step
    return ticks


def _num(value: float) -> str:
    return f"{value:.1f}"


def hbar_chart(
    items: Sequence[tuple[str, float | None]],
    *,
    fmt: Fmt = lambda v: f"{v:.0f}",
    width: int = 560,
    row: int = 22,
    css: str = "bar",
    max_value: float | None = None,
    title: str = "",
) -> Markup:
    """Horizontal bars, one per (label, value)."""
    label_w = 170
    value_w = 70
    plot_w = width - label_w - value_w
    values = [v for _, v in items if v is not None]
    top = max_value if max_value is not None else (max(values) if values else 0) or 1
    height = row * max(len(items), 1) + 8
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}">'
    ]
    for i, (label, value) in enumerate(items):
        y = 4 + i * row
        parts.append(
            f'<text class="lbl" x="{label_w - 6}" y="{y + row * 0.68:.1f}" text-anchor="end">{escape(label)}</text>'
        )
        if value is None:
            parts.append(f'<text class="val" x="{label_w + 4}" y="{y + row * 0.68:.1f}">–</text>')
            continue
        w = max(0.0, min(1.0, value / top)) * plot_w
        parts.append(f'<rect class="{css}" x="{label_w}" y="{y + 3}" width="{_num(w)}" height="{row - 6}" rx="2"/>')
        parts.append(
            f'<text class="val" x="{label_w + w + 4:.1f}" y="{y + row * 0.68:.1f}">{escape(fmt(value))}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every label and value was escaped above


def stacked_bar_chart(
    items: Sequence[tuple[str, Sequence[float | None]]],
    classes: Sequence[str],
    legend: Sequence[str],
    *,
    fmt: Fmt,
    width: int = 560,
    row: int = 22,
    title: str = "",
) -> Markup:
    """Horizontal stacked bars: each item has one value per segment (e.g. system + human delay)."""
    label_w = 170
    value_w = 80
    plot_w = width - label_w - value_w
    totals = [sum(v or 0 for v in values) for _, values in items]
    top = max(totals, default=0) or 1
    height = row * max(len(items), 1) + 30
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}">'
    ]
    for i, ((label, values), total) in enumerate(zip(items, totals, strict=True)):
        y = 4 + i * row
        parts.append(
            f'<text class="lbl" x="{label_w - 6}" y="{y + row * 0.68:.1f}" text-anchor="end">{escape(label)}</text>'
        )
        x = float(label_w)
        for value, css in zip(values, classes, strict=True):
            if not value:
                continue
            w = value / top * plot_w
            parts.append(f'<rect class="{css}" x="{_num(x)}" y="{y + 3}" width="{_num(w)}" height="{row - 6}"/>')
            x += w
        parts.append(f'<text class="val" x="{x + 4:.1f}" y="{y + row * 0.68:.1f}">{escape(fmt(total))}</text>')
    ly = height - 10
    lx = label_w
    for css, name in zip(classes, legend, strict=True):
        parts.append(f'<rect class="{css}" x="{lx}" y="{ly - 9}" width="10" height="10"/>')
        parts.append(f'<text class="lbl" x="{lx + 14}" y="{ly}">{escape(name)}</text>')
        lx += 14 + 8 * len(name) + 16
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every label and value was escaped above


def line_chart(
    points: Sequence[tuple[float, float]],
    *,
    target: float | None = None,
    marks: Sequence[tuple[float, str]] = (),
    width: int = 560,
    height: int = 220,
    y_max: float = 1.0,
    x_label: str = "",
    y_fmt: Fmt = lambda v: f"{v:.0%}",
    title: str = "",
) -> Markup:
    """A line over x with an optional horizontal target line and vertical marks (x, label)."""
    if not points:
        return Markup("")
    left, right, top_pad, bottom = 48, 16, 12, 34
    css = "chart wide" if width > 600 else "chart"
    xs = [p[0] for p in points]
    x0, x1 = min(xs), max(xs)
    span = (x1 - x0) or 1

    def px(x: float) -> float:
        return left + (x - x0) / span * (width - left - right)

    def py(y: float) -> float:
        return top_pad + (1 - max(0.0, min(y, y_max)) / y_max) * (height - top_pad - bottom)

    parts = [
        f'<svg class="{css}" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}">'
    ]
    for frac in (0, 0.25, 0.5, 0.75, 1.0):
        y = py(frac * y_max)
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{_num(y)}" y2="{_num(y)}"/>')
        parts.append(
            f'<text class="lbl" x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{escape(y_fmt(frac * y_max))}</text>'
        )
    if target is not None:
        y = py(target)
        parts.append(f'<line class="target" x1="{left}" x2="{width - right}" y1="{_num(y)}" y2="{_num(y)}"/>')
    last_mark: float | None = None
    row = 0
    for x, label in sorted(marks):
        parts.append(
            f'<line class="mark" x1="{_num(px(x))}" x2="{_num(px(x))}" y1="{top_pad}" y2="{height - bottom}"/>'
        )
        # marks closer than a label's width go on the next line instead of on top of each other
        row = row + 1 if last_mark is not None and px(x) - last_mark < 8 * CHAR_W else 0
        last_mark = px(x)
        label_text = f"{label} {x:g}"
        anchor = "end" if px(x) + 3 + len(label_text) * CHAR_W > width - right else "start"
        lx = px(x) - 3 if anchor == "end" else px(x) + 3
        parts.append(
            f'<text class="lbl mark-label" x="{lx:.1f}" y="{top_pad + 10 + 13 * row}" '
            f'text-anchor="{anchor}">{escape(label_text)}</text>'
        )
    path = " ".join(f"{'M' if i == 0 else 'L'}{_num(px(x))},{_num(py(y))}" for i, (x, y) in enumerate(points))
    parts.append(f'<path class="line" d="{path}"/>')
    if len(points) <= (width - left - right) / 8:
        for x, y in points:
            parts.append(f'<circle class="dot" cx="{_num(px(x))}" cy="{_num(py(y))}" r="3"/>')
    for x in axis_ticks(x0, x1, (width - left - right) / (CHAR_W * 8)):
        parts.append(
            f'<text class="lbl tick" x="{_num(px(x))}" y="{height - bottom + 14}" text-anchor="middle">{x:g}</text>'
        )
    mid = (left + width - right) / 2
    parts.append(f'<text class="lbl" x="{mid:.0f}" y="{height - 4}" text-anchor="middle">{escape(x_label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every label and value was escaped above


def _get(item: Any, name: str) -> Any:
    return item[name] if isinstance(item, dict) else getattr(item, name)


def pairs(
    items: Iterable[Any], label: str, value: str, scale: float = 1.0, limit: int = 50
) -> list[tuple[str, float | None]]:
    """[(label, value × scale)] from objects or dicts (Jinja has no comprehensions)."""
    out = []
    for item in list(items)[:limit]:
        v = _get(item, value)
        out.append((str(_get(item, label)), None if v is None else v * scale))
    return out


def stacks(
    items: Iterable[Any], label: str, values: Sequence[str], limit: int = 50
) -> list[tuple[str, list[float | None]]]:
    return [(str(_get(i, label)), [_get(i, v) for v in values]) for i in list(items)[:limit]]


def timestamp(value: datetime | None) -> Markup:
    """A UTC time as ``<time>``: readable without JavaScript, shown in the viewer's time zone with it."""
    if value is None:
        return Markup("–")
    utc_value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    iso = utc_value.isoformat().replace("+00:00", "Z")
    return Markup('<time datetime="{}">{}</time>').format(iso, utc_value.strftime("%Y-%m-%d %H:%M:%S UTC"))


def duration(seconds: float | None) -> str:
    """Short human duration: 42s, 4m 05s, 2h 10m, 3d 4h."""
    if seconds is None:
        return "–"
    s = round(seconds)
    sign = "-" if s < 0 else ""
    s = abs(s)
    if s < 60:
        return f"{sign}{s}s"
    if s < 3600:
        return f"{sign}{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{sign}{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{sign}{s // 86400}d {s % 86400 // 3600}h"
