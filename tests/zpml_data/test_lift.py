import numpy as np
import pytest
import torch

from tests.conftest import assert_bitwise_equal
from zpml_data import lift_semantic_targets, lift_targets
from zpml_data.errors import ShapeError, StatusLabelError, TargetValueError
from zpml_data.lift import SemanticTargets, sentinel_codes
from zpml_data.status import STATUS_LABELS

# The semantics table of ARCHITECTURE.md, row by row: (Y_n, Y_d, finite, bottom, orient, kind).
TABLE = {
    "finite": (7.5, 1.0, True, False, 0, 0),
    "bottom": (1.0, 0.0, False, True, 0, 2),
    "censored_below": (-1.0, 0.0, False, True, -1, 2),
    "censored_above": (1.0, 0.0, False, True, 1, 2),
    "domain_invalid": (1.0, 0.0, False, True, 0, 2),
    "missing": (0.0, 1.0, False, False, 0, 0),
    "fault": (1.0, 0.0, False, True, 0, 1),
}


@pytest.mark.parametrize("label", STATUS_LABELS)
def test_each_label_lifts_as_the_table_says(label):
    targets = lift_semantic_targets(np.array([7.5]), [label])
    row = (
        targets.Y_n[0],
        targets.Y_d[0],
        targets.mask_finite[0],
        targets.mask_bottom[0],
        targets.orientation_label[0],
        targets.bottom_kind[0],
    )
    assert row == TABLE[label]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_output_dtypes(dtype):
    targets = lift_semantic_targets(np.zeros(3, dtype), ["finite", "fault", "missing"])
    assert targets.Y_n.dtype == dtype and targets.Y_d.dtype == dtype
    assert targets.mask_finite.dtype == bool and targets.mask_bottom.dtype == bool
    assert targets.orientation_label.dtype == np.int64 and targets.bottom_kind.dtype == np.int64


def test_torch_in_torch_out():
    values = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)
    targets = lift_semantic_targets(values, [["finite", "censored_below"], ["missing", "fault"]])
    assert isinstance(targets.Y_n, torch.Tensor) and targets.Y_n.dtype == torch.float64
    assert targets.orientation_label.dtype == torch.int64
    assert targets.mask_bottom.dtype == torch.bool
    assert targets.Y_n.tolist() == [[1.0, -1.0], [0.0, 1.0]]
    moved = targets.to("cpu")
    assert isinstance(moved, SemanticTargets) and moved.Y_d.device.type == "cpu"


def test_torch_codes_stay_torch():
    values = torch.tensor([1.0, 2.0, 3.0])
    targets = lift_semantic_targets(values, torch.tensor([0, 3, 5], dtype=torch.int8))
    assert targets.Y_d.tolist() == [1.0, 0.0, 1.0]
    with pytest.raises(StatusLabelError, match=r"unknown status codes: 7 \(1 row, first at 1\)"):
        lift_semantic_targets(values, torch.tensor([0, 7, 5]))


def test_scalar_gives_zero_dimensional_arrays():
    targets = lift_semantic_targets(np.array(2.0), "censored_above")
    for field in (targets.Y_n, targets.Y_d, targets.orientation_label, targets.mask_bottom):
        assert isinstance(field, np.ndarray) and field.shape == ()
    assert float(targets.Y_n) == 1.0 and int(targets.orientation_label) == 1


def test_nd_shapes_are_kept():
    values = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    codes = (np.arange(24) % 7).astype(np.int8).reshape(2, 3, 4)
    targets = lift_semantic_targets(values, codes)
    assert targets.Y_n.shape == (2, 3, 4) and targets.bottom_kind.shape == (2, 3, 4)
    assert targets.Y_n[0, 0, 0] == 0.0 and targets.Y_n[1, 2, 3] == -1.0  # 23 % 7 == 2


def test_mask_untrained_is_missing_only():
    targets = lift_semantic_targets(np.zeros(7), list(STATUS_LABELS))
    assert targets.mask_untrained.tolist() == [False] * 5 + [True, False]


def test_non_finite_value_labelled_finite():
    with pytest.raises(
        TargetValueError,
        match=r"2 value\(s\) labelled 'finite' are not finite "
        r"\(inf, nan\), first at 1, 3",
    ):
        lift_semantic_targets(
            np.array([1.0, np.nan, np.nan, np.inf]), ["finite", "finite", "fault", "finite"]
        )
    with pytest.raises(ValueError, match="first at 0"):
        lift_semantic_targets(torch.tensor([float("-inf")]), ["finite"])


def test_shape_mismatch():
    with pytest.raises(ShapeError, match=r"labels have shape \(2,\) but values have shape \(3,\)"):
        lift_semantic_targets(np.zeros(3), ["finite", "finite"])
    with pytest.raises(
        ValueError, match=r"labels have shape \(4,\) but values have shape \(2, 2\)"
    ):
        lift_semantic_targets(torch.zeros(2, 2), ["finite"] * 4)


def test_non_numeric_values_are_refused():
    with pytest.raises(TypeError, match="real numbers"):
        lift_semantic_targets(np.array(["a"]), ["finite"])


def test_lift_targets_legacy_sentinels():
    y_n, y_d = lift_targets(np.array([-0.0, 2.0, np.inf, -np.inf, np.nan], dtype=np.float32))
    assert_bitwise_equal(y_n, np.array([-0.0, 2.0, 1.0, -1.0, 1.0], dtype=np.float32))
    assert_bitwise_equal(y_d, np.array([1.0, 1.0, 0.0, 0.0, 0.0], dtype=np.float32))
    t_n, t_d = lift_targets(torch.tensor([np.inf, 3.0]))
    assert t_n.tolist() == [1.0, 3.0] and t_d.tolist() == [0.0, 1.0]


def test_sentinel_codes_policy():
    values = np.array([1.0, np.nan, np.inf, -np.inf])
    np.testing.assert_array_equal(sentinel_codes(values), [0, 1, 3, 2])
    from zpml_data.status import Status

    policy = {"nan": Status.MISSING, "posinf": Status.FAULT, "neginf": Status.FAULT}
    np.testing.assert_array_equal(sentinel_codes(values, policy), [0, 5, 6, 6])
