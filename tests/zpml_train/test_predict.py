"""load_model and Predictor: checkpoints read safely, inputs by name, statuses decoded."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.zpml_train._models import gated_with_bottoms
from zpml_data.errors import ConfigError, SourceError, UsageError
from zpml_data.status import Status
from zpml_train import Predictor, ProjectiveMLP, decode, load_model
from zpml_train.model.spec import RECORD_KEY, ModelRecord, model_spec
from zpml_train.model.status_decode import decoded_codes
from zpml_train.training._checkpoint import write_checkpoint

pytestmark = pytest.mark.usefixtures("single_thread")

INPUTS = ["a", "b", "c"]


def _model(head: str = "rational", seed: int = 0) -> ProjectiveMLP:
    torch.manual_seed(seed)
    model = ProjectiveMLP(3, 1, (8,), head=head)  # type: ignore[arg-type]
    model.set_input_scaling(torch.tensor([1.0, -2.0, 0.5]), torch.tensor([2.0, 1.0, 3.0]))
    if head == "gated":  # a gate that closes on some rows: some decode ⊥, of every kind
        model = gated_with_bottoms(3, seed=seed)
    if head == "rational":  # Q through 0 in the data's range: some rows decode ⊥
        with torch.no_grad():
            model.head.denominator.bias.zero_()  # type: ignore[operator]
            model.head.denominator.weight.mul_(10.0)  # type: ignore[operator]
    return model


def _save(path: Path, model: ProjectiveMLP, tau: float = 0.05, **record: object) -> Path:
    fields = {
        "spec": model_spec(model),
        "inputs": INPUTS,
        "targets": ["y"],
        "tau_infer": tau,
        "tau_infer_configured": tau,
        **record,
    }
    state = {"model": model.state_dict(), RECORD_KEY: ModelRecord(**fields).to_dict()}  # type: ignore[arg-type]
    write_checkpoint(path, state)
    return path


def _frame(rows: int = 300, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(size=(rows, 3)) * 3, columns=INPUTS)


def _expected(model: ProjectiveMLP, frame: pd.DataFrame, tau: float) -> tuple[np.ndarray, ...]:
    with torch.no_grad():
        P, Q = model(torch.tensor(frame[INPUTS].to_numpy(np.float32)))[:2]
    decoded = decode(P, Q, tau)
    return decoded.values[:, 0].numpy(), decoded.bottom[:, 0].numpy(), decoded.side[:, 0].numpy()


def test_predictions_are_the_strict_decode_at_the_records_tau(tmp_path):
    model = _model()
    predictor = load_model(_save(tmp_path / "m.pt", model, tau=0.3))
    frame = _frame()
    values, bottom, _ = _expected(model, frame, 0.3)
    out = predictor.predict(frame, pq=True)
    assert list(out.columns) == ["y_pred", "y_pred_status", "y_P", "y_Q"]
    np.testing.assert_array_equal(out["y_pred"].to_numpy(), values.astype(np.float32))
    status = out["y_pred_status"].astype(str).to_numpy()
    assert bottom.any() and (~bottom).any()
    assert (status[~bottom] == "finite").all()
    # Trained on no ⊥ labels at all: a ⊥ says nothing more than bottom.
    assert (status[bottom] == "bottom").all()
    assert predictor.inputs == INPUTS and predictor.targets == ["y"]
    assert predictor.tau_infer == 0.3


def test_every_container_gives_the_same_predictions_and_columns_go_by_name(tmp_path):
    predictor = load_model(_save(tmp_path / "m.pt", _model()))
    frame = _frame()
    expected = predictor.predict(frame)
    shuffled = frame[["c", "a", "b"]].assign(extra="text")
    frame.to_parquet(tmp_path / "x.parquet")
    shuffled.to_csv(tmp_path / "x.csv", index=False)
    for data in (
        shuffled,
        pa.Table.from_pandas(shuffled),
        tmp_path / "x.parquet",
        str(tmp_path / "x.csv"),
        torch.tensor(frame.to_numpy(np.float32)),
    ):
        got = predictor.predict(data)
        pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-6)


def test_a_run_directory_loads_its_best_checkpoint(tmp_path):
    _save(tmp_path / "best.pt", _model(seed=3))
    _save(tmp_path / "last.pt", _model(seed=4))
    frame = _frame()
    expected = load_model(tmp_path / "best.pt").predict(frame)
    pd.testing.assert_frame_equal(load_model(tmp_path).predict(frame), expected)


def test_missing_input_columns_are_listed_and_text_inputs_refused(tmp_path):
    predictor = load_model(_save(tmp_path / "m.pt", _model()))
    with pytest.raises(UsageError, match=r"missing input column\(s\) 'a', 'c'; the model reads"):
        predictor.predict(_frame()[["b"]])
    with pytest.raises(UsageError, match=r"input column 'b' is string, .* trained on numbers"):
        predictor.predict(_frame().assign(b="x"))
    with pytest.raises(UsageError, match=r"shape \(4, 2\); the model reads \[N, 3\]"):
        predictor.predict(torch.zeros(4, 2))


def test_rows_with_non_finite_inputs_are_missing_not_bottom(tmp_path):
    predictor = load_model(_save(tmp_path / "m.pt", _model()))
    frame = _frame(6)
    frame.loc[1, "a"] = np.nan
    frame.loc[4, "c"] = np.inf
    frame["b"] = frame["b"].astype("Float64")
    frame.loc[2, "b"] = pd.NA
    out = predictor.predict(frame)
    status = out["y_pred_status"].astype(str).tolist()
    assert [status[i] for i in (1, 2, 4)] == ["missing"] * 3
    assert out["y_pred"].isna()[[1, 2, 4]].all()
    assert "missing" not in [status[i] for i in (0, 3, 5)]


def test_the_gated_head_reports_its_kinds_and_sides(tmp_path):
    model = _model("gated")
    counts = {"finite": 10, "censored_below": 3, "censored_above": 3, "domain_invalid": 2}
    predictor = load_model(_save(tmp_path / "g.pt", model, tau=0.5, status_counts=counts))
    frame = _frame(2000)
    with torch.no_grad():
        out = model(torch.tensor(frame.to_numpy(np.float32)))
    decoded = decode(out.P, out.Q, 0.5)
    kind = out.kind_logits.argmax(-1)[:, 0].numpy()
    bottom, side = decoded.bottom[:, 0].numpy(), decoded.side[:, 0].numpy()
    status = predictor.predict(frame)["y_pred_status"].astype(str).to_numpy()
    expected = np.where(side < 0, "censored_below", np.where(side > 0, "censored_above", "bottom"))
    expected = np.select([kind == 1, kind == 2], ["domain_invalid", "fault"], expected)
    expected = np.where(bottom, expected, "finite")
    assert bottom.any()
    np.testing.assert_array_equal(status, expected)


@pytest.mark.parametrize(
    ("counts", "kinds", "expected"),
    [
        # Rational head (no kinds): what the training data's ⊥ rows were.
        ({"censored_below": 1, "censored_above": 1}, None, ["censored_below", "censored_above"]),
        ({"bottom": 5}, None, ["bottom", "bottom"]),
        ({"domain_invalid": 5}, None, ["domain_invalid", "domain_invalid"]),
        ({"bottom": 5, "censored_above": 2}, None, ["bottom", "bottom"]),
        # Gated head: kind 1 is domain_invalid unless bottom rows were trained too.
        ({"domain_invalid": 5}, [1, 2], ["domain_invalid", "fault"]),
        ({"domain_invalid": 5, "bottom": 1}, [1, 0], ["bottom", "censored_above"]),
    ],
)
def test_a_bottom_is_named_only_as_far_as_the_model_can_tell(tmp_path, counts, kinds, expected):
    model = _model()
    predictor = load_model(_save(tmp_path / "m.pt", model, status_counts={"finite": 9, **counts}))
    bottom = torch.tensor([[True], [True]])
    side = torch.tensor([[-1], [1]], dtype=torch.int8)
    logits = None if kinds is None else torch.nn.functional.one_hot(torch.tensor(kinds), 3)
    codes = decoded_codes(
        bottom,
        side,
        None if logits is None else logits[:, None, :].float(),
        predictor._kind_statuses,
    )
    assert [Status(int(c)).label for c in codes[:, 0]] == expected


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(-1e6, 1e6) | st.sampled_from([np.nan, np.inf, -np.inf]),
            st.floats(-2.0, 2.0) | st.sampled_from([np.nan, np.inf, -np.inf, 0.0]),
        ),
        min_size=1,
        max_size=40,
    ),
    st.sampled_from([1e-6, 0.05, 0.5]),
)
def test_a_value_is_given_exactly_where_the_status_is_finite(pairs, tau):
    P = torch.tensor([[p] for p, _ in pairs], dtype=torch.float32)
    Q = torch.tensor([[q] for _, q in pairs], dtype=torch.float32)
    record = ModelRecord(model_spec(_model()), INPUTS, ["y"], tau, tau)
    predictor = Predictor(_model(), record)
    out = predictor.decode(P, Q)
    finite = out.codes == int(Status.FINITE)
    assert np.isfinite(out.values[finite]).all()
    assert np.isnan(out.values[~finite]).all()
    below = out.codes == int(Status.CENSORED_BELOW)
    assert (P.numpy()[below] < 0).all()


class _RunsCode:
    def __reduce__(self):
        return (os.makedirs, (str(Path(os.environ["ZPML_TEST_MARKER"])),))


def _bad_checkpoints(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    good = _save(tmp_path / "good.pt", _model())
    data = good.read_bytes()
    files = {
        "empty": (b"", r"is empty"),
        "truncated": (data[: len(data) // 2], r"not a readable zpml checkpoint"),
        "text": (b"hello, world\n", r"not a zpml checkpoint|not a readable"),
    }
    out = {}
    for name, (content, pattern) in files.items():
        (tmp_path / f"{name}.pt").write_bytes(content)
        out[name] = (tmp_path / f"{name}.pt", pattern)
    torch.save({"weights": torch.zeros(2)}, tmp_path / "foreign.pt")
    out["foreign"] = (tmp_path / "foreign.pt", r"not a zpml checkpoint \(no 'zpml-train")
    state = torch.load(good, weights_only=True)
    torch.save({**state, "version": 99}, tmp_path / "newer.pt")
    out["newer"] = (tmp_path / "newer.pt", r"format version 99; this zpml reads version\(s\) 1")
    record = dict(state[RECORD_KEY], version=7)
    torch.save({**state, RECORD_KEY: record}, tmp_path / "newer-record.pt")
    out["newer-record"] = (tmp_path / "newer-record.pt", r"model record version 7")
    spec = dict(state[RECORD_KEY]["spec"], head="transformer")
    torch.save({**state, RECORD_KEY: {**state[RECORD_KEY], "spec": spec}}, tmp_path / "head.pt")
    out["head"] = (
        tmp_path / "head.pt",
        r"head must be one of 'rational', 'gated'; got 'transformer'",
    )
    huge = dict(state[RECORD_KEY]["spec"], hidden=[60_000] * 40)
    torch.save({**state, RECORD_KEY: {**state[RECORD_KEY], "spec": huge}}, tmp_path / "huge.pt")
    out["huge"] = (tmp_path / "huge.pt", r"too large to load here; it was not built")
    torch.save({**state, "pwned": _RunsCode()}, tmp_path / "code.pt")
    out["code"] = (tmp_path / "code.pt", r"Python objects that loading would run as code; refused")
    return out


def test_bad_checkpoints_are_refused_in_one_line_naming_the_file(tmp_path, monkeypatch):
    marker = tmp_path / "code-ran"
    monkeypatch.setenv("ZPML_TEST_MARKER", str(marker))
    for _name, (path, pattern) in _bad_checkpoints(tmp_path).items():
        before = path.read_bytes()
        with pytest.raises(ConfigError, match=pattern) as caught:
            load_model(path)
        message = str(caught.value)
        assert str(path) in message and "\n" not in message
        assert path.read_bytes() == before
    assert not marker.exists()


def test_a_path_that_is_not_a_model_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match=r"does not exist"):
        load_model(tmp_path / "nope.pt")
    with pytest.raises(SourceError, match=r"no best.pt in this directory"):
        load_model(tmp_path)
    with pytest.raises(ConfigError, match=r"sees no CUDA device|not a torch device"):
        load_model(
            _save(tmp_path / "m.pt", _model()),
            device="cuda" if not torch.cuda.is_available() else "nonsense",
        )


def test_weights_that_do_not_fit_the_record_are_refused(tmp_path):
    path = _save(tmp_path / "m.pt", _model())
    state = torch.load(path, weights_only=True)
    state["model"]["backbone.0.weight"] = torch.zeros(9, 3)
    torch.save(state, path)
    with pytest.raises(ConfigError, match=r"weights do not fit the model it records"):
        load_model(path)


def test_categorical_inputs_are_one_hot_encoded_as_the_shards_were(tmp_path):
    torch.manual_seed(5)
    model = ProjectiveMLP(3, 1, (8,))
    features = ["dose", "site=A", "site=B"]
    record = {"inputs": features, "categories": {"site": ["A", "B"]}}
    predictor = load_model(_save(tmp_path / "m.pt", model, **record))
    assert predictor.inputs == ["dose", "site"]
    assert predictor.features == features
    frame = pd.DataFrame({"site": ["B", "A", "C", None], "dose": [1.0, 2.0, 3.0, 4.0]})
    one_hot = np.array([[1, 0, 1], [2, 1, 0], [3, 0, 0], [4, 0, 0]], np.float32)
    expected = predictor.predict(torch.from_numpy(one_hot))
    pd.testing.assert_frame_equal(predictor.predict(frame), expected)
    dictionary = frame.assign(site=frame["site"].astype("category"))
    pd.testing.assert_frame_equal(predictor.predict(dictionary), expected)
    with pytest.raises(UsageError, match=r"input column 'site' is int64, but .* text categories"):
        predictor.predict(frame.assign(site=[1, 2, 3, 4]))
    broken = {"inputs": ["dose", "site=B", "site=A"], "categories": {"site": ["A", "B"]}}
    with pytest.raises(ConfigError, match=r"not the one-hot blocks of its categories"):
        load_model(_save(tmp_path / "b.pt", model, **broken)).predict(frame)
