"""The report kit: one stylesheet, one palette derived from Status, SVG helpers, escaping.

The audit page and the training report are both built from it, so a label has
the same colour, and a page the same look, wherever zpml draws it. Imports only
numpy and the status vocabulary.
"""

from zpml_data._html.page import Tile, card, dot, legend, mix_rows, page, status_mix
from zpml_data._html.palette import INVALID, STATUS_COLOURS, colour, status_class
from zpml_data._html.svg import (
    Frame,
    Series,
    axes,
    line_chart,
    nice_ticks,
    stacked_bar,
    svg_element,
)
from zpml_data._html.text import esc, fmt, share

__all__ = [
    "INVALID",
    "STATUS_COLOURS",
    "Frame",
    "Series",
    "Tile",
    "axes",
    "card",
    "colour",
    "dot",
    "esc",
    "fmt",
    "legend",
    "line_chart",
    "mix_rows",
    "nice_ticks",
    "page",
    "share",
    "stacked_bar",
    "status_class",
    "status_mix",
    "svg_element",
]
