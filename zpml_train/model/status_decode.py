"""Status labels of decoded outputs: finite, censored by side, the head's kind, or bottom.

The SCM decode says where an output is ⊥ and on which side (the sign of
``P``); which label a ⊥ gets depends on what the head can tell: a gated
head's kind output (censored, domain_invalid or bottom, fault), else the
⊥ labels the model was trained on. Vectorised: no per-row work.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from zpml_data.status import Status

_CENSORED = frozenset({Status.CENSORED_BELOW, Status.CENSORED_ABOVE})


def kind_statuses(status_counts: Mapping[str, int] | None) -> tuple[int, int]:
    """What a ⊥ of kind "domain_invalid or bottom", and a ⊥ of a head without kinds, mean.

    Decided by the ⊥ labels the model was trained on: a head without kind
    outputs can name a ⊥ only when its data held one kind of ⊥; the kind
    "domain_invalid or bottom" is ``domain_invalid`` unless ``bottom`` rows
    were trained too.

    Args:
        status_counts: The training data's status counts (``None``: unknown).

    Returns:
        ``(kind_1, no_kind)``: a status code, or -1 for "censored, by side".
    """
    seen = {
        Status[label.upper()]
        for label, count in (status_counts or {}).items()
        if count > 0 and Status[label.upper()] not in (Status.FINITE, Status.MISSING)
    }
    kind_1 = Status.DOMAIN_INVALID if Status.BOTTOM not in seen else Status.BOTTOM
    if Status.DOMAIN_INVALID in seen and Status.BOTTOM in seen:
        kind_1 = Status.BOTTOM  # the kind output cannot tell them apart
    if seen and seen <= _CENSORED:
        return int(kind_1), -1
    no_kind = next(iter(seen)) if len(seen) == 1 else Status.BOTTOM
    return int(kind_1), int(no_kind)


def decoded_codes(
    bottom: torch.Tensor,
    side: torch.Tensor,
    kind_logits: torch.Tensor | None,
    kind_statuses: tuple[int, int],
) -> torch.Tensor:
    """int8 status codes of decoded outputs (vectorised; no per-row work).

    Args:
        bottom: ``[B, T]`` True where ⊥.
        side: ``[B, T]`` int8 sign of ``P`` where ⊥.
        kind_logits: ``[B, T, 3]`` over (censored, domain_invalid or bottom,
            fault), or ``None``.
        kind_statuses: From :func:`kind_statuses`.
    """
    by_side = torch.full_like(side, int(Status.BOTTOM))
    by_side = by_side.masked_fill(side < 0, int(Status.CENSORED_BELOW))
    by_side = by_side.masked_fill(side > 0, int(Status.CENSORED_ABOVE))
    kind_1, no_kind = kind_statuses
    if kind_logits is not None:
        kind = kind_logits.argmax(dim=-1)
        lookup = torch.tensor([-1, kind_1, int(Status.FAULT)], device=kind.device)
        meaning = lookup[kind]
    else:
        meaning = torch.full_like(side, no_kind, dtype=torch.long)
    named = torch.where(meaning < 0, by_side.long(), meaning)
    codes = torch.where(bottom, named, torch.full_like(named, int(Status.FINITE)))
    return codes.to(torch.int8)
