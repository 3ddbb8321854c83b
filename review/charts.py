"""Server-rendered SVG charts for the dashboard: no JavaScript, no CDN, readable with styles off.

Every label goes through `escape`; the numbers are formatted by us. Each chart has a <title> for screen
readers and every bar or point a <title> that browsers show as a tooltip.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date

from markupsafe import Markup, escape

PALETTE = ("#2f6db5", "#e07b39", "#3a9a5b", "#c23b4e", "#7d5ab5", "#8c6d31", "#d45fa8", "#5f7f8f",
           "#b5a22f", "#3fb0b0")
WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 44


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def axis(value: float, max_ticks: int = 5) -> tuple[float, float]:
    """A round axis maximum at or above `value` and its tick step (1, 2 or 5 x 10^n, whole numbers)."""
    step = 1.0
    while True:
        for factor in (1, 2, 5):
            if math.ceil(value / (step * factor)) <= max_ticks:
                return max(1, math.ceil(value / (step * factor))) * step * factor, step * factor
        step *= 10


def _frame(title: str, body: list[str], value_max: float) -> Markup:
    y_max, tick = axis(value_max)
    plot_h = HEIGHT - TOP - BOTTOM
    grid = []
    for i in range(round(y_max / tick) + 1):
        value = tick * i
        y = TOP + plot_h - plot_h * value / y_max
        grid.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                    f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{value:g}</text>')
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'class="chart" font-family="sans-serif"><title>{escape(title)}</title>'
        + "".join(grid) + "".join(body) + "</svg>"
    )


def _day_labels(days: Sequence[date], x_of: list[float]) -> list[str]:
    every = max(1, len(days) // 10)  # at most about ten labels, so they do not overlap
    return [
        f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" font-size="11">'
        f"{day.strftime('%d.%m.')}</text>"
        for i, (day, x) in enumerate(zip(days, x_of, strict=True)) if i % every == 0 or i == len(days) - 1
    ]


def stacked_days(title: str, days: Sequence[date], counts: Mapping[date, Mapping[str, int]],
                 keys: Sequence[str]) -> Markup:
    """One bar per day, stacked by key (language), with a legend."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    y_max = axis(max((sum(counts.get(d, {}).values()) for d in days), default=0))[0]
    slot = plot_w / max(len(days), 1)
    body, centres = [], []
    for i, day in enumerate(days):
        x = LEFT + i * slot
        centres.append(x + slot / 2)
        y = TOP + plot_h
        for k, key in enumerate(keys):
            n = counts.get(day, {}).get(key, 0)
            if not n:
                continue
            h = plot_h * n / y_max
            y -= h
            body.append(f'<rect x="{x + slot * 0.15:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" '
                        f'height="{h:.1f}" fill="{colour(k)}"><title>{day.isoformat()} {escape(key)}: {n}'
                        "</title></rect>")
    body += _day_labels(days, centres)
    body += _legend(keys)
    return _frame(title, body, y_max)


def _legend(keys: Sequence[str]) -> list[str]:
    items = []
    for k, key in enumerate(keys):
        x = LEFT + k * 90
        items.append(f'<rect x="{x}" y="{HEIGHT - 16}" width="10" height="10" fill="{colour(k)}"/>'
                     f'<text x="{x + 14}" y="{HEIGHT - 7}" font-size="11">{escape(key)}</text>')
    return items


def horizontal_bars(title: str, values: Mapping[str, int], labels: Mapping[str, str] | None = None) -> Markup:
    """One labelled bar per key (the action mix), largest first as given."""
    labels = labels or {}
    row_h, label_w = 26, 150
    height = max(len(values), 1) * row_h + 16
    top = max(values.values(), default=0) or 1
    total = sum(values.values()) or 1
    body = []
    for i, (key, n) in enumerate(values.items()):
        y = 8 + i * row_h
        w = (WIDTH - label_w - 90) * n / top
        body.append(
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end" font-size="12">'
            f"{escape(labels.get(key, key))}</text>"
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{row_h - 8}" fill="{colour(i)}">'
            f"<title>{escape(key)}: {n}</title></rect>"
            f'<text x="{label_w + w + 6:.1f}" y="{y + 15}" font-size="12">{n} ({100 * n / total:.0f} %)</text>'
        )
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" class="chart" '
        f'font-family="sans-serif"><title>{escape(title)}</title>' + "".join(body) + "</svg>"
    )


def latency_lines(title: str, days: Sequence[date], series: Mapping[str, Mapping[date, float]]) -> Markup:
    """One line per series (p50, p95) over the days, in milliseconds; days without data are gaps."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    y_max = axis(max((v for points in series.values() for v in points.values()), default=0))[0]
    slot = plot_w / max(len(days), 1)
    x_of = [LEFT + slot * (i + 0.5) for i in range(len(days))]
    body = []
    for k, (name, points) in enumerate(series.items()):
        segment: list[str] = []
        for day, x in zip(days, x_of, strict=True):
            if day not in points:
                body.append(_polyline(segment, colour(k)))
                segment = []
                continue
            y = TOP + plot_h - plot_h * points[day] / y_max
            segment.append(f"{x:.1f},{y:.1f}")
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour(k)}">'
                        f"<title>{day.isoformat()} {escape(name)}: {points[day]:.0f} ms</title></circle>")
        body.append(_polyline(segment, colour(k)))
    body += _day_labels(days, x_of)
    body += _legend(list(series))
    return _frame(title, body, y_max)


def _polyline(points: list[str], stroke: str) -> str:
    if len(points) < 2:
        return ""
    return f'<polyline points="{" ".join(points)}" fill="none" stroke="{stroke}" stroke-width="2"/>'
