"""The report's prediction scatter: decoded predictions coloured by their target's status.

A point whose prediction decodes to ⊥ has no y: it goes into a band above
the plot, at its x. A point with no x (a target with no value, plotted
against targets) goes into a band to the right. Targets drawn as grey
"ghosts" (predictions against an input) put their own ⊥ rows in a second
band, right under the predictions' ⊥ band, so a reader sees at a glance
whether the model puts ⊥ where the data have it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zpml_data._html import Frame, axes, esc, fmt, nice_ticks, svg_element

_BAND = 22.0  # height (or width) of a band of points without a place on an axis
_JITTER = 7.0  # spread of points within a band, so a dense cluster shows its density


@dataclass(frozen=True)
class ScatterData:
    """What one scatter shows.

    Attributes:
        x: x per point; NaN: the point has no x (the right band).
        y: y per point; NaN: the prediction is ⊥ (the top band).
        codes: Each point's target status code (its colour).
        x_label: The x axis title.
        y_label: The y axis title.
        ghost_x: x of targets drawn in grey behind the points.
        ghost_y: Their y; NaN: a ⊥ target (the second band).
        diagonal: Draw ``y = x`` (predictions against targets).
    """

    x: np.ndarray
    y: np.ndarray
    codes: np.ndarray
    x_label: str
    y_label: str
    ghost_x: np.ndarray | None = None
    ghost_y: np.ndarray | None = None
    diagonal: bool = False


def _robust_range(*arrays: np.ndarray) -> tuple[float, float]:
    """The 0.5–99.5% span of the finite values, padded: a few huge ones do not flatten the rest."""
    finite = np.concatenate([a[np.isfinite(a)] for a in arrays]) if arrays else np.array([])
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = (float(q) for q in np.quantile(finite, [0.005, 0.995]))
    pad = (hi - lo) * 0.05 or abs(hi) * 0.1 or 1.0
    return lo - pad, hi + pad


def status_scatter(chart_id: str, data: ScatterData) -> str:
    """Draw ``data`` as an ``<svg>`` (see the module docstring for the bands)."""
    x_band = bool(np.isnan(data.x).any())
    ghost_band = data.ghost_y is not None
    ghosts = data.ghost_y if data.ghost_y is not None else np.array([])
    top = 8.0 + _BAND * (2 if ghost_band else 1) + 8.0
    frame = Frame(
        560.0,
        400.0,
        _robust_range(data.x),
        _robust_range(data.y, ghosts, *([data.x] if data.diagonal else [])),
        margins=(58.0, 14.0 + (_BAND + 12.0 if x_band else 0.0), top, 58.0),
    )
    parts = axes(frame, nice_ticks(*frame.x_range, 7), nice_ticks(*frame.y_range, 7))
    bands, band_names = _band_frames(frame, x_band, ghost_band)
    parts += bands
    if data.diagonal:
        parts += _diagonal(frame)
    rng = np.random.default_rng(0)  # fixed: the same run draws the same page
    x_pixels, y_pixels = (frame.left, frame.right), (frame.bottom, frame.top)
    xs, clamped_x = _place(data.x, frame.x_range, x_pixels, frame.right + 12 + _BAND / 2, rng)
    if data.ghost_x is not None and data.ghost_y is not None:
        gx, _ = _place(data.ghost_x, frame.x_range, x_pixels, frame.right, rng)
        gy, _ = _place(data.ghost_y, frame.y_range, y_pixels, 8.0 + _BAND * 1.5, rng)
        parts += [
            f'<circle class="ghost" cx="{x:.1f}" cy="{y:.1f}" r="1.6"/>'
            for x, y in zip(gx, gy, strict=True)
        ]
    ys, clamped_y = _place(data.y, frame.y_range, y_pixels, 8.0 + _BAND / 2, rng)
    for i in np.argsort(data.codes != 0, kind="stable"):  # rarer statuses over the finite ones
        parts.append(
            f'<circle class="s{int(data.codes[i])}" cx="{xs[i]:.1f}" cy="{ys[i]:.1f}" r="2.4"/>'
        )
    parts += _labels(frame, data, int((clamped_x | clamped_y).sum()))
    parts += band_names  # over the points: a dense band must not hide its name
    return svg_element(chart_id, frame, parts)


def _place(
    values: np.ndarray,
    span: tuple[float, float],
    pixels: tuple[float, float],
    band_at: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Viewbox coordinates: finite values clamped into ``span``, NaN ones jittered in a band.

    Returns:
        The coordinates, and which values lay beyond ``span``.
    """
    (lo, hi), (start, end) = span, pixels
    clamped = np.isfinite(values) & ((values < lo) | (values > hi))
    inside = np.clip(np.nan_to_num(values, nan=lo, posinf=hi, neginf=lo), lo, hi)
    coords = start + (inside - lo) / (hi - lo) * (end - start)
    jitter = rng.uniform(-_JITTER, _JITTER, len(values))
    return np.where(np.isnan(values), band_at + jitter, coords), clamped


def _band_frames(frame: Frame, x_band: bool, ghost_band: bool) -> tuple[list[str], list[str]]:
    """The shaded bands, and their names."""
    bands, names = [], []
    rows = [("⊥ predicted", 8.0)] + ([("⊥ target", 8.0 + _BAND)] if ghost_band else [])
    for name, y in rows:
        bands.append(
            f'<rect class="band" x="{frame.left}" y="{y}" width="{frame.right - frame.left}" '
            f'height="{_BAND - 2}"/>'
        )
        names.append(
            f'<text class="band-label" x="{frame.left + 6}" y="{y + _BAND / 2 + 2.5}">{name}</text>'
        )
    if x_band:
        x = frame.right + 12
        bands.append(
            f'<rect class="band" x="{x}" y="{frame.top}" width="{_BAND}" '
            f'height="{frame.bottom - frame.top}"/>'
        )
        names.append(
            f'<text class="band-label" x="{x + _BAND / 2}" y="{frame.bottom + 32}" '
            'text-anchor="middle">no value</text>'
        )
    return bands, names


def _diagonal(frame: Frame) -> list[str]:
    lo = max(frame.x_range[0], frame.y_range[0])
    hi = min(frame.x_range[1], frame.y_range[1])
    if not hi > lo:
        return []
    return [
        f'<line class="diagonal" x1="{frame.x(lo):.1f}" y1="{frame.y(lo):.1f}" '
        f'x2="{frame.x(hi):.1f}" y2="{frame.y(hi):.1f}"><title>prediction = target</title></line>'
    ]


def _labels(frame: Frame, data: ScatterData, clamped: int) -> list[str]:
    """Axis titles, and how many points sit on an edge because they lie beyond it."""
    mid_x, mid_y = (frame.left + frame.right) / 2, (frame.top + frame.bottom) / 2
    parts = [
        f'<text class="axis" x="{mid_x:.1f}" y="{frame.bottom + 34}" text-anchor="middle">'
        f"{esc(data.x_label)}</text>",
        f'<text class="axis" transform="translate(14 {mid_y:.1f}) rotate(-90)" '
        f'text-anchor="middle">{esc(data.y_label)}</text>',
    ]
    if clamped:
        parts.append(
            f'<text class="note" x="{frame.right}" y="{frame.height - 4}" text-anchor="end">'
            f"{esc(fmt(clamped))} beyond the axes, drawn on the edge</text>"
        )
    return parts
