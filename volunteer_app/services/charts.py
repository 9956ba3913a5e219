"""Charts drawn on the server as inline SVG: no script, no style attributes (CSP), only
SVG presentation attributes and the classes of static/css/app.css.

Each chart is an image with a title and a description (role="img", aria-labelledby);
the page shows the same numbers in a table next to it, for screen readers and print.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

BAR = "#962d22"  # the brand's dark red: 7.9:1 on white
BAR_MUTED = "#c8a29e"
TEXT = "#212529"
MUTED_TEXT = "#495057"
GRID = "#dee2e6"
FONT_SIZE = 13


def _fmt(value: float) -> str:
    """A number as shown on a chart: whole numbers without decimals, others with one."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def text_width(text: str, size: float = FONT_SIZE) -> float:
    """Approximate rendered width: CJK and full-width characters one em, others 0.6 em."""
    return sum(size if ord(ch) > 0x2E7F else size * 0.6 for ch in text)


def fit(text: str, width: float, size: float = FONT_SIZE) -> str:
    """The text, shortened with an ellipsis to fit the width."""
    if text_width(text, size) <= width:
        return text
    out = ""
    for ch in text:
        if text_width(out + ch + "…", size) > width:
            break
        out += ch
    return out + "…"


def nice_max(value: float) -> float:
    """A round number at or above `value` for the top of an axis (1, 2, 2.5, 5 × 10ⁿ)."""
    if value <= 0:
        return 1
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        top = step * 10**exponent
        if top >= value:
            return top
    return 10 ** (exponent + 1)


def _open(chart_id: str, width: int, height: int, title: str, desc: str, css: str) -> list[str]:
    cid = escape(chart_id)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {escape(css)}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-labelledby="{cid}-title {cid}-desc" '
        f'font-size="{FONT_SIZE}" preserveAspectRatio="xMinYMin meet">',
        f'<title id="{cid}-title">{escape(title)}</title>',
        f'<desc id="{cid}-desc">{escape(desc)}</desc>',
    ]


def bar_chart(
    items: Sequence[tuple[str, float]],
    *,
    chart_id: str,
    title: str,
    desc: str,
    width: int = 640,
    bar_height: int = 22,
    gap: int = 8,
    empty_text: str = "—",
    value_format: Callable[[float], str] = _fmt,
) -> Markup:
    """A horizontal bar chart: one labelled bar per (label, value), in the given order."""
    top, bottom = 8, 8
    height = top + bottom + max(1, len(items)) * (bar_height + gap)
    parts = _open(chart_id, width, height, title, desc, "chart-bar")
    if not items:
        parts.append(
            f'<text x="{width / 2:.0f}" y="{height / 2 + 4:.0f}" text-anchor="middle" '
            f'fill="{MUTED_TEXT}">{escape(empty_text)}</text>'
        )
        parts.append("</svg>")
        return Markup("".join(parts))  # noqa: S704 - every value above is escaped
    longest = max(text_width(str(label)) for label, _value in items)
    label_width = min(max(longest, 48), width * 0.36) + 8
    value_room = max(text_width(value_format(v)) for _l, v in items) + 10
    plot = width - label_width - value_room - 4
    peak = max((v for _l, v in items), default=0)
    scale = plot / peak if peak > 0 else 0
    parts.append(
        f'<line x1="{label_width:.1f}" y1="{top}" x2="{label_width:.1f}" '
        f'y2="{height - bottom}" stroke="{GRID}" stroke-width="1"/>'
    )
    for i, (label, value) in enumerate(items):
        y = top + i * (bar_height + gap) + gap / 2
        middle = y + bar_height / 2 + FONT_SIZE * 0.35
        length = max(value, 0) * scale
        shown = fit(str(label), label_width - 6)
        parts.append("<g>")
        parts.append(
            f'<text x="{label_width - 6:.1f}" y="{middle:.1f}" text-anchor="end" '
            f'fill="{TEXT}">{escape(shown)}</text>'
        )
        parts.append(
            f'<rect x="{label_width:.1f}" y="{y:.1f}" width="{length:.1f}" '
            f'height="{bar_height}" fill="{BAR}" rx="2"/>'
        )
        parts.append(
            f'<text x="{label_width + length + 5:.1f}" y="{middle:.1f}" fill="{TEXT}" '
            f'class="chart-value">{escape(value_format(value))}</text>'
        )
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every value above is escaped


def trend_chart(
    points: Sequence[tuple[str, float]],
    *,
    chart_id: str,
    title: str,
    desc: str,
    width: int = 640,
    height: int = 240,
    year_marks: Sequence[str] | None = None,
    value_format: Callable[[float], str] = _fmt,
    axis_format: Callable[[float], str] = _fmt,
) -> Markup:
    """Monthly columns with a line through their tops; `points` are (short label, value),
    `year_marks` optional second-line labels (the year under its first month)."""
    left, right, top, bottom = 60, 12, 22, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    parts = _open(chart_id, width, height, title, desc, "chart-trend")
    peak = nice_max(max((v for _l, v in points), default=0))
    # Grid lines and axis labels at 0, ½ and the top.
    for fraction in (0, 0.5, 1):
        y = top + plot_h * (1 - fraction)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" '
            f'fill="{MUTED_TEXT}">{escape(axis_format(peak * fraction))}</text>'
        )
    n = max(len(points), 1)
    slot = plot_w / n
    column = min(slot * 0.6, 36)
    show_values = n <= 12
    line: list[str] = []
    for i, (label, value) in enumerate(points):
        cx = left + slot * i + slot / 2
        h = plot_h * max(value, 0) / peak
        y = top + plot_h - h
        parts.append("<g>")
        parts.append(
            f'<rect x="{cx - column / 2:.1f}" y="{y:.1f}" width="{column:.1f}" '
            f'height="{h:.1f}" fill="{BAR_MUTED}"/>'
        )
        if show_values and value:
            parts.append(
                f'<text x="{cx:.1f}" y="{y - 5:.1f}" text-anchor="middle" fill="{TEXT}" '
                f'class="chart-value">{escape(value_format(value))}</text>'
            )
        if n <= 24 or i % math.ceil(n / 24) == 0:
            parts.append(
                f'<text x="{cx:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                f'fill="{TEXT}">{escape(label)}</text>'
            )
        if year_marks and i < len(year_marks) and year_marks[i]:
            parts.append(
                f'<text x="{cx:.1f}" y="{height - bottom + 32}" text-anchor="middle" '
                f'fill="{MUTED_TEXT}">{escape(year_marks[i])}</text>'
            )
        parts.append("</g>")
        line.append(f"{cx:.1f},{y:.1f}")
    if len(line) > 1:
        parts.append(
            f'<polyline points="{" ".join(line)}" fill="none" stroke="{BAR}" '
            f'stroke-width="2.5" stroke-linejoin="round"/>'
        )
    for point in line:
        x, y = point.split(",")
        parts.append(f'<circle cx="{x}" cy="{y}" r="3.5" fill="{BAR}"/>')
    parts.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" '
        f'stroke="{MUTED_TEXT}" stroke-width="1"/>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every value above is escaped
