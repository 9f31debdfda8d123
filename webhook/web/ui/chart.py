"""The 30-day chart's geometry, computed here and drawn by the template as inline SVG (no script).

Top panel: each day's average backup duration as a bar, its longest as a tick. Bottom panel: each
day's backups stacked by outcome (ok, failed, running). Every shape carries a <title> for hover and
screen readers, and the page prints the same numbers as text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from ...core.status import DayBucket
from .formatting import duration

WIDTH, LEFT, RIGHT = 720.0, 66.0, 8.0
DUR_TOP, DUR_HEIGHT = 10.0, 110.0
COUNT_TOP, COUNT_HEIGHT = 150.0, 60.0
HEIGHT = 236.0
ORDER = ("ok", "failed", "running")


@dataclass
class Rect:
    x: float
    y: float
    w: float
    h: float
    kind: str
    title: str


@dataclass
class Tick:
    x1: float
    x2: float
    y: float
    title: str


@dataclass
class Label:
    x: float
    y: float
    text: str
    anchor: str = "middle"


@dataclass
class Chart:
    width: float = WIDTH
    height: float = HEIGHT
    bars: list[Rect] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    grid: list[float] = field(default_factory=list)  # y of horizontal rules
    total: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    mean: float | None = None
    longest: float | None = None
    days: int = 0

    @property
    def plot_left(self) -> float:
        return LEFT

    @property
    def plot_right(self) -> float:
        return WIDTH - RIGHT


def _axis(seconds: float) -> str:
    """Short axis labels (they must fit the left margin on a phone)."""
    if seconds < 120:
        return f"{seconds:g} s"
    if seconds < 7200:
        return f"{seconds / 60:g} m"
    return f"{seconds / 3600:.3g} h"


def _nice_ceiling(seconds: float) -> float:
    """A round top for the duration axis: 1, 2, 5 × a power of ten, in minutes once past two."""
    if seconds <= 0:
        return 60.0
    unit = 60.0 if seconds > 120 else 1.0
    value = seconds / unit
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return step * power * unit
    return 10 * power * unit


def build(buckets: list[DayBucket]) -> Chart:
    chart = Chart(days=len(buckets))
    if not buckets:
        return chart
    slot = (WIDTH - LEFT - RIGHT) / len(buckets)
    bar_w = max(2.0, slot * 0.7)
    top_seconds = _nice_ceiling(max((b.max_seconds or 0.0) for b in buckets))
    top_count = max(1, max(b.total for b in buckets))
    timed, duration_sum = 0, 0.0
    for k, bucket in enumerate(buckets):
        x = LEFT + k * slot + (slot - bar_w) / 2
        day = bucket.day.isoformat()
        timed += bucket.timed
        duration_sum += bucket.duration_sum
        for kind, count in bucket.counts.items():
            chart.counts[kind] = chart.counts.get(kind, 0) + count
        chart.total += bucket.total
        if bucket.mean_seconds is not None and bucket.max_seconds is not None:
            height = DUR_HEIGHT * bucket.mean_seconds / top_seconds
            chart.bars.append(Rect(x, DUR_TOP + DUR_HEIGHT - height, bar_w, max(height, 1.0), "duration",
                                   f"{day}: average {duration(bucket.mean_seconds)}, "
                                   f"longest {duration(bucket.max_seconds)}"))
            y = DUR_TOP + DUR_HEIGHT - DUR_HEIGHT * bucket.max_seconds / top_seconds
            chart.ticks.append(Tick(x, x + bar_w, y, f"{day}: longest {duration(bucket.max_seconds)}"))
        base = COUNT_TOP + COUNT_HEIGHT
        for kind in ORDER:
            count = bucket.counts.get(kind, 0)
            if not count:
                continue
            height = COUNT_HEIGHT * count / top_count
            base -= height
            chart.bars.append(Rect(x, base, bar_w, height, kind, f"{day}: {count} {kind}"))
    chart.grid = [DUR_TOP, DUR_TOP + DUR_HEIGHT / 2, DUR_TOP + DUR_HEIGHT, COUNT_TOP, COUNT_TOP + COUNT_HEIGHT]
    chart.labels = [
        Label(LEFT - 6, DUR_TOP + 4, _axis(top_seconds), "end"),
        Label(LEFT - 6, DUR_TOP + DUR_HEIGHT / 2 + 4, _axis(top_seconds / 2), "end"),
        Label(LEFT - 6, DUR_TOP + DUR_HEIGHT + 4, "0", "end"),
        Label(LEFT - 6, COUNT_TOP + 4, str(top_count), "end"),
        Label(LEFT - 6, COUNT_TOP + COUNT_HEIGHT + 4, "0", "end"),
        Label(LEFT + slot / 2, HEIGHT - 6, buckets[0].day.strftime("%b %d"), "start"),
        Label(LEFT + slot * (len(buckets) // 2) + slot / 2, HEIGHT - 6,
              buckets[len(buckets) // 2].day.strftime("%b %d")),
        Label(WIDTH - RIGHT, HEIGHT - 6, buckets[-1].day.strftime("%b %d"), "end"),
        Label(LEFT + 4, DUR_TOP + 12, "duration", "start"),
        Label(LEFT + 4, COUNT_TOP + 12, "backups", "start"),
    ]
    if timed:
        chart.mean = duration_sum / timed
        chart.longest = max(b.max_seconds or 0.0 for b in buckets)
    return chart


def svg(chart: Chart, title: str) -> Markup:
    """The chart as inline SVG markup; every text is escaped here (numbers are formatted, never raw input).

    Written as one string rather than a Jinja loop: it has a few hundred elements and is on every overview.
    """
    parts = [f'<svg viewBox="0 0 {chart.width:g} {chart.height:g}" role="img" aria-labelledby="chart-title" '
             f'preserveAspectRatio="xMidYMid meet"><title id="chart-title">{escape(title)}</title>']
    parts += [f'<line class="grid" x1="{chart.plot_left:.1f}" x2="{chart.plot_right:.1f}" y1="{y:.1f}" y2="{y:.1f}"/>'
              for y in chart.grid]
    parts += [f'<rect class="bar {escape(b.kind)}" x="{b.x:.1f}" y="{b.y:.1f}" width="{b.w:.1f}" height="{b.h:.1f}">'
              f'<title>{escape(b.title)}</title></rect>' for b in chart.bars]
    parts += [f'<line class="tick" x1="{t.x1:.1f}" x2="{t.x2:.1f}" y1="{t.y:.1f}" y2="{t.y:.1f}">'
              f'<title>{escape(t.title)}</title></line>' for t in chart.ticks]
    parts += [f'<text x="{label.x:.1f}" y="{label.y:.1f}" text-anchor="{escape(label.anchor)}">'
              f'{escape(label.text)}</text>' for label in chart.labels]
    parts.append("</svg>")
    return Markup("".join(parts))
