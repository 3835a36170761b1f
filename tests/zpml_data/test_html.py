"""The report kit: one colour per label on every page, escaping, no outside resources."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd

from zpml_data import audit
from zpml_data._html import INVALID, STATUS_COLOURS, colour, page, status_class, status_mix
from zpml_data._html.style import STYLE
from zpml_data.auditing.rendering import render_html
from zpml_data.status import Status


class Elements(HTMLParser):
    """Every start tag of a page as ``(tag, attributes)``."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))


def css_colours(style: str) -> dict[str, str]:
    """CSS class -> the fill colour the stylesheet gives it."""
    return dict(re.findall(r"\.(s\d|s-invalid|s-other)\{fill:(#[0-9a-f]{6})", style))


def test_every_status_has_its_own_colour_and_the_stylesheet_uses_it():
    assert list(STATUS_COLOURS) == [status.label for status in Status]
    colours = [*STATUS_COLOURS.values(), colour(INVALID)]
    assert len(set(colours)) == len(colours)
    rules = css_colours(STYLE)
    for status in Status:
        assert rules[status_class(status.label)] == STATUS_COLOURS[status.label]
    assert rules["s-invalid"] == colour(INVALID)


def site_frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    labels = rng.choice(
        ["finite", "censored_below", "fault", "Finite"], 400, p=[0.7, 0.2, 0.05, 0.05]
    )
    return pd.DataFrame(
        {
            "value": np.where(labels == "censored_below", 0.5, rng.uniform(1, 9, 400)),
            "status": labels,
            "site": np.where(np.arange(400) % 2, "a", '"><script>x</script>'),
        }
    )


def test_the_audit_page_draws_each_label_in_its_kit_colour():
    report = audit(site_frame(), group_by=["site"])
    text = render_html(report)
    tags = Elements(text).tags
    target = report.targets[0]
    rects = [a for t, a in tags if t == "rect" and a.get("class", "").startswith("s")]
    drawn = {a["class"] for a in rects}
    for label, count in target.status_counts.items():
        assert (status_class(label) in drawn) == (count > 0), label
    assert (
        "s-invalid" in drawn and target.invalid_status == (site_frame()["status"] == "Finite").sum()
    )
    assert css_colours(text) == css_colours(STYLE)  # the same stylesheet as the training report


def test_the_audit_page_escapes_the_data_and_fetches_nothing():
    text = render_html(audit(site_frame(), group_by=["site"]))
    tags = Elements(text).tags
    assert not {t for t, _ in tags} & {"script", "img", "link", "iframe", "object"}
    assert not any(name in ("src", "href") or name.startswith("on") for _, a in tags for name in a)
    assert "&quot;&gt;&lt;script&gt;x&lt;/script&gt;" in text
    assert "http://" not in text and "https://" not in text


def test_the_page_shell_escapes_its_text_and_the_mix_counts_every_split():
    hostile = "<b>x</b>"
    mix = status_mix([("rows", {"finite": 3, hostile: 1})], "t")
    text = page(hostile, kicker="k", sub=hostile, tiles=[], sections=[mix])
    assert "<b>" not in text and text.count("&lt;b&gt;x&lt;/b&gt;") >= 4
    assert 'data-label="total"' in text and "75.0%" in text and "25.0%" in text


def test_the_training_report_and_the_audit_page_share_one_stylesheet():
    from zpml_train.run.report import render_report

    counts = {"finite": 3, "fault": 1}
    report = render_report(
        [{"epoch": 0}], train_counts=counts, val_counts=None, predictions=None, title="r"
    )
    audit_page = render_html(audit(site_frame(), group_by=["site"]))
    for text in (report, audit_page):
        assert f"<style>{STYLE}</style>" in text
    assert 'class="dot s6"' in report and 'class="dot s6"' in audit_page  # fault, both pages
