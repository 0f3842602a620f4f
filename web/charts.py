"""Server-side SVG charts: pure functions from data to an SVG string — no JavaScript, no
library, nothing fetched at run time. The page embeds the string as it is, so every text that
comes from data is escaped here, and colours are checked to be colours.

Styling is by SVG presentation attributes (fill, stroke), which the console's Content
Security Policy allows, unlike `style="…"` attributes."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from html import escape

_COLOUR = re.compile(r"#[0-9a-fA-F]{3,8}|[a-z]{3,20}")
STYLES = ("line", "step", "dashed", "area")
INK, MUTED, GRID, BRAND = "#1f2329", "#646a73", "#dee0e3", "#3370ff"


@dataclass(frozen=True)
class Series:
    """A line of a time chart: points (day, value) in time order. `style`: "line", "step"
    (holds its value until the next point), "dashed", or "area" (filled down to zero; draw
    stacked areas top first, each point the sum of the stack up to it)."""

    label: str
    points: tuple[tuple[date, float], ...]
    colour: str = BRAND
    style: str = "line"


@dataclass(frozen=True)
class HeatRow:
    label: str
    values: tuple[float, ...]  # one per column; 0 for nothing


@dataclass(frozen=True)
class HeatColumn:
    label: str
    muted: bool = False  # a day off: shaded


def text(value: object) -> str:
    """Data as SVG text or attribute content."""
    return escape(str(value), quote=True)


def colour(value: str) -> str:
    """A colour we may write into an attribute; anything else becomes the brand blue."""
    return value if _COLOUR.fullmatch(value) else BRAND


def nice_ceiling(value: float) -> float:
    """The axis top: a round number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of
    ten) at least `value`; 1 for nothing."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if round(step * power, 9) >= value:
            return float(round(step * power, 9))
    return float(10 * power)  # pragma: no cover - the loop always returns


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _month_ticks(start: date, end: date) -> list[date]:
    ticks = []
    day = start.replace(day=1)
    if day < start:
        day = (day + timedelta(days=32)).replace(day=1)
    while day <= end:
        ticks.append(day)
        day = (day + timedelta(days=32)).replace(day=1)
    if len(ticks) > 12:  # a long term: every other month, or fewer
        ticks = ticks[:: math.ceil(len(ticks) / 12)]
    return ticks


def time_chart(
    series: Sequence[Series], *, start: date, end: date, title: str, unit: str = "",
    today: date | None = None, today_label: str = "", empty: str = "", width: int = 1160,
    height: int = 300,
) -> str:  # fmt: skip
    """A chart of values over days start..end, with a legend, month ticks and a mark at
    `today`. With no point to draw it says `empty` instead."""
    left, right, top, bottom = 52, 16, 16, 58
    plot_w, plot_h = width - left - right, height - top - bottom
    if end <= start:
        end = start + timedelta(days=1)
    span = (end - start).days
    values = [v for s in series for _, v in s.points if math.isfinite(v)]
    top_value = nice_ceiling(max(values, default=0) * 1.05)  # a little room above the top

    def x(day: date) -> float:
        return left + plot_w * min(max((day - start).days, 0), span) / span

    def y(value: float) -> float:
        return top + plot_h * (1 - min(max(value, 0), top_value) / top_value)

    out = [_open(width, height, title)]
    for i in range(5):  # y grid and labels
        value = top_value * i / 4
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
                   f'stroke="{GRID}" stroke-width="1"/>')  # fmt: skip
        out.append(f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end" '
                   f'font-size="11" fill="{MUTED}">{_number(value)}</text>')  # fmt: skip
    if unit:
        out.append(
            f'<text x="{left}" y="{top - 4}" font-size="11" fill="{MUTED}">{text(unit)}</text>'
        )
    for tick in _month_ticks(start, end):
        out.append(f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{top + plot_h}" '
                   f'y2="{top + plot_h + 4}" stroke="{MUTED}"/>')  # fmt: skip
        out.append(f'<text x="{x(tick):.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
                   f'font-size="11" fill="{MUTED}">{tick:%Y-%m}</text>')  # fmt: skip
    out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" '
               f'stroke="{MUTED}"/>')  # fmt: skip
    drawn = 0
    for item in series:
        points = [(d, v) for d, v in item.points if math.isfinite(v)]
        if not points:
            continue
        drawn += 1
        out.append(_path(item, points, x, y, top + plot_h))
    if today is not None and start <= today <= end:
        out.append(f'<line x1="{x(today):.1f}" x2="{x(today):.1f}" y1="{top}" y2="{top + plot_h}" '
                   f'stroke="{MUTED}" stroke-dasharray="2 3"/>')  # fmt: skip
        if today_label:
            out.append(f'<text x="{x(today) + 4:.1f}" y="{top + 12}" font-size="11" '
                       f'fill="{MUTED}">{text(today_label)}</text>')  # fmt: skip
    if not drawn and empty:
        out.append(f'<text x="{left + plot_w / 2:.1f}" y="{top + plot_h / 2:.1f}" '
                   f'text-anchor="middle" font-size="13" fill="{MUTED}">{text(empty)}</text>')  # fmt: skip
    out.append(_legend(series, left, height - 18))
    out.append("</svg>")
    return "".join(out)


def _open(width: int, height: int, title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" role="img" aria-label="{text(title)}" '
            f'font-family="PingFang SC, Microsoft YaHei, Noto Sans CJK SC, sans-serif">'
            f"<title>{text(title)}</title>")  # fmt: skip


def _path(item: Series, points: list[tuple[date, float]], fx: Callable[[date], float],
          fy: Callable[[float], float], base: float) -> str:  # fmt: skip
    coords: list[tuple[float, float]] = []
    for i, (day, value) in enumerate(points):
        if item.style in ("step", "area") and i:
            coords.append((fx(day), coords[-1][1]))
        coords.append((fx(day), fy(value)))
    line = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in coords)
    paint = colour(item.colour)
    label = f"<title>{text(item.label)}</title>"
    if item.style == "area":
        first, last = coords[0][0], coords[-1][0]
        return (f'<polygon points="{first:.1f},{base:.1f} {line} {last:.1f},{base:.1f}" '
                f'fill="{paint}" fill-opacity="0.85" stroke="{paint}" stroke-width="1">{label}</polygon>')  # fmt: skip
    dash = ' stroke-dasharray="6 4"' if item.style == "dashed" else ""
    dots = ""
    if len(coords) == 1:  # one point: a dot, or nothing would show
        cx, cy = coords[0]
        dots = f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3" fill="{paint}"/>'
    return (f'<polyline points="{line}" fill="none" stroke="{paint}" stroke-width="2"{dash}>'
            f"{label}</polyline>{dots}")  # fmt: skip


def _legend(series: Sequence[Series], left: int, baseline: int) -> str:
    out, cursor = [], float(left)
    for item in series:
        paint = colour(item.colour)
        if item.style == "area":
            out.append(
                f'<rect x="{cursor:.1f}" y="{baseline - 9}" width="12" height="10" fill="{paint}"/>'
            )
        else:
            dash = ' stroke-dasharray="4 3"' if item.style == "dashed" else ""
            out.append(f'<line x1="{cursor:.1f}" x2="{cursor + 14:.1f}" y1="{baseline - 4}" '
                       f'y2="{baseline - 4}" stroke="{paint}" stroke-width="2"{dash}/>')  # fmt: skip
        out.append(f'<text x="{cursor + 18:.1f}" y="{baseline}" font-size="11" fill="{INK}">'
                   f"{text(item.label)}</text>")  # fmt: skip
        cursor += 30 + 7 * _display_width(item.label)
    return "".join(out)


def _display_width(label: str) -> int:
    """Roughly, in half-width characters: a Chinese character is two."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in label)


_HEAT = ("#f2f3f5", "#d6e4ff", "#9fbfff", "#5b8fff", "#245bdb", "#d83931")


def heat_colour(value: float, full: float) -> str:
    """Nothing, a little, up to a full day (four shades), more than a full day (red)."""
    if value <= 0:
        return _HEAT[0]
    if value > full:
        return _HEAT[5]
    return _HEAT[min(4, 1 + int(3 * value / full))] if full > 0 else _HEAT[4]


def heatmap(
    rows: Sequence[HeatRow], columns: Sequence[HeatColumn], *, title: str, full: float,
    unit: str = "", empty: str = "", cell: int = 22,
) -> str:  # fmt: skip
    """A grid: one row per label, one cell per column, shaded by value against `full` (a full
    day); each cell tells its value on hover and prints it when there is one."""
    label_w = 14 + 7 * max((_display_width(r.label) for r in rows), default=8)
    width = label_w + cell * max(len(columns), 1) + 8
    height = 24 + cell * max(len(rows), 1) + 8
    out = [_open(width, height, title)]
    for j, column in enumerate(columns):
        cx = label_w + j * cell + cell / 2
        shade = MUTED if column.muted else INK
        out.append(f'<text x="{cx:.1f}" y="16" text-anchor="middle" font-size="10" '
                   f'fill="{shade}">{text(column.label)}</text>')  # fmt: skip
    for i, row in enumerate(rows):
        top = 24 + i * cell
        out.append(f'<text x="{label_w - 8}" y="{top + cell / 2 + 4:.1f}" text-anchor="end" '
                   f'font-size="12" fill="{INK}">{text(row.label)}</text>')  # fmt: skip
        for j, column in enumerate(columns):
            value = row.values[j] if j < len(row.values) else 0.0
            fill = heat_colour(value, full)
            if value <= 0 and column.muted:
                fill = "#e5e6eb"
            tip = f"{row.label} {column.label}: {_number(value)}{unit}"
            out.append(f'<rect class="cell" x="{label_w + j * cell + 1}" y="{top + 1}" '
                       f'width="{cell - 2}" height="{cell - 2}" rx="3" fill="{fill}">'
                       f"<title>{text(tip)}</title></rect>")  # fmt: skip
            if value > 0:
                ink = "#ffffff" if fill in _HEAT[3:] else INK
                out.append(f'<text x="{label_w + j * cell + cell / 2:.1f}" y="{top + cell / 2 + 4:.1f}" '
                           f'text-anchor="middle" font-size="10" fill="{ink}">{_number(value)}</text>')  # fmt: skip
    if not rows and empty:
        out.append(f'<text x="{label_w}" y="{24 + cell / 2 + 4:.0f}" font-size="12" '
                   f'fill="{MUTED}">{text(empty)}</text>')  # fmt: skip
    out.append("</svg>")
    return "".join(out)
