"""SCMTrainer: batch forms, the checks before compute, the loss protocol, the loop."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from tests.zpml_train._helpers import (
    ManifestLoader,
    assert_states_close,
    assert_states_equal,
    labels_of,
    make_rows,
    split,
    state_copy,
)
from zpml_data import lift_semantic_targets
from zpml_data.errors import CapabilityError, ConfigError, DataError, UsageError
from zpml_data.status import Status
from zpml_train import Batch, ProjectiveMLP, SCMTrainer, SCMTrainingLoss, TrainingConfig
from zpml_train.training import trainer as trainer_module

pytestmark = pytest.mark.usefixtures("single_thread")

FLOORED = {"q_param": "softplus", "q_min": 1e-3}  # |Q| > 1e-3 >= tau_infer: ⊥ unreachable


def _trainer(
    batches: Any, *, head: dict | None = None, loss_fn: Any = None, **config: Any
) -> SCMTrainer:
    torch.manual_seed(0)
    model = ProjectiveMLP(3, 1, hidden=(8,), **(head or {}))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    return SCMTrainer(
        model,
        optimizer,
        SCMTrainingLoss() if loss_fn is None else loss_fn,
        batches,
        config=TrainingConfig(**config),
    )


def test_every_batch_form_gives_the_same_step() -> None:
    inputs, values, codes = make_rows(64, seed=1)
    # Legacy sentinels lift like the default conversion policy: NaN→bottom, ±inf→censored.
    codes = torch.where(
        codes == Status.FINITE, codes, torch.tensor(Status.BOTTOM, dtype=torch.int8)
    )
    codes[:3] = torch.tensor([Status.CENSORED_ABOVE, Status.CENSORED_BELOW, Status.CENSORED_ABOVE])
    sentinels = values.clone()
    sentinels[:3] = torch.tensor([float("inf"), float("-inf"), float("inf")])
    targets = lift_semantic_targets(values, codes)
    forms = [
        Batch(inputs, values, codes, targets),
        Batch(inputs, values, codes),
        (inputs, values, codes),
        (inputs, values, labels_of(codes)),
        (inputs, sentinels),
        (inputs, targets),
    ]
    losses, states = [], []
    for form in forms:
        trainer = _trainer([form])
        losses.append(float(trainer.train_step(form)))
        states.append(state_copy(trainer.model))
    assert all(loss == losses[0] for loss in losses), losses
    for state in states[1:]:
        assert_states_equal(state, states[0])


def test_an_unknown_batch_form_is_refused() -> None:
    trainer = _trainer([])
    with pytest.raises(
        UsageError, match=r"cannot train on a batch of type dict; a batch is zpml_train.Batch"
    ):
        trainer.train_step({"x": 1})
    with pytest.raises(UsageError, match=r"of type tuple with 4 parts"):
        trainer.train_step((1, 2, 3, 4))


def _manifest_loader(rows: int = 64) -> ManifestLoader:
    return ManifestLoader(split(make_rows(rows), [32] * (rows // 32)))


def test_a_floored_head_is_refused_from_the_manifest_before_any_batch_is_read() -> None:
    loader = _manifest_loader()
    trainer = _trainer(loader, head=FLOORED)
    before = state_copy(trainer.model)
    counts = loader.manifest.status_counts
    with pytest.raises(CapabilityError) as caught:
        trainer.fit()
    message = str(caught.value)
    assert loader.batches_read == 0
    assert_states_equal(state_copy(trainer.model), before)
    assert trainer.global_step == 0
    assert isinstance(caught.value, ValueError) and caught.value.exit_code == 1
    bottoms = sum(n for label, n in counts.items() if label != "finite")
    assert f"the training data (by its manifest) holds {bottoms} bottom (⊥) targets" in message
    assert f"bottom: {counts['bottom']}" in message and f"fault: {counts['fault']}" in message
    assert "RationalHead(q_param='softplus', q_min=0.001)" in message
    assert "tau_infer=1e-06" in message and "allow_bottom_unreachable=True" in message


def test_without_a_manifest_the_check_runs_on_each_batch_before_its_step() -> None:
    finite_rows = make_rows(32, mix={Status.FINITE: 1.0})
    mixed_rows = make_rows(32, seed=2)
    trainer = _trainer(split(finite_rows, [32]) + split(mixed_rows, [32]), head=FLOORED)
    after_first = _trainer(split(finite_rows, [32]), head=FLOORED)
    after_first.fit()
    with pytest.raises(CapabilityError, match=r"refusing to train: a batch holds \d+ bottom"):
        trainer.fit()
    # The first batch (no bottoms) stepped; the second was refused before its step.
    assert trainer.global_step == 1
    assert_states_equal(state_copy(trainer.model), state_copy(after_first.model))


def test_allow_bottom_unreachable_trains_the_floored_head() -> None:
    trainer = _trainer(_manifest_loader(), head=FLOORED, allow_bottom_unreachable=True)
    before = state_copy(trainer.model)
    trainer.fit()
    assert trainer.global_step == 2
    assert not torch.equal(
        state_copy(trainer.model)["head.numerator.weight"], before["head.numerator.weight"]
    )


def test_a_floored_head_trains_on_data_without_bottoms() -> None:
    loader = ManifestLoader(split(make_rows(64, mix={Status.FINITE: 1.0}), [32, 32]))
    trainer = _trainer(loader, head=FLOORED)
    trainer.fit()
    assert loader.batches_read == 2


def _plain_loss(outputs: Any, targets: tuple) -> torch.Tensor:
    P, Q = outputs
    return ((P.squeeze(-1) * targets[1] - Q.squeeze(-1) * targets[0]) ** 2).mean()


def test_a_loss_that_cannot_mask_missing_rows_is_refused() -> None:
    rows = make_rows(64, mix={Status.FINITE: 0.8, Status.MISSING: 0.2})
    loader = ManifestLoader(split(rows, [32, 32]))
    with pytest.raises(
        ConfigError,
        match=r"holds \d+ 'missing' targets.*the loss _plain_loss does not accept a "
        r"`semantic_targets` keyword",
    ):
        _trainer(loader, loss_fn=_plain_loss).fit()
    assert loader.batches_read == 0
    with pytest.raises(ConfigError, match=r"a batch holds \d+ 'missing' targets"):
        _trainer(split(rows, [32, 32]), loss_fn=_plain_loss).fit()
    _trainer(split(rows, [32, 32])).fit()  # SCMTrainingLoss masks them
    _trainer(split(make_rows(64), [32, 32]), loss_fn=_plain_loss).fit()  # no missing rows


def _keywords_received(loss_fn: Any, **config: Any) -> list[dict[str, Any]]:
    """Train 2 epochs of 2 batches; the keywords each loss call received."""
    received: list[dict[str, Any]] = []
    trainer = _trainer(split(make_rows(64), [32, 32]), loss_fn=loss_fn, max_epochs=2, **config)
    protocol_loss = trainer.loss_fn

    def recording(outputs: Any, targets: Any, **keywords: Any) -> torch.Tensor:
        received.append(keywords)
        return protocol_loss(outputs, targets, **keywords)

    trainer.loss_fn = recording  # the protocol was read from loss_fn at construction
    trainer.fit()
    return received


def test_the_loss_protocol_passes_only_the_keywords_a_loss_names() -> None:
    def wants_tau_and_step(
        outputs: Any, targets: Any, *, tau: float, global_step: int
    ) -> torch.Tensor:
        return outputs[0].sum() * 0

    received = _keywords_received(wants_tau_and_step, tau_train_min=1e-4, tau_train_max=1e-3)
    assert [set(k) for k in received] == [{"tau", "global_step"}] * 4
    assert [k["global_step"] for k in received] == [1, 2, 3, 4]
    assert all(1e-4 <= k["tau"] <= 1e-3 for k in received)


def test_a_loss_with_var_keywords_gets_everything_and_weights_follow_the_curriculum() -> None:
    class Ramp:
        def weights(self, epoch: int, base: Any = None) -> dict[str, float]:
            return {**(base or {}), "sign": float(epoch)}

    def takes_all(outputs: Any, targets: Any, **keywords: Any) -> torch.Tensor:
        return outputs[0].sum() * 0

    received = _keywords_received(takes_all, loss_weights={"fit": 2.0}, loss_curriculum=Ramp())
    assert set(received[0]) == {
        "semantic_targets",
        "values",
        "tau",
        "inputs",
        "epoch",
        "global_step",
        "loss_weights",
    }
    assert [k["epoch"] for k in received] == [0, 0, 1, 1]
    assert [k["loss_weights"] for k in received] == [{"fit": 2.0, "sign": 0.0}] * 2 + [
        {"fit": 2.0, "sign": 1.0}
    ] * 2
    assert received[0]["inputs"].shape == (32, 3)
    without_weights = _keywords_received(takes_all)
    assert "loss_weights" not in without_weights[0]


def test_an_uninspectable_loss_gets_no_keywords() -> None:
    from zpml_train.training._protocol import LossProtocol

    assert LossProtocol.of(max).accepted == frozenset()
    assert LossProtocol.of(SCMTrainingLoss()).accepted == {
        "semantic_targets",
        "tau",
        "loss_weights",
    }


def test_a_non_scalar_loss_is_refused() -> None:
    trainer = _trainer([], loss_fn=lambda outputs, targets: outputs[0])
    with pytest.raises(UsageError, match=r"must return a scalar tensor, got \(32, 1\)"):
        trainer.train_step(split(make_rows(32), [32])[0])


def test_thresholds_are_seeded_drawn_in_range_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trainer_module, "THRESHOLD_HISTORY", 5)
    batches = split(make_rows(320), [32] * 10)
    first = _trainer(batches, tau_train_min=1e-4, tau_train_max=1e-2, seed=0)
    first.fit()
    again = _trainer(batches, tau_train_min=1e-4, tau_train_max=1e-2, seed=0)
    again.fit()
    other_seed = _trainer(batches, tau_train_min=1e-4, tau_train_max=1e-2, seed=3)
    other_seed.fit()
    assert len(first.last_thresholds) == 5
    assert list(first.last_thresholds) == list(again.last_thresholds)
    assert list(first.last_thresholds) != list(other_seed.last_thresholds)
    assert all(1e-4 <= tau <= 1e-2 for tau in first.last_thresholds)
    torch.manual_seed(0)  # the reference's global-RNG draws, for the same seed
    expected = [float(torch.empty(1).uniform_(1e-4, 1e-2)) for _ in range(10)]
    assert list(first.last_thresholds) == expected[-5:]


@pytest.mark.parametrize("sizes", [[4] * 10, [4] * 9 + [2], [3, 5, 4, 4, 1, 7]])
def test_accumulation_with_a_trailing_partial_group_equals_big_batches(sizes: list[int]) -> None:
    rows = make_rows(sum(sizes), seed=5)
    accumulated = _trainer(split(rows, sizes), gradient_accumulation_steps=4, max_epochs=2)
    accumulated.fit()
    groups = [sum(sizes[i : i + 4]) for i in range(0, len(sizes), 4)]
    big = _trainer(split(rows, groups), max_epochs=2)
    big.fit()
    assert_states_close(state_copy(accumulated.model), state_copy(big.model))
    assert accumulated.history[-1]["loss"] == pytest.approx(big.history[-1]["loss"], rel=1e-5)


def _always_bottom_trainer(epochs: int, **config: Any) -> SCMTrainer:
    batches = split(make_rows(64, mix={Status.FINITE: 1.0}), [32, 32])
    trainer = _trainer(batches, max_epochs=epochs, val_loader=batches, **config)
    with torch.no_grad():  # Q = 0 everywhere: every output decodes ⊥
        trainer.model.head.denominator.weight.zero_()
        trainer.model.head.denominator.bias.zero_()
    for parameter in trainer.model.head.denominator.parameters():
        parameter.requires_grad_(False)
    return trainer


def test_coverage_early_stop_is_off_by_default() -> None:
    trainer = _always_bottom_trainer(4)
    assert [record["val_coverage"] for record in trainer.fit()] == [0.0] * 4
    assert not trainer.stopped_early


def test_coverage_early_stop_after_exactly_patience_bad_epochs() -> None:
    trainer = _always_bottom_trainer(10, coverage_patience=3, coverage_threshold=0.95)
    history = trainer.fit()
    assert [record["val_coverage"] for record in history] == [0.0, 0.0, 0.0]
    assert trainer.stopped_early and trainer.current_epoch == 3


def test_a_good_epoch_resets_the_coverage_count(monkeypatch: pytest.MonkeyPatch) -> None:
    trainer = _always_bottom_trainer(10, coverage_patience=3, coverage_threshold=0.9)
    coverages = iter([0.5, 0.5, 0.95, 0.5, 0.5, 0.5, 0.5])
    monkeypatch.setattr(trainer, "validate", lambda: {"coverage": next(coverages)})
    history = trainer.fit()
    assert len(history) == 6 and trainer.stopped_early
    stopped = _always_bottom_trainer(2, coverage_patience=3, coverage_threshold=0.95)
    assert not stopped.fit()[-1]["val_coverage"]


def test_validation_and_logging_reach_history_and_the_hook() -> None:
    records: list[dict[str, Any]] = []
    batches = split(make_rows(7 * 16), [16] * 7)
    trainer = _trainer(
        batches, max_epochs=2, val_loader=batches[:2], log_hook=records.append, log_every_n_steps=3
    )
    history = trainer.fit()
    train = [r for r in records if r["phase"] == "train"]
    assert [r["step"] for r in train] == [3, 6, 9, 12]
    assert all(isinstance(r["step_loss"], float) for r in train)
    epochs = [r for r in records if r["phase"] == "epoch"]
    assert [r["epoch"] for r in epochs] == [0, 1] and epochs[0]["val_rows"] == 32.0
    assert [r["epoch"] for r in trainer.val_history] == [0, 1]
    assert set(trainer.val_history[0]) == {"epoch"} | {
        f"val_{k}"
        for k in (
            "loss",
            "coverage",
            "finite_rmse",
            "finite_decoded",
            "bottom_recall",
            "bottom_precision",
            "bottom_f1",
            "finite_rmse_latent",
            "censored_bottom_side",
            "censored_any_side",
            "domain_invalid_recall",
            "domain_invalid_precision",
            "tau_calibrated",
            "rows",
            "missing",
        )
    }
    assert history[1]["val_loss"] == trainer.val_history[1]["val_loss"]
    assert history[0]["rows"] == 112.0


def test_a_training_step_never_reads_the_device(monkeypatch: pytest.MonkeyPatch) -> None:
    inputs, values, codes = make_rows(64)
    batch = Batch(inputs, values, codes, lift_semantic_targets(values, codes))
    trainer = _trainer([batch], gradient_accumulation_steps=2, gradient_policy="clamp")
    trainer.train_step(batch)  # warm up lazily built state

    def host_read(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a training step read a tensor on the host")

    for name in ("item", "tolist", "__bool__", "__float__", "__int__", "numpy", "cpu"):
        monkeypatch.setattr(torch.Tensor, name, host_read)
    for _ in range(40):  # past a metrics flush (every 32 steps)
        trainer.train_step(batch)
    monkeypatch.undo()
    assert trainer.global_step == 41


def test_bf16_autocast_on_cpu_and_fp16_is_refused_there() -> None:
    trainer = _trainer(split(make_rows(64), [32, 32]), use_amp=True)
    history = trainer.fit()
    assert trainer.amp.dtype == torch.bfloat16 and history[0]["loss"] > 0
    with pytest.raises(
        ConfigError, match=r"amp_dtype='float16' is not supported on cpu; use amp_dtype='bfloat16'"
    ):
        _trainer([], use_amp=True, amp_dtype="float16")


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
FINITE_ONLY = {Status.FINITE: 1.0}  # well conditioned: precisions can be compared


@needs_cuda
def test_cuda_training_matches_cpu() -> None:
    batches = split(make_rows(256, mix=FINITE_ONLY), [64] * 4)
    cpu = _trainer(batches, max_epochs=2)
    cpu.fit()
    cuda = _trainer(batches, max_epochs=2, device="cuda")
    cuda.fit()
    cuda_state = {k: v.cpu() for k, v in state_copy(cuda.model).items()}
    assert_states_close(cuda_state, state_copy(cpu.model), rtol=1e-4, atol=1e-5)


@needs_cuda
@pytest.mark.parametrize("amp_dtype", ["float16", "bfloat16"])
def test_cuda_mixed_precision_trains_like_fp32(amp_dtype: str) -> None:
    batches = split(make_rows(512, mix=FINITE_ONLY), [64] * 8)
    full = _trainer(batches, max_epochs=3, device="cuda")
    full.fit()
    mixed = _trainer(batches, max_epochs=3, device="cuda", use_amp=True, amp_dtype=amp_dtype)
    mixed.fit()
    assert mixed.amp.scaler.is_enabled() == (amp_dtype == "float16")
    losses = [record["loss"] for record in mixed.history]
    assert losses[-1] < losses[0]
    # fp16's grad scaler skips its first steps while it finds a scale without
    # overflow (seen on an H200: 0.061 against fp32's 0.036 after 24 steps).
    tolerance = {"bfloat16": 0.1, "float16": 1.0}[amp_dtype]
    assert losses[-1] == pytest.approx(full.history[-1]["loss"], rel=tolerance)


def test_fit_after_the_last_epoch_trains_no_more() -> None:
    trainer = _trainer(split(make_rows(64), [32, 32]), max_epochs=1)
    history = trainer.fit()
    state = state_copy(trainer.model)
    assert trainer.fit() == history and len(history) == 1
    assert_states_equal(state_copy(trainer.model), state)


def test_config_must_be_a_training_config() -> None:
    model = ProjectiveMLP(3, 1)
    with pytest.raises(ConfigError, match=r"config must be a TrainingConfig, got dict"):
        SCMTrainer(
            model, torch.optim.SGD(model.parameters(), 0.1), SCMTrainingLoss(), [], config={}
        )  # type: ignore[arg-type]


def test_the_loss_receives_the_stored_values_by_name() -> None:
    """Censored cells carry their limit in `values`; the loss gets them as stored."""
    inputs, values, codes = make_rows(64, seed=2)
    values = torch.where(codes == Status.CENSORED_BELOW, torch.tensor(-7.5), values)
    received: list[torch.Tensor] = []

    def wants_values(outputs: Any, targets: Any, *, values: torch.Tensor) -> torch.Tensor:
        received.append(values)
        return outputs[0].sum() * 0

    forms = [Batch(inputs, values, codes), (inputs, values, codes)]
    for batch in forms:
        received.clear()
        _trainer([batch], loss_fn=wants_values).fit()
        assert len(received) == 1
        torch.testing.assert_close(received[0], values, equal_nan=True)
    assert (received[0][codes == Status.CENSORED_BELOW] == -7.5).all()

    def values_if_any(outputs: Any, targets: Any, *, values: Any = "absent") -> torch.Tensor:
        received.append(values)
        return outputs[0].sum() * 0

    received.clear()  # (inputs, SemanticTargets) carries no values: the keyword is left out
    _trainer([(inputs, lift_semantic_targets(values, codes))], loss_fn=values_if_any).fit()
    assert received == ["absent"]


def _constant_q_model(q: float) -> torch.nn.Module:
    model = ProjectiveMLP(3, 1, hidden=(4,))
    with torch.no_grad():
        model.head.denominator.weight.zero_()
        model.head.denominator.bias.fill_(q)
    return model


def test_validation_decodes_at_tau_infer_and_nowhere_else() -> None:
    """|Q| = 5e-4 sits between tau_infer (1e-4) and the training thresholds (1e-3):
    at tau_infer every output decodes finite, at any training threshold ⊥."""
    batches = split(make_rows(64, mix={Status.FINITE: 0.8, Status.BOTTOM: 0.2}), [32, 32])
    model = _constant_q_model(5e-4)
    trainer = SCMTrainer(
        model,
        torch.optim.SGD(model.parameters(), lr=0.0),
        SCMTrainingLoss(),
        batches,
        config=TrainingConfig(
            tau_infer=1e-4, tau_train_min=1e-3, tau_train_max=1e-3, val_loader=batches
        ),
    )
    record = trainer.fit()[-1]
    assert record["val_coverage"] == 1.0 and record["coverage"] == 1.0
    assert record["val_bottom_recall"] == 0.0
    at_training = trainer.validate(tau_infer=1e-3)
    assert at_training is not None and at_training["coverage"] == 0.0


def test_a_non_finite_loss_stops_training_naming_step_and_epoch() -> None:
    batches = split(make_rows(96), [32, 32, 32])
    calls = []

    def breaks_at_step_5(outputs: Any, targets: Any, *, global_step: int) -> torch.Tensor:
        calls.append(global_step)
        loss = outputs[0].square().mean()
        return loss * float("nan") if global_step == 5 else loss

    trainer = _trainer(batches, loss_fn=breaks_at_step_5, max_epochs=4, log_every_n_steps=100)
    with pytest.raises(
        DataError, match=r"^training stopped: the loss is not finite at step 5 of epoch 1 "
    ):
        trainer.fit()
    assert len(trainer.history) == 1  # epoch 0 kept; epoch 1 not recorded
    assert max(calls) == 6  # found at the end of epoch 1, not later
