"""The page shell every report shares: a header with tiles, then cards.

A page is one self-contained file: inline CSS and SVG, no scripts, nothing
fetched. Every function here escapes what it is given as text; arguments
named ``body`` or ``sections`` are HTML the caller built with this kit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from zpml_data._html.palette import INVALID, STATUS_COLOURS, status_class
from zpml_data._html.style import STYLE
from zpml_data._html.svg import stacked_bar
from zpml_data._html.text import esc, share
from zpml_data.status import STATUS_LABELS


@dataclass(frozen=True)
class Tile:
    """One figure in the header: a big value over its name.

    Attributes:
        value: The figure as shown (already formatted).
        name: What it is.
        tone: ``"pass"``, ``"warn"`` or ``"fail"`` colours the tile; empty: neutral.
    """

    value: str
    name: str
    tone: str = ""


def page(
    title: str, *, kicker: str, sub: str, tiles: Sequence[Tile], sections: Sequence[str]
) -> str:
    """A whole page: the header (kicker, title, a line under it, the tiles), then ``sections``."""
    tile_html = "".join(
        f'<div class="tile{" " + esc(t.tone) if t.tone else ""}"><div class="big">'
        f"{esc(t.value)}</div><div>{esc(t.name)}</div></div>"
        for t in tiles
    )
    header = (
        f'<header><p class="kicker">{esc(kicker)}</p><h1>{esc(title)}</h1>'
        f'<p class="sub">{esc(sub)}</p><div class="tiles">{tile_html}</div></header>'
    )
    # The title comes before the stylesheet: zpml train knows its own report by its first bytes.
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(kicker)}: {esc(title)}</title><style>{STYLE}</style></head>"
        f"<body><main>{header}{''.join(sections)}</main></body></html>\n"
    )


def card(title: str, body: str, *, sub: str = "") -> str:
    """A card: a titled section; ``sub`` is a line of plain text under the title."""
    line = f'<p class="sub">{esc(sub)}</p>' if sub else ""
    return f"<section><h2>{esc(title)}</h2>{line}{body}</section>"


def dot(label: str) -> str:
    """A coloured dot for ``label``, followed by the label."""
    return f'<i class="dot {status_class(label)}"></i>{esc(label)}'


def legend(counts: Mapping[str, int] | None = None) -> str:
    """A key of the status colours (with a count per label when ``counts`` is given)."""
    labels = list(counts) if counts is not None else [*STATUS_COLOURS, INVALID]
    keys = "".join(
        f'<span class="key-dot">{dot(label)}'
        + (f" {counts[label]:,}" if counts is not None else "")
        + "</span>"
        for label in labels
    )
    return f'<p class="legend">{keys}</p>'


def mix_labels(splits: Sequence[tuple[str, Mapping[str, int]]]) -> list[str]:
    """The seven labels in code order, then any other name the counts hold (sorted)."""
    extra = {str(label) for _, counts in splits for label in counts} - set(STATUS_LABELS)
    return [*STATUS_LABELS, *sorted(extra, key=lambda label: (label != INVALID, label))]


def status_mix(
    splits: Sequence[tuple[str, Mapping[str, int]]], table_id: str, bar_prefix: str = "mix"
) -> str:
    """A 100% bar per split, then a table of each label's count and share per split.

    Args:
        splits: ``(name, label -> count)`` per column (``training``, ``validation``; ``rows``).
        table_id: The table's ``id``.
        bar_prefix: Each bar's ``id`` is ``<bar_prefix>-<split name>``.
    """
    labels = mix_labels(splits)
    bars = "".join(
        f'<div class="bar-row"><span>{esc(name)}</span>'
        + stacked_bar(
            f"{bar_prefix}-{name}",
            [(label, int(counts.get(label, 0)), status_class(label)) for label in labels],
        )
        + "</div>"
        for name, counts in splits
    )
    head = "".join(
        f'<th class="num">{esc(name)}</th><th class="num">share</th>' for name, _ in splits
    )
    rows = "".join(
        f'<tr data-label="{esc(label)}"><td>{dot(label)}</td>'
        + "".join(_count_cells(int(counts.get(label, 0)), counts) for _, counts in splits)
        + "</tr>"
        for label in labels
    )
    totals = "".join(_count_cells(sum(counts.values()), counts) for _, counts in splits)
    return (
        f'{bars}<table id="{esc(table_id)}"><thead><tr><th>status</th>{head}</tr></thead>'
        f"<tbody>{rows}</tbody>"
        f'<tfoot><tr data-label="total"><td>total</td>{totals}</tr></tfoot></table>'
    )


def _count_cells(count: int, counts: Mapping[str, int]) -> str:
    muted = " muted" if count == 0 else ""
    total = sum(counts.values())
    return f'<td class="num{muted}">{count:,}</td><td class="num{muted}">{share(count, total)}</td>'


def mix_rows(rows: Sequence[tuple[str, Mapping[str, int]]], bar_id: str) -> str:
    """A slim 100% bar per named row (a group, a file), with the row's total beside its name."""
    labels = mix_labels(rows)
    return "".join(
        f'<div class="bar-row counted"><span>{esc(name)}</span>'
        f'<span class="num">{sum(counts.values()):,}</span>'
        + stacked_bar(
            f"{bar_id}-{index}",
            [(label, int(counts.get(label, 0)), status_class(label)) for label in labels],
        )
        + "</div>"
        for index, (name, counts) in enumerate(rows)
    )
