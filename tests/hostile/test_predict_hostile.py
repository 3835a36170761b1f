"""``zpml predict`` and ``zpml evaluate`` under hostile use: one line, exit 2, nothing written.

A checkpoint is untrusted input: a pickle that would run code when loaded is
refused and its code never runs; outputs never land on or inside an input.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import torch

from tests.hostile.conftest import zpml_fails


class _Payload:
    """Unpickling it creates a directory: proof that loading ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.makedirs, (str(self.marker),))


def test_a_checkpoint_that_would_run_code_is_refused_and_its_code_never_runs(work):
    marker = work / "ran"
    evil = work / "evil.pt"
    state = torch.load(work / "run" / "best.pt", weights_only=True)
    torch.save({**state, "payload": _Payload(marker)}, evil)
    raw = work / "raw.pkl"
    raw.write_bytes(pickle.dumps(_Payload(marker)))
    data = work / "data" / "rows.parquet"
    for model in (evil, raw):
        zpml_fails(2, r"would run as code; refused|not a zpml checkpoint", "predict", model, data,
                   "--out", work / "p.parquet", inputs=(model, data))  # fmt: skip
        zpml_fails(2, r"would run as code; refused|not a zpml checkpoint", "evaluate", model, data,
                   inputs=(model, data))  # fmt: skip
    assert not marker.exists()
    assert not (work / "p.parquet").exists()


def test_an_output_on_or_inside_an_input_is_refused(work):
    data = work / "data"
    source = data / "rows.parquet"
    model = work / "run"
    zpml_fails(2, r"would overwrite the input", "predict", model, data, "--out",
               data / "pred.parquet", inputs=(data, model))  # fmt: skip
    zpml_fails(2, r"would overwrite the input", "predict", model, source, "--out", source,
               inputs=(data, model))  # fmt: skip
    link = work / "link.parquet"
    link.symlink_to(source)
    zpml_fails(2, r"would overwrite the input", "predict", model, source, "--out", link,
               inputs=(data, model))  # fmt: skip
    zpml_fails(2, r"would overwrite the input", "evaluate", model, source, "--json",
               model / "best.pt", inputs=(data, model))  # fmt: skip
    assert sorted(p.name for p in data.iterdir()) == ["rows.parquet"]


def test_bad_names_and_devices_are_one_line_usage_errors(work):
    source = work / "data" / "rows.parquet"
    model = work / "run"
    out = work / "q.parquet"
    zpml_fails(2, r"use \{target\}", "predict", model, source, "--out", out, "--value-name",
               "{nope}", inputs=(source,))  # fmt: skip
    zpml_fails(2, r"each must be different", "predict", model, source, "--out", out,
               "--value-name", "same", "--status-name", "same", inputs=(source,))  # fmt: skip
    zpml_fails(2, r"--keep names column\(s\) 'zz'", "predict", model, source, "--out", out,
               "--keep", "a,zz", inputs=(source,))  # fmt: skip
    zpml_fails(2, r"not a torch device|no CUDA device", "predict", model, source, "--out", out,
               "--device", "cuda:9" if not torch.cuda.is_available() else "tpu?",
               inputs=(source,))  # fmt: skip
    zpml_fails(2, r"no best.pt in this directory", "predict", work / "data", source, "--out",
               out, inputs=(source,))  # fmt: skip
    assert not out.exists()
