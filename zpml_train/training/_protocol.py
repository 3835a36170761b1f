"""The loss protocol: which keyword arguments a loss function receives.

Every loss is called as ``loss_fn(outputs, (Y_n, Y_d), **keywords)``. The
keywords are the subset of :data:`LOSS_KEYWORDS` the loss names in its
signature (all of them if it takes ``**kwargs``), decided once, when the
trainer is built:

* ``semantic_targets``: the batch's :class:`~zpml_data.lift.SemanticTargets`
  (masks for ``missing``, finite and bottom rows, orientation, kind).
* ``values``: the batch's stored values, shaped like ``Y_n``: the value on
  finite cells, the detection limit on censored cells (NaN where none was
  stored; ±inf for legacy sentinel batches). Not passed for batches of
  ``(inputs, SemanticTargets)``, which carry no values.
* ``tau``: this step's bottom threshold (a float).
* ``inputs``: the batch's input tensor.
* ``epoch``: the epoch, from 0.
* ``global_step``: the training step, from 1 (0 before the first step).
* ``loss_weights``: the config's ``loss_weights``, through the curriculum
  when there is one; passed only when there are weights.

A loss whose signature cannot be read (some builtins) receives none.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

LOSS_KEYWORDS = (
    "semantic_targets",
    "values",
    "tau",
    "inputs",
    "epoch",
    "global_step",
    "loss_weights",
)


@dataclass(frozen=True)
class LossProtocol:
    """The keywords one loss function accepts.

    Attributes:
        accepted: The names from :data:`LOSS_KEYWORDS` the loss takes.
    """

    accepted: frozenset[str]

    @classmethod
    def of(cls, loss_fn: Callable[..., Any]) -> LossProtocol:
        """Inspect ``loss_fn``'s signature once."""
        try:
            parameters = inspect.signature(loss_fn).parameters.values()
        except (TypeError, ValueError):
            return cls(frozenset())
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
            return cls(frozenset(LOSS_KEYWORDS))
        named = {
            p.name
            for p in parameters
            if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        }
        return cls(frozenset(named & set(LOSS_KEYWORDS)))

    @property
    def masks_missing(self) -> bool:
        """Whether the loss receives ``semantic_targets`` and so can mask ``missing`` rows."""
        return "semantic_targets" in self.accepted

    def keywords(self, **available: Any) -> dict[str, Any]:
        """The accepted ones among ``available`` (``None`` values left out)."""
        return {
            name: value
            for name, value in available.items()
            if name in self.accepted and value is not None
        }
