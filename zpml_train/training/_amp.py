"""Mixed precision through ``torch.autocast``: bf16 on CPU; fp16 (scaled) or bf16 on CUDA."""

from __future__ import annotations

import contextlib
from typing import Any

import torch

from zpml_data.errors import ConfigError

_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16}


class Amp:
    """Autocast and, for fp16 on CUDA, a ``GradScaler``; no-ops when AMP is off.

    The scaler's ``step`` reads its overflow flag on the host (a sync per
    optimizer step) unless the optimizer scales itself: pass
    ``torch.optim.Adam(..., fused=True)`` with fp16, or use bf16, which needs
    no scaler. Checked on an H200: no host sync in fp32, bf16, or fp16 with
    fused Adam.

    Args:
        enabled: ``TrainingConfig.mixed_precision``.
        amp_dtype: ``"auto"``, ``"float16"`` or ``"bfloat16"``.
        device: The training device.

    Raises:
        ConfigError: fp16 asked for on a device other than CUDA.
    """

    def __init__(self, enabled: bool, amp_dtype: str, device: torch.device) -> None:
        self.enabled = enabled
        self.device_type = device.type
        if amp_dtype == "auto":
            amp_dtype = "float16" if device.type == "cuda" else "bfloat16"
        if enabled and amp_dtype == "float16" and device.type != "cuda":
            raise ConfigError(
                f"amp_dtype='float16' is not supported on {device.type}; "
                "use amp_dtype='bfloat16' (or 'auto')"
            )
        self.dtype = _DTYPES[amp_dtype]
        # fp16 gradients underflow without loss scaling; bf16 has fp32's range.
        self.scaler = torch.amp.GradScaler(
            "cuda", enabled=enabled and self.dtype == torch.float16 and device.type == "cuda"
        )

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """The forward pass's autocast context (a null context when AMP is off)."""
        if not self.enabled:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def backward(self, loss: torch.Tensor) -> None:
        """``loss.backward()``, through the scaler when it is on."""
        if self.scaler.is_enabled():
            loss = self.scaler.scale(loss)
        loss.backward()

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        """``optimizer.step()``; with the scaler: unscale, skip on inf/NaN, update the scale."""
        if self.scaler.is_enabled():
            self.scaler.step(optimizer)
            self.scaler.update()
        else:
            optimizer.step()
