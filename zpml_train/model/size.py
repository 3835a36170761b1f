"""How large a model may be: refused before anything of it is allocated.

Both the heads (building a model) and the spec (rebuilding one from an
untrusted checkpoint) ask this module, which imports neither.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from zpml_data.errors import ConfigError

MAX_PARAMETERS = 1 << 28  # 1 GiB of float32
# Head outputs per target, an upper bound over the heads (gated: latent, gate, side, 3 kinds).
_HEAD_OUTPUTS = 8


def check_model_size(
    input_dim: int, output_dim: int, hidden: Sequence[int], where: str, hint: str = ""
) -> None:
    """Refuse a model too large for this machine, before anything of it is allocated.

    Args:
        input_dim: Input features.
        output_dim: Targets.
        hidden: The hidden layers' widths.
        where: Named in the message.
        hint: Appended to the message (how to fix it).

    Raises:
        ConfigError: More than :data:`MAX_PARAMETERS` parameters, or more than
            fit in half of this machine's memory.
    """
    widths = list(hidden)
    parameters = parameter_count(input_dim, output_dim, widths)
    if parameters > min(MAX_PARAMETERS, _memory_parameters()):
        raise ConfigError(
            f"{where}: a model of {parameters:,} parameters ({input_dim} inputs, hidden "
            f"{widths}, {output_dim} targets) is too large to load here; it was not built{hint}"
        )


def parameter_count(input_dim: int, output_dim: int, hidden: list[int]) -> int:
    """An upper bound on the parameters of such a model (weights, biases and buffers)."""
    count, width = 2 * input_dim, input_dim  # the standardisation buffers
    for size in hidden:
        count += (width + 1) * size
        width = size
    return count + _HEAD_OUTPUTS * (width + 1) * output_dim


def _memory_parameters() -> int:
    """How many float32 parameters fit in half of this machine's memory (no bound if unknown)."""
    try:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return MAX_PARAMETERS
    return max(memory // 8, 1)
