"""One colour per status label, derived from :class:`~zpml_data.status.Status`.

Every page draws a label in the same colour: the audit page, the training
report, and any page built on this kit. A status without a colour here fails
at import, so a new label cannot reach a page uncoloured.
"""

from __future__ import annotations

from zpml_data.status import STATUS_LABELS, Status

# Okabe–Ito: told apart by most colour-blind readers.
_BY_STATUS: dict[Status, str] = {
    Status.FINITE: "#0072b2",
    Status.BOTTOM: "#d55e00",
    Status.CENSORED_BELOW: "#cc79a7",
    Status.CENSORED_ABOVE: "#e69f00",
    Status.DOMAIN_INVALID: "#009e73",
    Status.MISSING: "#9a9a9a",
    Status.FAULT: "#222222",
}
STATUS_COLOURS: dict[str, str] = {status.label: _BY_STATUS[status] for status in Status}
# Not a status: a null or unknown status cell (the audit counts them apart).
INVALID = "invalid"
INVALID_COLOUR = "#f0e442"
# Any other name (an unknown label in counts from elsewhere).
OTHER_COLOUR = "#6b7385"


def status_class(label: str) -> str:
    """The CSS class that colours ``label``: ``s<code>``, ``s-invalid`` or ``s-other``."""
    if label in STATUS_COLOURS:
        return f"s{STATUS_LABELS.index(label)}"
    return "s-invalid" if label == INVALID else "s-other"


def colour(label: str) -> str:
    """The colour of ``label`` (a status label, ``invalid``, or anything else)."""
    return STATUS_COLOURS.get(label, INVALID_COLOUR if label == INVALID else OTHER_COLOUR)


def status_css() -> str:
    """CSS rules giving each status class its colour, as a fill and as a background."""
    classes = [*((status.label, f"s{int(status)}") for status in Status)]
    classes += [(INVALID, "s-invalid"), ("other", "s-other")]
    return "".join(
        f".{css}{{fill:{colour(label)};background:{colour(label)}}}" for label, css in classes
    )
