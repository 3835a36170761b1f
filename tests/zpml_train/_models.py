"""Small models whose outputs decode both ways, for the predict and evaluate tests."""

from __future__ import annotations

import torch

from zpml_train import ProjectiveMLP


def gated_with_bottoms(inputs: int, tau: float = 0.5, seed: int = 0) -> ProjectiveMLP:
    """A gated model with random head weights whose gate closes (Q < tau) on 10-90% of inputs.

    Seeds are tried from ``seed`` on until one does, so the test does not
    depend on how the head lays out its weights.
    """
    probe = torch.randn(4000, inputs, generator=torch.Generator().manual_seed(seed)) * 3
    for attempt in range(seed, seed + 200):
        torch.manual_seed(attempt)
        model = ProjectiveMLP(inputs, 1, (8,), head="gated")
        with torch.no_grad():
            for parameter in model.head.parameters():
                parameter.normal_(std=2.0)
            closed = float((tau > model(probe).Q).float().mean())
        if 0.1 <= closed <= 0.9:
            return model
    raise AssertionError("no seed gives a gate that closes on some rows")
