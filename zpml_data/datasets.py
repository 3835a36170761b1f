"""Bundled example datasets, generated deterministically from a seed.

Each generator returns a pandas DataFrame with plain feature columns, a
``value`` column and a ``status`` column (categorical over the seven labels),
so the whole pipeline can be run without outside data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from zpml_data.status import STATUS_LABELS, Status

SITES = ("site-A", "site-B", "site-C", "site-D")


def _status_column(codes: np.ndarray) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, categories=list(STATUS_LABELS))


def assay_dose_response(n_rows: int = 20_000, seed: int = 0) -> pd.DataFrame:
    """An assay-style dose–response table with detection limits, faults and gaps.

    The response follows a Hill curve of log-dose with per-site shifts. Rows
    whose response falls below the lower limit of detection are
    ``censored_below`` and carry the limit as their value; rows above the
    upper limit of quantification are ``censored_above`` and carry that limit.
    Negative doses (mis-keyed entries) are ``domain_invalid``, about 1% of
    rows are instrument ``fault`` readings and 2% are ``missing``.

    Args:
        n_rows: Number of rows.
        seed: Seed of the random generator; the same seed gives the same table.

    Returns:
        Columns ``site``, ``dose``, ``temperature``, ``incubation_h``,
        ``value``, ``status``.
    """
    rng = np.random.default_rng(seed)
    site_index = rng.integers(0, len(SITES), n_rows)
    dose = 10.0 ** rng.uniform(-2.5, 1.5, n_rows)
    dose[rng.random(n_rows) < 0.01] *= -1.0  # mis-keyed entries
    temperature = rng.normal(37.0, 0.5, n_rows)
    incubation_h = rng.choice(np.array([24.0, 48.0, 72.0]), n_rows)
    ec50 = 1.0 * 2.0 ** (site_index - 1.5)
    hill = 1.2
    with np.errstate(invalid="ignore", divide="ignore"):
        response = 100.0 / (1.0 + (ec50 / dose) ** hill)
    response = response * (1.0 + 0.002 * (incubation_h - 48.0)) + rng.normal(0.0, 1.5, n_rows)

    lower_limit, upper_limit = 2.0, 97.0
    codes = np.full(n_rows, Status.FINITE, dtype=np.int8)
    value = response.copy()
    below = response < lower_limit
    above = response > upper_limit
    codes[below], value[below] = Status.CENSORED_BELOW, lower_limit
    codes[above], value[above] = Status.CENSORED_ABOVE, upper_limit
    invalid = dose < 0.0
    codes[invalid], value[invalid] = Status.DOMAIN_INVALID, np.nan
    draw = rng.random(n_rows)
    fault = ~invalid & (draw < 0.01)
    missing = ~invalid & (draw >= 0.01) & (draw < 0.03)
    codes[fault], value[fault] = Status.FAULT, np.nan
    codes[missing], value[missing] = Status.MISSING, np.nan

    return pd.DataFrame(
        {
            "site": pd.Categorical.from_codes(site_index, categories=list(SITES)),
            "dose": dose,
            "temperature": temperature,
            "incubation_h": incubation_h,
            "value": value,
            "status": _status_column(codes),
        }
    )


def rational_poles(n_rows: int = 20_000, seed: int = 0, pole_width: float = 0.01) -> pd.DataFrame:
    """Samples of ``y = (x² + 1) / (x² − 0.25)``, with poles at ``x = ±0.5``.

    Targets within ``pole_width`` of a pole are ``bottom`` (value NaN): the
    function is undefined there, and a projective model should learn it.

    Args:
        n_rows: Number of rows.
        seed: Seed of the random generator.
        pole_width: Half-width of the bottom band around each pole.

    Returns:
        Columns ``x``, ``value``, ``status``.
    """
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2.0, 2.0, n_rows)
    near_pole = np.abs(np.abs(x) - 0.5) < pole_width
    with np.errstate(divide="ignore"):
        value = (x**2 + 1.0) / (x**2 - 0.25)
    value[near_pole] = np.nan
    codes = np.where(near_pole, Status.BOTTOM, Status.FINITE).astype(np.int8)
    return pd.DataFrame({"x": x, "value": value, "status": _status_column(codes)})


DATASETS = {"assay": assay_dose_response, "rational": rational_poles}


# Why a legacy export blanked a value, for the statuses a sentinel cannot tell apart.
LEGACY_FLAGS = {
    Status.FAULT.label: "sensor_fault",
    Status.MISSING.label: "not_measured",
    Status.DOMAIN_INVALID.label: "negative_dose",
}


def legacy_export(frame: pd.DataFrame) -> pd.DataFrame:
    """The same table as a legacy pipeline would have exported it.

    Censored rows become ±inf (the limit is lost), every other non-finite
    status becomes NaN, and a ``flag`` column says why for faults, missing
    readings and negative doses. There is no status column.

    Args:
        frame: A labelled table with ``value`` and ``status`` columns.

    Returns:
        The table without ``status``, with sentinel values and ``flag``.
    """
    status = frame["status"].astype(str)
    value = frame["value"].where(status == Status.FINITE.label, np.nan)
    value = value.mask(status == Status.CENSORED_ABOVE.label, np.inf)
    value = value.mask(status == Status.CENSORED_BELOW.label, -np.inf)
    legacy = frame.drop(columns=["status"]).assign(value=value)
    legacy["flag"] = status.map(LEGACY_FLAGS)  # NaN where the sentinel says it all
    return legacy


# The legacy code the lab export writes for a reading that was never taken.
LEGACY_MISSING_CODE = -999.0


def lab_export(frame: pd.DataFrame, seed: int = 0) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The assay table as a lab exported it: limits as ``<x``/``>x`` text, and planted defects.

    Like :func:`legacy_export`, with the censored rows written as text
    markers that keep their limit (the ``value`` column is text). One
    defect of each kind the semantic audit looks for is planted:

    * ``censored_bound_present``: five censored rows written as ``±inf``;
    * ``finite_beyond_limit``: one site-B reading below the detection limit
      written as a plain number;
    * ``heaping_at_limit``: 150 site-C readings below the limit written as
      the limit itself instead of ``<x``;
    * ``sentinel_number``: readings never taken written as ``-999``, unflagged;
    * ``status_skew_by_group``: one site-D finite reading in ten reported as
      a sensor fault.

    Args:
        frame: The table :func:`assay_dose_response` returns.
        seed: Seed of the random choice of rows.

    Returns:
        The export and, per check, the rows planted for it.
    """
    rng = np.random.default_rng(seed)
    status = frame["status"].astype(str).to_numpy()
    site = frame["site"].astype(str).to_numpy()
    export = legacy_export(frame)
    text = frame["value"].round(4).astype(str).to_numpy(dtype=object)
    text[status == Status.CENSORED_BELOW.label] = "<" + text[status == Status.CENSORED_BELOW.label]
    text[status == Status.CENSORED_ABOVE.label] = ">" + text[status == Status.CENSORED_ABOVE.label]
    text[export["value"].isna().to_numpy()] = None
    below = np.flatnonzero(status == Status.CENSORED_BELOW.label)
    finite_d = np.flatnonzero((status == Status.FINITE.label) & (site == "site-D"))
    planted = {
        "censored_bound_present": below[:5],
        "finite_beyond_limit": below[site[below] == "site-B"][5:6],
        "heaping_at_limit": below[site[below] == "site-C"][5:155],
        "sentinel_number": np.flatnonzero(status == Status.MISSING.label),
        "status_skew_by_group": finite_d[rng.random(finite_d.size) < 0.1],
    }
    text[planted["censored_bound_present"]] = "-inf"
    text[planted["finite_beyond_limit"]] = "0.5"
    heaped = pd.Series(text[planted["heaping_at_limit"]], dtype=str)
    text[planted["heaping_at_limit"]] = heaped.str.removeprefix("<").to_numpy(dtype=object)
    text[planted["sentinel_number"]] = f"{LEGACY_MISSING_CODE:g}"
    text[planted["status_skew_by_group"]] = None
    flag = export["flag"].to_numpy(dtype=object)
    flag[planted["sentinel_number"]] = None
    flag[planted["status_skew_by_group"]] = LEGACY_FLAGS[Status.FAULT.label]
    return export.assign(value=text, flag=flag), planted
