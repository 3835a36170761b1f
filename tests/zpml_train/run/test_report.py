"""The training report: a chart per metric, the status mix, the prediction scatter, escaping."""

from __future__ import annotations

import math
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import torch
from torch import nn

from zpml_data import write_shards
from zpml_data.datasets import rational_poles
from zpml_data.status import Status
from zpml_train import Batch, make_loader
from zpml_train.run.report import (
    METRICS,
    Predictions,
    collect_predictions,
    render_report,
    write_report,
)

METRIC_KEYS = [key for key, *_ in METRICS]


class Page(HTMLParser):
    """Every element of a page as ``(tag, attributes, id of the enclosing svg)``, and its text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str], str | None]] = []
        self.text: list[tuple[str, str | None]] = []  # (data, the enclosing element's data-label)
        self._svg: str | None = None
        self._row: str | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "svg":
            self._svg = attributes.get("id")
        if tag == "tr":
            self._row = attributes.get("data-label")
        self.elements.append((tag, attributes, self._svg))

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._svg = None
        if tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        self.text.append((data, self._row))

    def in_svg(self, svg_id: str, tag: str) -> list[dict[str, str]]:
        return [a for t, a, s in self.elements if s == svg_id and t == tag]

    def row(self, label: str) -> list[str]:
        return [d for d, r in self.text if r == label and d.strip()]


def history(epochs: int = 3, validation: bool = True) -> list[dict[str, float]]:
    records = []
    for epoch in range(epochs):
        record = {"epoch": epoch, "rows": 100.0, "missing": 0.0}
        record |= {key: 0.5 / (epoch + 1) for key in METRIC_KEYS}
        if validation:
            record |= {f"val_{key}": 0.6 / (epoch + 1) for key in METRIC_KEYS}
        records.append(record)
    return records


def render(**changes: object) -> str:
    arguments: dict[str, object] = {
        "train_counts": {"finite": 900, "bottom": 100},
        "val_counts": None,
        "predictions": None,
        "title": "run",
    }
    return render_report(changes.pop("history", history()), **(arguments | changes))  # type: ignore[arg-type]


def test_there_is_one_chart_per_metric_with_a_training_and_a_validation_line() -> None:
    page = Page(render())
    charts = [a["id"] for t, a, _ in page.elements if t == "svg" and a["id"].startswith("chart-")]
    assert charts == [f"chart-{key}" for key in METRIC_KEYS]
    assert set(METRIC_KEYS) >= {"loss", "coverage", "finite_rmse", "bottom_recall"}
    for key in METRIC_KEYS:
        lines = page.in_svg(f"chart-{key}", "polyline")
        assert sorted(a["class"] for a in lines) == ["train", "val"]
        assert len(page.in_svg(f"chart-{key}", "circle")) == 6  # a dot per epoch and line


def test_a_falling_loss_is_drawn_falling() -> None:
    page = Page(render())
    (train,) = [a for a in page.in_svg("chart-loss", "polyline") if a["class"] == "train"]
    ys = [float(point.split(",")[1]) for point in train["points"].split()]
    assert ys == sorted(ys)  # svg y grows downwards


def test_the_status_mix_gives_each_splits_counts_and_shares() -> None:
    train = {"finite": 1234, "censored_above": 66, "bottom": 200}
    val = {"finite": 300, "missing": 100}
    page = Page(render(train_counts=train, val_counts=val))
    assert page.row("finite") == ["finite", "1,234", "82.3%", "300", "75.0%"]
    assert page.row("censored_above") == ["censored_above", "66", "4.4%", "0", "0.0%"]
    assert page.row("missing") == ["missing", "0", "0.0%", "100", "25.0%"]
    assert page.row("total") == ["total", "1,500", "100.0%", "400", "100.0%"]
    widths = {
        a["class"]: float(a["width"]) for a in page.in_svg("mix-training", "rect")
    }  # a 1000-wide bar
    assert math.isclose(widths["s0"], 1000 * 1234 / 1500, abs_tol=0.01)
    assert math.isclose(widths[f"s{Status.BOTTOM}"], 1000 * 200 / 1500, abs_tol=0.01)


def test_names_from_the_data_are_escaped() -> None:
    hostile = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    predictions = Predictions(
        np.zeros(2), np.ones(2), np.zeros(2, np.int8), np.ones(2), hostile, hostile, hostile
    )
    text = render(title=hostile, train_counts={"finite": 1, hostile: 2}, predictions=predictions)
    page = Page(text)
    tags = {tag for tag, _, _ in page.elements}
    assert not tags & {"script", "img", "link", "iframe", "object"}
    assert not any(name.startswith("on") for _, a, _ in page.elements for name in a)
    assert not any(name in ("src", "href") for _, a, _ in page.elements for name in a)
    assert page.row(hostile) == [hostile, "2", "66.7%"]  # shown, as text
    assert sum(hostile in data for data, _ in page.text) >= 4  # title, heading, axes


def test_missing_validation_and_metrics_without_a_denominator_are_drawn_as_gaps() -> None:
    records = history(validation=False)
    for record in records:
        record["censored_bottom_side"] = math.nan  # no censored rows at all
    records[1]["bottom_precision"] = math.nan  # no ⊥ output in epoch 1
    records[2]["finite_rmse"] = None  # type: ignore[assignment]  # as metrics.jsonl writes NaN
    text = render(history=records)
    page = Page(text)
    assert "nan" not in text.lower()
    assert not any(a.get("class") == "val" for _, a, _ in page.elements)
    assert page.in_svg("chart-censored_bottom_side", "polyline") == []
    assert any("denominator is 0" in data for data, _ in page.text)
    assert len(page.in_svg("chart-bottom_precision", "circle")) == 2
    assert page.in_svg("chart-bottom_precision", "polyline") == []  # no two neighbours
    assert len(page.in_svg("chart-finite_rmse", "circle")) == 2
    assert "training (no validation data)" in text


def test_an_empty_history_still_renders() -> None:
    page = Page(render(history=[]))
    charts = [a for t, a, _ in page.elements if t == "svg" and "chart" in a["id"]]
    assert len(charts) == len(METRICS)


def _scatter_points(page: Page, svg_id: str) -> list[tuple[str, float, float]]:
    return [
        (a["class"], float(a["cx"]), float(a["cy"]))
        for a in page.in_svg(svg_id, "circle")
        if a["class"].startswith("s")
    ]


def test_bottom_predictions_and_bottom_targets_sit_in_their_own_bands() -> None:
    n = 50
    codes = np.zeros(n, np.int8)
    codes[:5] = Status.BOTTOM
    targets = np.linspace(-1.0, 1.0, n)
    targets[:5] = np.nan
    decoded = np.linspace(-1.0, 1.0, n)
    decoded[:3] = np.nan  # three ⊥ targets predicted ⊥
    decoded[10] = np.nan  # and one finite target predicted ⊥
    inputs = np.linspace(0.0, 5.0, n)
    page = Page(render(predictions=Predictions(inputs, targets, codes, decoded)))
    points = _scatter_points(page, "scatter-target")
    assert len(points) == n
    (band,) = [a for a in page.in_svg("scatter-target", "rect") if a.get("class") == "plot"]
    top, right = float(band["y"]), float(band["x"]) + float(band["width"])
    in_top_band = [c for c, _, y in points if y < top]
    assert sorted(in_top_band) == ["s0"] + ["s1"] * 3
    assert [c for c, x, _ in points if x > right] == ["s1"] * 5  # no target value
    (plot,) = [a for a in page.in_svg("scatter-input", "rect") if a.get("class") == "plot"]
    ghosts = page.in_svg("scatter-input", "circle")
    assert sum(a["class"] == "ghost" and float(a["cy"]) < float(plot["y"]) for a in ghosts) == 5


class _Fixed(nn.Module):
    """P = 2·x₀; Q = 0 where the last input is negative (⊥), else 1."""

    def __init__(self) -> None:
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(1))

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return 2 * inputs[:, :1], (inputs[:, -1:] >= 0).float()


def test_collect_predictions_decodes_a_bounded_sample() -> None:
    inputs = torch.tensor([[1.0, 1.0], [2.0, -1.0], [3.0, 1.0]])
    values = torch.tensor([2.0, float("nan"), 6.0])
    codes = torch.tensor([0, 1, 0], dtype=torch.int8)
    batches = [Batch(inputs, values, codes)] * 3
    model = _Fixed().train()
    result = collect_predictions(model, batches, 1e-6, limit=7)
    assert result.codes.tolist() == [0, 1, 0] * 2 + [0]
    np.testing.assert_array_equal(result.decoded, [2.0, np.nan, 6.0] * 2 + [2.0])
    np.testing.assert_array_equal(result.inputs, [1.0, 2.0, 3.0] * 2 + [1.0])
    assert model.training  # put back as it was


def test_collect_predictions_leaves_a_shard_loader_where_it_was(tmp_path: Path) -> None:
    write_shards(rational_poles(600, seed=3), tmp_path / "shards")
    loader = make_loader(tmp_path / "shards", 100)
    before = loader.state_dict()
    result = collect_predictions(_Fixed(), loader, 1e-6, limit=250)
    assert loader.state_dict() == before
    assert result.codes.size == 250 and (result.input_name, result.target_name) == ("x", "value")


def test_write_report_writes_report_html_into_the_run_directory(tmp_path: Path) -> None:
    run = tmp_path / "my-run"
    run.mkdir()
    path = write_report(run, history(), train_counts={"finite": 3})
    assert path == run / "report.html"
    text = path.read_text()
    assert "<title>zpml training report: my-run</title>" in text
    assert "http" not in text  # nothing to fetch
