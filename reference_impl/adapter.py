"""The reference implementation behind the harness's ``PipelineAdapter`` interface."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from harness.adapter import CheckpointInfo, InferenceBatch, StitchedObject

logger = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_CHECKPOINT = DATA_DIR / "run1084_n64.ckpt"
DEFAULT_DATASET = DATA_DIR / "run1084_default.npz"


class ReferenceAdapter:
    """Loads a ``PtychoPINNModule`` checkpoint, predicts patches and stitches them.

    Stitching weights each patch pixel by the normalized probe intensity |P|^2 / max |P|^2,
    because the measured pattern constrains the object only where the probe illuminates it.
    """

    name = "reference"

    def __init__(self) -> None:
        self._module = None
        self._info: CheckpointInfo | None = None

    def default_checkpoint(self) -> Path | None:
        return DEFAULT_CHECKPOINT if DEFAULT_CHECKPOINT.is_file() else None

    def default_dataset(self) -> Path | None:
        return DEFAULT_DATASET if DEFAULT_DATASET.is_file() else None

    def load_checkpoint(self, path: Path) -> CheckpointInfo:
        from reference_impl.checkpoint import load_checkpoint

        self._module, self._info = load_checkpoint(Path(path))
        logger.info("loaded checkpoint %s (N=%d, gridsize=%d)", path, self._info.patch_size, self._info.gridsize)
        return self._info

    def inference_batches(self, dataset: Path, batch_size: int) -> Iterator[InferenceBatch]:
        from reference_impl.data import load_dataset, make_inference_loader

        arrays = load_dataset(Path(dataset))
        module = self._loaded_module()
        patch_size = int(arrays["diffraction"].shape[-1])
        if patch_size != module.hparams.patch_size:
            from reference_impl.model import ShapeMismatchError

            raise ShapeMismatchError(
                f"dataset {dataset} has N={patch_size}, but the checkpoint was trained for "
                f"N={module.hparams.patch_size}; use a checkpoint trained for N={patch_size}"
            )
        yield from make_inference_loader(arrays, batch_size)

    def predict_patches(self, batch: InferenceBatch) -> torch.Tensor:
        module = self._loaded_module()
        with torch.inference_mode():
            return module.predict_object(batch.diffraction)

    def stitch(self, patches: np.ndarray, xcoords: np.ndarray, ycoords: np.ndarray) -> StitchedObject:
        from reference_impl.stitching import stitch_patches

        patches = np.asarray(patches)
        if patches.ndim == 4:
            if patches.shape[1] != 1:
                raise ValueError(
                    f"patches have {patches.shape[1]} channels; stitching supports gridsize 1 "
                    f"(one channel) only"
                )
            patches = patches[:, 0]
        return stitch_patches(patches, xcoords, ycoords, weight=self._stitch_weight(patches.shape[-1]))

    def _loaded_module(self):
        if self._module is None:
            checkpoint = self.default_checkpoint()
            if checkpoint is None:
                raise FileNotFoundError(
                    f"no checkpoint loaded and the default {DEFAULT_CHECKPOINT} is missing; "
                    f"call load_checkpoint(path) first"
                )
            logger.info("no checkpoint given; using the shipped %s", checkpoint)
            self.load_checkpoint(checkpoint)
        return self._module

    def _stitch_weight(self, patch_size: int) -> np.ndarray | None:
        if self._module is None or self._module.hparams.patch_size != patch_size:
            return None
        intensity = self._module.probe.abs().square().numpy()
        peak = float(intensity.max())
        return intensity / peak if peak > 0 else None
