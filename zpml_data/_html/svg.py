"""Inline SVG: plot frames, axes, lines per epoch, a stacked bar of status counts.

Every function returns an SVG fragment as text. Numbers are formatted here;
every piece of text that could come from data is escaped here too, so a
caller never has to remember to. Colours come from CSS classes the kit's
stylesheet defines (``train``/``val`` for lines, ``s0``…``s6`` for statuses,
see :mod:`zpml_data._html.palette`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from zpml_data._html.text import esc, fmt


@dataclass(frozen=True)
class Series:
    """One line of a chart: a value per epoch, NaN where there is none."""

    name: str
    values: Sequence[float]
    css: str


@dataclass(frozen=True)
class Frame:
    """Where a plot area sits in its viewBox and the data ranges it shows.

    ``margins`` are the space left, right, above and below the plot area
    (tick labels, bands for points that have no place on an axis).
    """

    width: float
    height: float
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    margins: tuple[float, float, float, float] = (46.0, 12.0, 10.0, 26.0)

    @property
    def left(self) -> float:
        """The viewBox x of the plot area's left edge."""
        return self.margins[0]

    @property
    def right(self) -> float:
        """The viewBox x of the plot area's right edge."""
        return self.width - self.margins[1]

    @property
    def top(self) -> float:
        """The viewBox y of the plot area's top edge."""
        return self.margins[2]

    @property
    def bottom(self) -> float:
        """The viewBox y of the plot area's bottom edge."""
        return self.height - self.margins[3]

    def x(self, value: float) -> float:
        """The viewBox x of a data x."""
        lo, hi = self.x_range
        return self.left + (value - lo) / (hi - lo) * (self.right - self.left)

    def y(self, value: float) -> float:
        """The viewBox y of a data y (up is larger)."""
        lo, hi = self.y_range
        return self.bottom - (value - lo) / (hi - lo) * (self.bottom - self.top)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values covering ``[lo, hi]`` (1, 2, 5 × 10^k steps)."""
    if not hi > lo:
        return [lo]
    raw = (hi - lo) / max(count - 1, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1.0, 2.0, 5.0, 10.0) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9)
    return [k * step for k in range(first, math.floor(hi / step + 1e-9) + 1)]


def padded_range(values: np.ndarray, unit: bool = False) -> tuple[float, float]:
    """A y range for finite ``values``: ``[0, 1]`` for shares, else their span padded by 8%."""
    if unit:
        return 0.0, 1.0
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    pad = (hi - lo) * 0.08 or abs(hi) * 0.1 or 1.0
    return (0.0 if lo >= 0 and lo - pad < 0 else lo - pad), hi + pad


def axes(frame: Frame, x_ticks: Sequence[float], y_ticks: Sequence[float]) -> list[str]:
    """Grid lines and tick labels of a plot area."""
    parts = []
    left, right, top, bottom = frame.left, frame.right, frame.top, frame.bottom
    for tick in y_ticks:
        y = frame.y(tick)
        parts.append(f'<line class="grid" x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="tick" x="{left - 6}" y="{y + 3.5:.1f}" text-anchor="end">')
        parts.append(f"{esc(fmt(tick))}</text>")
    for tick in x_ticks:
        x = frame.x(tick)
        parts.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{bottom}"/>')
        parts.append(f'<text class="tick" x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">')
        parts.append(f"{esc(fmt(tick))}</text>")
    parts.append(f'<rect class="plot" x="{left}" y="{top}" width="{right - left}" ')
    parts.append(f'height="{bottom - top}"/>')
    return parts


def line_chart(chart_id: str, epochs: Sequence[int], series: Sequence[Series], unit: bool) -> str:
    """One metric per epoch, a line per series; gaps where a value is missing.

    Args:
        chart_id: The ``id`` of the ``<svg>`` element.
        epochs: The x values.
        series: The lines (train, validation).
        unit: The metric is a share: the y axis spans 0 to 1.

    Returns:
        An ``<svg>`` element.
    """
    values = [np.asarray(s.values, dtype=float) for s in series]
    every = np.concatenate(values) if values else np.array([])
    last = max(epochs[-1], epochs[0] + 1) if epochs else 1
    frame = Frame(360.0, 200.0, (epochs[0] if epochs else 0, last), padded_range(every, unit))
    x_ticks = [t for t in nice_ticks(frame.x_range[0], last, 6) if float(t).is_integer()]
    parts = axes(frame, x_ticks, nice_ticks(*frame.y_range))
    for line, ys in zip(series, values, strict=True):
        parts += _polyline(frame, epochs, ys, line)
    if not np.isfinite(every).any():
        x, y = (frame.left + frame.right) / 2, frame.height / 2
        parts.append(f'<text class="empty" x="{x}" y="{y}" text-anchor="middle">')
        parts.append("no rows to count: the denominator is 0</text>")
    return svg_element(chart_id, frame, parts)


def _polyline(frame: Frame, epochs: Sequence[int], ys: np.ndarray, line: Series) -> list[str]:
    """A series as polylines broken at missing values, and a dot with a tooltip per value."""
    parts: list[str] = []
    run: list[str] = []
    for epoch, value in [*zip(epochs, ys, strict=True), (None, math.nan)]:
        if value == value and epoch is not None:
            run.append(f"{frame.x(epoch):.1f},{frame.y(value):.1f}")
            continue
        if len(run) > 1:
            parts.append(f'<polyline class="{line.css}" points="{" ".join(run)}"/>')
        run = []
    for epoch, value in zip(epochs, ys, strict=True):
        if value == value:
            parts.append(
                f'<circle class="{line.css}" cx="{frame.x(epoch):.1f}" cy="{frame.y(value):.1f}" '
                f'r="3"><title>{esc(line.name)}, epoch {epoch}: {esc(fmt(value))}'
                "</title></circle>"
            )
    return parts


def stacked_bar(bar_id: str, segments: Sequence[tuple[str, int, str]]) -> str:
    """A 100% bar of counts: ``(label, count, css class)`` per segment, with tooltips."""
    total = sum(count for _, count, _ in segments)
    parts, x = [], 0.0
    for label, count, css in segments:
        if count <= 0 or total <= 0:
            continue
        width = 1000.0 * count / total
        parts.append(
            f'<rect class="{css}" x="{x:.2f}" y="0" width="{width:.2f}" height="28">'
            f"<title>{esc(label)}: {count:,} ({count / total:.1%})</title></rect>"
        )
        x += width
    return (
        f'<svg id="{esc(bar_id)}" class="bar" viewBox="0 0 1000 28" '
        f'preserveAspectRatio="none" role="img">{"".join(parts)}</svg>'
    )


def svg_element(chart_id: str, frame: Frame, parts: Sequence[str]) -> str:
    """Wrap drawn ``parts`` in an ``<svg>`` with the frame's viewBox."""
    return (
        f'<svg id="{esc(chart_id)}" viewBox="0 0 {frame.width:g} {frame.height:g}" '
        f'role="img">{"".join(parts)}</svg>'
    )
