"""The status vocabulary: seven labels in stable code order, and the groups derived from them."""

from zpml_data.status import (
    BOTTOM_STATUSES,
    DEFAULT_SENTINEL_POLICY,
    FAULT_BOTTOM_STATUSES,
    SEMANTIC_BOTTOM_STATUSES,
    STATUS_LABELS,
    UNTRAINED_STATUSES,
    Status,
)

LABELS = ["finite", "bottom", "censored_below", "censored_above", "domain_invalid", "missing"]
LABELS += ["fault"]


def test_labels_are_in_code_order():
    assert tuple(LABELS) == STATUS_LABELS
    assert [int(s) for s in Status] == list(range(7))
    assert Status.CENSORED_ABOVE.label == "censored_above"


def test_group_sets():
    assert {
        Status.BOTTOM,
        Status.CENSORED_BELOW,
        Status.CENSORED_ABOVE,
        Status.DOMAIN_INVALID,
    } == SEMANTIC_BOTTOM_STATUSES
    assert {Status.FAULT} == FAULT_BOTTOM_STATUSES
    assert BOTTOM_STATUSES == SEMANTIC_BOTTOM_STATUSES | FAULT_BOTTOM_STATUSES
    assert {Status.MISSING} == UNTRAINED_STATUSES


def test_the_default_sentinel_policy():
    assert DEFAULT_SENTINEL_POLICY == {
        "nan": Status.BOTTOM,
        "posinf": Status.CENSORED_ABOVE,
        "neginf": Status.CENSORED_BELOW,
    }
