"""The physics-informed network: diffraction amplitude in, complex object patch out.

An encoder (convolutions and 2x average pooling) feeds two decoders (2x upsampling and
convolutions), one for the amplitude and one for the phase of the object patch. Training
is unsupervised: the predicted patch goes through the forward model with the known probe
and the loss is the Poisson negative log-likelihood of the measured pattern.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Sequence
from typing import Any

import lightning as L
import torch
from torch import nn

from harness.adapter import InferenceBatch
from reference_impl import physics

logger = logging.getLogger(__name__)

MAX_GRIDSIZE = 4


class ShapeMismatchError(ValueError):
    """Data of another patch size or gridsize than the model was built for."""


def _conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
    )


def _decoder(widths: Sequence[int], out_channels: int) -> nn.Sequential:
    """Upsample from the deepest width back to full resolution, one 2x step per width."""
    layers: list[nn.Module] = []
    reversed_widths = list(reversed(widths))
    for in_width, out_width in zip(reversed_widths, reversed_widths[1:] + [widths[0]]):
        layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
        layers.append(_conv_block(in_width, out_width))
    layers.append(nn.Conv2d(widths[0], out_channels, kernel_size=3, padding=1))
    return nn.Sequential(*layers)


class PtychoPINNModule(L.LightningModule):
    """Encoder-decoder mapping (batch, C, N, N) float32 amplitudes to (batch, C, N, N) complex64.

    Args:
        patch_size: N, the pattern and patch size in pixels; must be divisible by
            2 ** len(channels).
        gridsize: patterns per group along one axis; C = gridsize ** 2 channels.
        channels: the encoder widths, one 2x pooling step per entry.
        intensity_scale: s, photon units per unit of physical amplitude.
        diffraction_normalization: f, stored diffraction = f * physical amplitude.
        amplitude_max: the amplitude output is amplitude_max * sigmoid(.).
        learning_rate: Adam step size.
        probe: (N, N) complex probe; zeros when omitted (load a checkpoint to fill it).
    """

    def __init__(
        self,
        patch_size: int = 64,
        gridsize: int = 1,
        channels: Sequence[int] = (16, 32, 64),
        intensity_scale: float = 1.0,
        diffraction_normalization: float = 1.0,
        amplitude_max: float = 2.0,
        learning_rate: float = 1e-3,
        probe: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        channels = [int(width) for width in channels]
        _check_hyperparameters(patch_size, gridsize, channels)
        self.save_hyperparameters(
            {
                "patch_size": int(patch_size),
                "gridsize": int(gridsize),
                "channels": channels,
                "intensity_scale": float(intensity_scale),
                "diffraction_normalization": float(diffraction_normalization),
                "amplitude_max": float(amplitude_max),
                "learning_rate": float(learning_rate),
            }
        )
        n_channels = gridsize * gridsize
        if probe is None:
            probe = torch.zeros(patch_size, patch_size, dtype=torch.complex64)
        probe = torch.as_tensor(probe).to(torch.complex64)
        if tuple(probe.shape) != (patch_size, patch_size):
            raise ShapeMismatchError(
                f"probe has shape {tuple(probe.shape)}, expected ({patch_size}, {patch_size})"
            )
        self.register_buffer("probe", probe)
        # Contract guard mode at the network boundary: "off", "warn" or "raise".
        self.guard_mode = "raise"

        layers: list[nn.Module] = []
        in_width = n_channels
        for width in channels:
            layers.append(_conv_block(in_width, width))
            layers.append(nn.AvgPool2d(2))
            in_width = width
        self.encoder = nn.Sequential(*layers)
        self.amplitude_decoder = _decoder(channels, n_channels)
        self.phase_decoder = _decoder(channels, n_channels)

    def forward(self, diffraction: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Predict (amplitude, phase), each (batch, C, N, N) float32, amplitude >= 0, phase in [-pi, pi]."""
        self.check_input(diffraction)
        features = self.encoder(diffraction)
        amplitude = self.hparams.amplitude_max * torch.sigmoid(self.amplitude_decoder(features))
        phase = math.pi * torch.tanh(self.phase_decoder(features))
        return amplitude, phase

    def predict_object(self, diffraction: torch.Tensor) -> torch.Tensor:
        """Return the complex64 object patches (batch, C, N, N) for a diffraction batch.

        The network may run under autocast (reduced precision); the complex patch is built
        from float32 amplitude and phase with autocast disabled.
        """
        amplitude, phase = self(diffraction)
        return physics.complex_patch(amplitude, phase)

    def check_input(self, diffraction: torch.Tensor) -> None:
        """Raise ShapeMismatchError unless ``diffraction`` is (batch, gridsize**2, N, N) float32."""
        patch_size = self.hparams.patch_size
        gridsize = self.hparams.gridsize
        expected = (gridsize * gridsize, patch_size, patch_size)
        if diffraction.ndim != 4 or tuple(diffraction.shape[1:]) != expected:
            seen_size = diffraction.shape[-1] if diffraction.ndim >= 2 else None
            seen_channels = diffraction.shape[1] if diffraction.ndim == 4 else None
            raise ShapeMismatchError(
                f"diffraction batch has shape {tuple(diffraction.shape)} (N={seen_size}, "
                f"channels={seen_channels}), but the model was built for N={patch_size}, "
                f"gridsize={gridsize} (expected (batch, {expected[0]}, {patch_size}, {patch_size})); "
                f"use a checkpoint trained for this data or retrain"
            )
        if diffraction.dtype != torch.float32:
            raise TypeError(
                f"diffraction batch has dtype {diffraction.dtype}, expected torch.float32; "
                f"cast it in the DataLoader's collate function"
            )

    def training_step(self, batch: InferenceBatch, batch_idx: int) -> torch.Tensor:
        object_patches = self.predict_object(batch.diffraction)
        predicted = physics.forward_amplitude(self.probe, object_patches)
        observed = batch.diffraction / self.hparams.diffraction_normalization
        loss = physics.poisson_nll(predicted, observed, self.hparams.intensity_scale)
        self.log("train_poisson_nll", loss, prog_bar=True, on_step=False, on_epoch=True,
                 batch_size=batch.diffraction.shape[0])
        return loss

    def predict_step(self, batch: InferenceBatch, batch_idx: int, dataloader_idx: int = 0) -> dict[str, Any]:
        """Return the patches with the group indices and positions they belong to.

        Keys: ``patches`` (B, C, N, N) complex64, ``indices`` (B,) int64, ``xcoords`` and
        ``ycoords`` as the batch stores them, and ``dtypes`` naming the dtype at each stage.
        """
        guard_batch_tensors(batch.diffraction, self.probe, None, self.guard_mode)
        patches = self.predict_object(batch.diffraction)
        guard_batch_tensors(batch.diffraction, self.probe, patches, self.guard_mode)
        return {
            "patches": patches,
            "indices": batch.indices,
            "xcoords": batch.xcoords,
            "ycoords": batch.ycoords,
            "dtypes": {
                "network input": dtype_name(batch.diffraction),
                "network output": dtype_name(patches),
                "coordinates": dtype_name(batch.xcoords),
            },
        }

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        # Lightning's default transfer rejects frozen dataclasses, so move the fields here.
        if isinstance(batch, InferenceBatch):
            return dataclasses.replace(
                batch,
                diffraction=batch.diffraction.to(device),
                xcoords=batch.xcoords.to(device),
                ycoords=batch.ycoords.to(device),
                indices=batch.indices.to(device),
            )
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.hparams.learning_rate)


def dtype_name(tensor: torch.Tensor) -> str:
    """Return a dtype name without the ``torch.`` prefix, for reports."""
    return str(tensor.dtype).removeprefix("torch.")


BATCH_GUARD_STAGE = "network batch"


def guard_batch_tensors(
    diffraction: torch.Tensor, probe: torch.Tensor, output: torch.Tensor | None, mode: str
) -> None:
    """Check the network's input (and output, when given) against the BATCH contract.

    Scan positions are not passed: this network does not take them as input.
    """
    if mode == "off":
        return
    try:
        from contracts.guards import guard_batch
    except ImportError:
        return
    tensors: dict[str, torch.Tensor] = {"X": diffraction, "probe": probe}
    if output is not None:
        tensors["output"] = output
    guard_batch(tensors, stage=BATCH_GUARD_STAGE, mode=mode)


def _check_hyperparameters(patch_size: int, gridsize: int, channels: list[int]) -> None:
    if not 1 <= gridsize <= MAX_GRIDSIZE:
        raise ShapeMismatchError(
            f"gridsize={gridsize} is not supported; expected 1 to {MAX_GRIDSIZE} "
            f"(C = gridsize^2 channels per group)"
        )
    if not channels or any(width < 1 for width in channels):
        raise ValueError(f"channels={channels} is invalid; expected positive widths")
    if patch_size % (2 ** len(channels)) != 0:
        raise ValueError(
            f"patch_size={patch_size} is not divisible by 2**{len(channels)} (one 2x pooling "
            f"step per channel width); use fewer channel widths or another patch size"
        )
