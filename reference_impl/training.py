"""Unsupervised training of the network on one dataset with the Lightning Trainer on CPU."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import torch

from reference_impl.checkpoint import save_checkpoint
from reference_impl.data import dataset_metadata, load_dataset, make_training_loader
from reference_impl.model import PtychoPINNModule

logger = logging.getLogger(__name__)

# Used only when a dataset's metadata does not state its photon count.
FALLBACK_NPHOTONS = 1e9


@dataclass(frozen=True)
class TrainingRecord:
    """Summary of one training run: its settings, final loss, duration and checkpoint."""

    checkpoint: Path
    epochs: int
    batch_size: int
    seed: int
    final_loss: float
    seconds: float


@dataclass(frozen=True)
class ScaleSettings:
    """The two factors that link stored diffraction to photon counts."""

    intensity_scale: float
    diffraction_normalization: float
    source: str


def train_model(
    dataset: Path,
    out: Path,
    *,
    epochs: int = 100,
    batch_size: int = 16,
    seed: int = 0,
    channels: Sequence[int] = (16, 32, 64),
    learning_rate: float = 1e-3,
    progress_bar: bool = True,
) -> TrainingRecord:
    """Train a fresh model on ``dataset`` and save it to ``out``, which must not exist.

    Raises:
        FileExistsError: ``out`` exists (checked before training starts).
    """
    out = Path(out)
    if out.exists():
        raise FileExistsError(f"checkpoint {out} already exists; choose a new path")
    arrays = load_dataset(dataset)
    trainer, record = fit_module(
        arrays, epochs=epochs, batch_size=batch_size, seed=seed, channels=channels,
        learning_rate=learning_rate, progress_bar=progress_bar,
    )
    save_checkpoint(trainer, out)
    return TrainingRecord(
        checkpoint=out, epochs=record.epochs, batch_size=batch_size, seed=seed,
        final_loss=record.final_loss, seconds=record.seconds,
    )


@dataclass(frozen=True)
class FitResult:
    """Outcome of ``fit_module``: the trained module and what the run measured."""

    module: PtychoPINNModule
    epochs: int
    final_loss: float
    seconds: float


def fit_module(
    arrays: dict[str, np.ndarray],
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    channels: Sequence[int] = (16, 32, 64),
    learning_rate: float = 1e-3,
    progress_bar: bool = True,
) -> tuple[L.Trainer, FitResult]:
    """Train a fresh module on in-memory dataset arrays; the caller saves the checkpoint.

    The arrays are used as given (no contract guard); ``load_dataset`` is where files are checked.
    """
    if epochs < 1:
        raise ValueError(f"epochs={epochs} is invalid; expected at least 1")
    L.seed_everything(seed, workers=True, verbose=False)
    scales = scale_settings(arrays)
    logger.info(
        "training with intensity scale %.6g and diffraction normalization %.6g (%s)",
        scales.intensity_scale, scales.diffraction_normalization, scales.source,
    )
    module = PtychoPINNModule(
        patch_size=int(arrays["diffraction"].shape[-1]),
        gridsize=1,
        channels=channels,
        intensity_scale=scales.intensity_scale,
        diffraction_normalization=scales.diffraction_normalization,
        learning_rate=learning_rate,
        probe=torch.from_numpy(np.asarray(arrays["probeGuess"]).astype(np.complex64)),
    )
    loader = make_training_loader(arrays, batch_size, seed)
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=epochs,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=progress_bar,
        enable_model_summary=False,
        deterministic=True,
    )
    started = time.perf_counter()
    trainer.fit(module, train_dataloaders=loader)
    seconds = time.perf_counter() - started
    final_loss = float(trainer.callback_metrics.get("train_poisson_nll", torch.tensor(float("nan"))))
    logger.info("training stopped after %d epochs (max_epochs reached) in %.1f s", trainer.current_epoch, seconds)
    return trainer, FitResult(module=module, epochs=trainer.current_epoch, final_loss=final_loss, seconds=seconds)


def scale_settings(arrays: dict[str, np.ndarray]) -> ScaleSettings:
    """Read s and f from the dataset's metadata, or estimate them from its probe and object.

    The estimate assumes E[sum |Psi|^2] = sum |P|^2 * mean |O|^2 and the stored diffraction
    normalized to mean sum(A^2) = (N/2)^2, as the simulator writes it.
    """
    metadata = dataset_metadata(arrays)
    scale = metadata.get("intensity_scale")
    normalization = metadata.get("diffraction_normalization")
    if isinstance(scale, (int, float)) and isinstance(normalization, (int, float)):
        return ScaleSettings(float(scale), float(normalization), "dataset metadata")

    # NOTE: this estimate ignores where the probe sits on the object; it is rough.
    probe = np.asarray(arrays["probeGuess"])
    obj = np.asarray(arrays["objectGuess"])
    energy = float(np.sum(np.abs(probe) ** 2) * np.mean(np.abs(obj) ** 2))
    nphotons = float(metadata.get("nphotons", FALLBACK_NPHOTONS))
    diffraction = np.asarray(arrays["diffraction"], dtype=np.float64)
    mean_pattern_energy = float(np.mean(np.sum(diffraction**2, axis=(-2, -1))))
    normalization_estimate = float(np.sqrt(mean_pattern_energy / energy))
    logger.warning(
        "dataset metadata lacks intensity_scale/diffraction_normalization; estimating them "
        "from probeGuess and objectGuess with nphotons=%g", nphotons,
    )
    return ScaleSettings(
        intensity_scale=float(np.sqrt(nphotons / energy)),
        diffraction_normalization=normalization_estimate,
        source=f"estimated from probe and object, nphotons={nphotons:g}",
    )
