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
# Trainer precision settings the physics path is protected under (it disables autocast and
# runs the FFT in complex64). "64-true" would make the parameters float64, and the
# "-true" half precisions would make them float16/bfloat16; both are rejected. On CPU,
# Lightning 2.6 runs "16-mixed" as "bf16-mixed".
ACCEPTED_PRECISIONS = ("32-true", "32", "16-mixed", "bf16-mixed")


def check_precision(precision: str | int) -> str:
    """Return ``precision`` as a string if training supports it.

    Raises:
        ValueError: any other setting, with the accepted ones.
    """
    text = str(precision)
    if text not in ACCEPTED_PRECISIONS:
        raise ValueError(
            f"--precision {precision} is invalid; expected one of {', '.join(ACCEPTED_PRECISIONS)}. "
            f"The forward model runs in float32/complex64, so float64 or pure half-precision weights "
            f"are rejected; use '32-true' or a mixed setting"
        )
    return text


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
    gridsize: int = 1,
    precision: str = "32-true",
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
        learning_rate=learning_rate, progress_bar=progress_bar, gridsize=gridsize, precision=precision,
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
    gridsize: int = 1,
    precision: str = "32-true",
) -> tuple[L.Trainer, FitResult]:
    """Train a fresh module on in-memory dataset arrays; the caller saves the checkpoint.

    The arrays are used as given (no contract guard); ``load_dataset`` is where files are checked.
    """
    if epochs < 1:
        raise ValueError(f"epochs={epochs} is invalid; expected at least 1")
    precision = check_precision(precision)
    L.seed_everything(seed, workers=True, verbose=False)
    scales = scale_settings(arrays)
    logger.info(
        "training with intensity scale %.6g and diffraction normalization %.6g (%s)",
        scales.intensity_scale, scales.diffraction_normalization, scales.source,
    )
    module = PtychoPINNModule(
        patch_size=int(arrays["diffraction"].shape[-1]),
        gridsize=gridsize,
        channels=channels,
        intensity_scale=scales.intensity_scale,
        diffraction_normalization=scales.diffraction_normalization,
        learning_rate=learning_rate,
        probe=torch.from_numpy(np.asarray(arrays["probeGuess"]).astype(np.complex64)),
    )
    loader = make_training_loader(arrays, batch_size, seed, gridsize=gridsize)
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=epochs,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=progress_bar,
        enable_model_summary=False,
        deterministic=True,
        precision=precision,
    )
    started = time.perf_counter()
    trainer.fit(module, train_dataloaders=loader)
    seconds = time.perf_counter() - started
    final_loss = float(trainer.callback_metrics.get("train_poisson_nll", torch.tensor(float("nan"))))
    logger.info("training stopped after %d epochs (max_epochs reached) in %.1f s", trainer.current_epoch, seconds)
    return trainer, FitResult(module=module, epochs=trainer.current_epoch, final_loss=final_loss, seconds=seconds)


def scale_settings(arrays: dict[str, np.ndarray]) -> ScaleSettings:
    """Read s and f from the dataset's metadata, or estimate them from its probe and object.

    The estimate assumes E[sum |Psi|^2] = sum |P|^2 * mean |O|^2, with |O| = 1 when the
    dataset has no ``objectGuess``. Two cases are estimated:

    - ``diffraction_normalization`` f0 stated without ``intensity_scale``, as in converted
      measured data where diffraction = f0 * sqrt(counts): the photon count per pattern is
      mean sum((diffraction / f0)^2), s follows from it, and the model's normalization is
      f0 * s, so that diffraction / (f0 * s) = sqrt(counts) / s is the physical amplitude.
    - neither stated: the stored diffraction is taken as normalized to mean sum(A^2) =
      (N/2)^2 as the simulator writes it, with the metadata's ``nphotons`` or 1e9 photons.
    """
    metadata = dataset_metadata(arrays)
    scale = metadata.get("intensity_scale")
    normalization = metadata.get("diffraction_normalization")
    if _is_positive_number(scale) and _is_positive_number(normalization):
        return ScaleSettings(float(scale), float(normalization), "dataset metadata")

    # NOTE: this estimate ignores where the probe sits on the object; it is rough.
    probe = np.asarray(arrays["probeGuess"])
    if "objectGuess" in arrays:
        mean_object_intensity = float(np.mean(np.abs(np.asarray(arrays["objectGuess"])) ** 2))
    else:
        mean_object_intensity = 1.0
    energy = float(np.sum(np.abs(probe) ** 2) * mean_object_intensity)
    diffraction = np.asarray(arrays["diffraction"], dtype=np.float64)
    mean_pattern_energy = float(np.mean(np.sum(diffraction**2, axis=(-2, -1))))

    if _is_positive_number(normalization):
        nphotons = mean_pattern_energy / float(normalization) ** 2
        intensity = float(np.sqrt(nphotons / energy))
        logger.warning(
            "dataset metadata states diffraction_normalization but no intensity_scale; "
            "taking diffraction as f * sqrt(counts) with %.6g photons per pattern and "
            "mean |objectGuess|^2 = %.4g", nphotons, mean_object_intensity,
        )
        return ScaleSettings(
            intensity_scale=intensity,
            diffraction_normalization=float(normalization) * intensity,
            source=f"estimated from counts (f = {float(normalization):.6g}) and probe, nphotons={nphotons:.6g}",
        )

    nphotons = float(metadata.get("nphotons", FALLBACK_NPHOTONS))
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


def _is_positive_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value) and value > 0
