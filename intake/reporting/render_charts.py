"""The period report's charts as inline SVG: categories as horizontal bars
(`bar_chart_svg`) and reports per tertial as a line (`trend_svg`), with counts below 3
drawn so they give nothing away (`render_common`). Only `render_html` and tests import this.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from babel.numbers import format_decimal

from intake.reporting.model import Period, Row, TrendPoint
from intake.reporting.render_common import (
    NOT_SHOWN,
    SUPPRESSED_PLOT_VALUE,
    TERTIAL_KEY,
    Numbers,
    esc,
)

_BAR_FILL = "#2b5c8a"


def _svg_text(x: float, y: float, text: str, *, anchor: str = "start", size: float = 11,
              weight: str = "normal") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}"'
            f'{" font-weight=" + chr(34) + weight + chr(34) if weight != "normal" else ""}>'
            f"{esc(text)}</text>")


def _truncate(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[: max_chars - 1].rstrip() + "…"


def bar_chart_svg(rows: Sequence[Row], nums: Numbers, *, chart_id: str, title: str) -> str:
    """Horizontal bars with labels and counts, largest first; suppressed bars hatched at a
    fixed length so the chart does not give away whether a "<3" is 1 or 2."""
    def plot_value(count: int) -> int:
        return SUPPRESSED_PLOT_VALUE if nums.hidden(count) else count

    def sort_value(count: int) -> float:
        # every "<3" ranks between 3 and 0, in the given order: the order tells nothing either
        return SUPPRESSED_PLOT_VALUE - 0.5 if nums.hidden(count) else count

    ordered = [row for _, row in sorted(enumerate(rows),
                                        key=lambda p: (-sort_value(p[1].count), p[0]))]
    width, row_h, bar_h, char_w = 680, 22, 14, 5.9
    max_chars = 48
    label_w = min(300, max(90, int(max((len(_truncate(r.label, max_chars)) for r in ordered),
                                       default=10) * char_w) + 12))
    bar_max = width - label_w - 48
    top = 4
    height = top + row_h * max(len(ordered), 1) + 6
    scale_max = max(1, *(plot_value(r.count) for r in ordered))
    parts = [
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-labelledby="{chart_id}-t">',
        f'<title id="{chart_id}-t">{esc(title)}</title>',
        f'<defs><pattern id="{chart_id}-hatch" width="5" height="5" '
        f'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        f'<rect width="5" height="5" fill="#fff"/>'
        f'<line x1="0" y1="0" x2="0" y2="5" stroke="{_BAR_FILL}" stroke-width="2.5"/>'
        f"</pattern></defs>",
    ]
    for i, row in enumerate(ordered):
        y = top + i * row_h
        mid = y + row_h / 2
        label = _truncate(row.label, max_chars)
        parts.append("<g>")
        if label != row.label:
            parts.append(f"<title>{esc(row.label)}</title>")
        parts.append(_svg_text(label_w - 8, mid + 4, label, anchor="end"))
        length = plot_value(row.count) / scale_max * bar_max
        if row.count > 0:
            fill = f"url(#{chart_id}-hatch)" if nums.hidden(row.count) else _BAR_FILL
            parts.append(f'<rect x="{label_w}" y="{mid - bar_h / 2:.1f}" width="{length:.1f}" '
                         f'height="{bar_h}" fill="{fill}" stroke="{_BAR_FILL}" '
                         f'stroke-width="0.75"/>')
        parts.append(_svg_text(label_w + length + 5, mid + 4, nums.count(row.count),
                               weight="bold"))
        parts.append("</g>")
    parts.append(f'<line x1="{label_w}" y1="{top - 2}" x2="{label_w}" '
                 f'y2="{height - 4}" stroke="#000" stroke-width="1"/>')
    parts.append("</svg>")
    return "".join(parts)


def _nice_step(max_value: float) -> int:
    raw = max(max_value / 4, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * magnitude >= raw:
            return max(1, int(m * magnitude))
    return int(10 * magnitude)  # pragma: no cover - the loop always returns


def tertials_in(period: Period, points: Sequence[TrendPoint]) -> set[str]:
    """The trend's tertials that overlap the period (one for a tertial, three for a year)."""
    months = {1: (1, 4), 2: (5, 8), 3: (9, 12)}
    inside = set()
    for point in points:
        m = TERTIAL_KEY.match(point.period)
        if m:
            year, (first, last) = int(m.group(1)), months[int(m.group(2))]
            starts, ends = (year, first), (year, last)
            if starts <= (period.end.year, period.end.month) and ends >= (
                    period.start.year, period.start.month):
                inside.add(point.period)
    return inside


def trend_svg(points: Sequence[TrendPoint], nums: Numbers, *, current: set[str],
              chart_id: str, title: str) -> str:
    """Reports per tertial as a line with a labelled point each; the `current` ones ringed.
    A tertial without data (None: before the first report) gets no point and no line, only
    a "–" on the axis: it is no zero."""
    def plot_value(count: int | None) -> int | None:
        if count is None:
            return None
        return SUPPRESSED_PLOT_VALUE if nums.hidden(count) else count

    width, height = 680, 250
    left, right, top, bottom = 44, 16, 22, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [plot_value(p.count) for p in points]
    top_value = max((v for v in values if v is not None), default=1)
    step = _nice_step(top_value)
    y_max = max(step, math.ceil(top_value / step) * step)

    def x_at(i: int) -> float:
        if len(points) == 1:
            return left + plot_w / 2
        return left + 12 + i * (plot_w - 24) / (len(points) - 1)

    def y_at(v: float) -> float:
        return top + plot_h - v / y_max * plot_h

    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-labelledby="{chart_id}-t">',
             f'<title id="{chart_id}-t">{esc(title)}</title>']
    for tick in range(0, y_max + 1, step):
        y = y_at(tick)
        dash = "" if tick == 0 else ' stroke-dasharray="3 3"'
        colour = "#000" if tick == 0 else "#999"
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
                     f'stroke="{colour}" stroke-width="0.75"{dash}/>')
        parts.append(_svg_text(left - 6, y + 4, format_decimal(tick, locale=nums.locale),
                               anchor="end", size=10))
    # x axis: "T1 T2 T3" and the year once under its tertials
    years: list[tuple[str, list[int]]] = []
    for i, point in enumerate(points):
        m = TERTIAL_KEY.match(point.period)
        tick_label, year = (f"T{m.group(2)}", m.group(1)) if m else (point.period, "")
        parts.append(_svg_text(x_at(i), top + plot_h + 16, tick_label, anchor="middle",
                               size=10))
        if years and years[-1][0] == year:
            years[-1][1].append(i)
        else:
            years.append((year, [i]))
    for n, (year, idx) in enumerate(years):
        if year:
            centre = (x_at(idx[0]) + x_at(idx[-1])) / 2
            parts.append(_svg_text(centre, top + plot_h + 32, year, anchor="middle", size=10,
                                   weight="bold"))
        if n > 0:
            x = (x_at(idx[0]) + x_at(idx[0] - 1)) / 2
            parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" '
                         f'y2="{top + plot_h + 36}" stroke="#bbb" stroke-width="0.75"/>')
    # one line per run of tertials with data: no line is drawn through a missing one
    runs: list[list[int]] = []
    for i, v in enumerate(values):
        if v is None:
            continue
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    for run in runs:
        if len(run) > 1:
            path = " ".join(f"{x_at(i):.1f},{y_at(values[i] or 0):.1f}" for i in run)
            parts.append(f'<polyline points="{path}" fill="none" stroke="#000" '
                         f'stroke-width="1.75"/>')
    for i, point in enumerate(points):
        value = values[i]
        if value is None:
            parts.append(_svg_text(x_at(i), y_at(0) - 6, NOT_SHOWN, anchor="middle", size=10))
            continue
        x, y = x_at(i), y_at(value)
        if point.period in current:
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6.5" fill="#fff" '
                         f'stroke="#000" stroke-width="1.75"/>')
        fill = "#fff" if nums.hidden(point.count) else "#000"
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{fill}" '
                     f'stroke="#000" stroke-width="1.25"/>')
        parts.append(_svg_text(x, y - 10, nums.count(point.count), anchor="middle", size=10,
                               weight="bold" if point.period in current else "normal"))
    parts.append("</svg>")
    return "".join(parts)
