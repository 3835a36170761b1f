"""Realistic tables for the semantic audit: lab exports with per-site limits, survival data."""

from __future__ import annotations

import numpy as np
import pandas as pd

# Per-site detection limits (LoD) and upper limits of quantification (ULoQ).
SITES = {"site-A": (1.5, 6.0), "site-B": (1.0, 8.0), "site-C": (2.0, 6.0)}


def lab_export(seed: int, rows_per_site: int = 10_000) -> pd.DataFrame:
    """Readings rounded to two decimals; below a site's LoD `<LoD`, above its ULoQ `>ULoQ`.

    About 40 finite readings per 0.01 step just above site-A's limit of 1.5.
    """
    rng = np.random.default_rng(seed)
    parts = []
    for site, (lod, uloq) in SITES.items():
        dose = rng.uniform(0.0, 10.0, rows_per_site)
        reading = np.round(rng.lognormal(np.log(1.8), 0.5, rows_per_site) * (1 + dose / 40), 2)
        status = np.where(reading < lod, "censored_below", "finite").astype(object)
        status[reading > uloq] = "censored_above"
        value = np.where(reading < lod, lod, np.where(reading > uloq, uloq, reading))
        lost = rng.random(rows_per_site) < 0.02
        status[lost], value[lost] = "missing", np.nan
        parts.append(pd.DataFrame({"value": value, "status": status, "site": site, "dose": dose}))
    frame = pd.concat(parts, ignore_index=True)
    frame["temperature"] = np.round(rng.normal(21.0, 1.5, len(frame)), 1)
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def survival(seed: int = 0, rows: int = 300) -> pd.DataFrame:
    """Right-censored follow-up: an event is a finite time; a censored row its own time.

    The export keeps the time and the event flag as columns, next to the target
    built from them, as public survival tables do.
    """
    rng = np.random.default_rng(seed)
    event_time = rng.exponential(120.0, rows)
    follow_up = rng.uniform(5.0, 280.0, rows)
    event = event_time <= follow_up
    time = np.round(np.minimum(event_time, follow_up), 3)
    return pd.DataFrame(
        {
            "value": time,
            "status": np.where(event, "finite", "censored_above"),
            "age": np.round(rng.normal(60.0, 10.0, rows)),
            "ejection_fraction": rng.integers(15, 70, rows).astype(float),
            "time": time,
            "event": event.astype(int),
        }
    )
