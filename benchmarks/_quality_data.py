"""The three datasets of the quality benchmark, split by a seed.

* ``assay``: the demo's dose–response table (finite, censored by detection
  limits, ``domain_invalid``, ``fault``, ``missing``), inputs dose,
  temperature, incubation_h (the numeric columns a shard holds), 80/20.
* ``survival``: the recidivism table shipped in lifelines' wheel (432
  released prisoners; an arrest is a finite week, no arrest within the year
  is ``censored_above`` with its week as the limit), 70/30.
* ``poles``: ``rational_poles()`` (``bottom`` near the poles), 80/20.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zpml_data import encode_status
from zpml_data.datasets import assay_dose_response, rational_poles
from zpml_data.status import Status

ASSAY_INPUTS = ("dose", "temperature", "incubation_h")
SURVIVAL_INPUTS = ("fin", "age", "race", "wexp", "mar", "paro", "prio")


@dataclass(frozen=True)
class Part:
    """One side of a split: inputs, stored values (limits on censored rows), status codes."""

    x: np.ndarray  # float32 [N, F]
    values: np.ndarray  # float32 [N]
    codes: np.ndarray  # int8 [N]

    def rows(self, status: Status) -> np.ndarray:
        """Bool mask of the rows with ``status``."""
        return self.codes == int(status)


@dataclass(frozen=True)
class Split:
    """A dataset split into training and validation rows."""

    name: str
    inputs: tuple[str, ...]
    train: Part
    val: Part


def _split(
    name: str,
    inputs: tuple[str, ...],
    x: np.ndarray,
    values: np.ndarray,
    codes: np.ndarray,
    train_share: float,
    seed: int,
) -> Split:
    order = np.random.default_rng(seed).permutation(len(codes))
    cut = round(train_share * len(codes))

    def part(rows: np.ndarray) -> Part:
        return Part(x[rows].astype(np.float32), values[rows].astype(np.float32), codes[rows])

    return Split(name, inputs, part(order[:cut]), part(order[cut:]))


def assay(seed: int, rows: int = 20_000) -> Split:
    """The demo's assay table (generated with seed 0), split 80/20 by ``seed``."""
    frame = assay_dose_response(n_rows=rows, seed=0)
    x = frame[list(ASSAY_INPUTS)].to_numpy(np.float64)
    codes = encode_status(frame["status"].astype(str).to_numpy())
    return _split("assay", ASSAY_INPUTS, x, frame["value"].to_numpy(np.float64), codes, 0.8, seed)


def survival(seed: int) -> Split:
    """The recidivism table: arrest → finite week, no arrest → censored_above at its week."""
    from lifelines.datasets import load_rossi

    frame = load_rossi()
    x = frame[list(SURVIVAL_INPUTS)].to_numpy(np.float64)
    codes = np.where(frame["arrest"].to_numpy() == 1, Status.FINITE, Status.CENSORED_ABOVE)
    values = frame["week"].to_numpy(np.float64)
    return _split("survival", SURVIVAL_INPUTS, x, values, codes.astype(np.int8), 0.7, seed)


def poles(seed: int, rows: int = 20_000) -> Split:
    """``rational_poles()`` (generated with seed 0), split 80/20 by ``seed``."""
    frame = rational_poles(n_rows=rows, seed=0)
    codes = encode_status(frame["status"].astype(str).to_numpy())
    x = frame[["x"]].to_numpy(np.float64)
    return _split("poles", ("x",), x, frame["value"].to_numpy(np.float64), codes, 0.8, seed)
