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
# Canvas rows that the inference-time RECON guard compares. The full check costs about as
# much as the stitching itself, so it runs on every row only in the property tests.
RECON_GUARD_SAMPLE_ROWS = 16
RECON_GUARD_STAGE = "stitched object"


def dtype_name(tensor: torch.Tensor) -> str:
    return str(tensor.dtype).removeprefix("torch.")


class ReferenceAdapter:
    """Loads a ``PtychoPINNModule`` checkpoint, predicts patches and stitches them.

    Stitching weights each patch pixel by the normalized probe intensity |P|^2 / max |P|^2,
    because the measured pattern constrains the object only where the probe illuminates it.
    """

    name = "reference"

    def __init__(self, guard_mode: str = "raise") -> None:
        self._module = None
        self._info: CheckpointInfo | None = None
        self._stage_dtypes: dict[str, str] = {}
        # Contract guards at the grouping, network and stitching boundaries: "off", "warn" or "raise".
        self.guard_mode = guard_mode

    def default_checkpoint(self) -> Path | None:
        return DEFAULT_CHECKPOINT if DEFAULT_CHECKPOINT.is_file() else None

    def default_dataset(self) -> Path | None:
        return DEFAULT_DATASET if DEFAULT_DATASET.is_file() else None

    def load_checkpoint(self, path: Path) -> CheckpointInfo:
        from reference_impl.checkpoint import load_checkpoint

        self._module, self._info = load_checkpoint(Path(path))
        self._module.guard_mode = self.guard_mode
        logger.info("loaded checkpoint %s (N=%d, gridsize=%d)", path, self._info.patch_size, self._info.gridsize)
        return self._info

    def inference_batches(self, dataset: Path, batch_size: int) -> Iterator[InferenceBatch]:
        """Yield the dataset's groups in order; the model's gridsize sets the grouping.

        Raises:
            ShapeMismatchError: the dataset's N differs from the checkpoint's.
        """
        from reference_impl.data import load_dataset, make_inference_loader
        from reference_impl.model import ShapeMismatchError

        arrays = load_dataset(Path(dataset))
        module = self._loaded_module()
        patch_size = int(arrays["diffraction"].shape[-1])
        if patch_size != module.hparams.patch_size:
            raise ShapeMismatchError(
                f"dataset {dataset} has N={patch_size}, but the checkpoint was trained for "
                f"N={module.hparams.patch_size} (gridsize {module.hparams.gridsize}); "
                f"use a checkpoint trained for N={patch_size}"
            )
        self._stage_dtypes = {
            "trainer precision": "32-true (no Trainer: direct forward under inference_mode)",
            "parameter dtype": self._info.parameter_dtype if self._info else "unknown",
            "dataset diffraction": str(arrays["diffraction"].dtype),
            "dataset coordinates": str(np.asarray(arrays["xcoords"]).dtype),
        }
        for batch in make_inference_loader(
            arrays, batch_size, gridsize=module.hparams.gridsize, guard_mode=self.guard_mode
        ):
            self._stage_dtypes.setdefault("network input", dtype_name(batch.diffraction))
            self._stage_dtypes.setdefault("batch coordinates", dtype_name(batch.xcoords))
            yield batch

    def predict_patches(self, batch: InferenceBatch) -> torch.Tensor:
        """Return (B, C, N, N) complex64 patches; the BATCH guard checks input and output."""
        from reference_impl.model import guard_batch_tensors

        module = self._loaded_module()
        guard_batch_tensors(batch.diffraction, module.probe, None, self.guard_mode)
        with torch.inference_mode():
            patches = module.predict_object(batch.diffraction)
        guard_batch_tensors(batch.diffraction, module.probe, patches, self.guard_mode)
        self._stage_dtypes.setdefault("network output", dtype_name(patches))
        return patches

    def stitch(self, patches: np.ndarray, xcoords: np.ndarray, ycoords: np.ndarray) -> StitchedObject:
        """Stitch (n, N, N) or (n, C, N, N) patches at (n,) or (n, C) centres, then guard the result."""
        from reference_impl.stitching import stitch_patches

        patches = np.asarray(patches)
        patches = patches.reshape(-1, patches.shape[-2], patches.shape[-1])
        weight = self._stitch_weight(patches.shape[-1])
        stitched = stitch_patches(patches, xcoords, ycoords, weight=weight)
        self._guard_recon(patches, xcoords, ycoords, weight, stitched)
        self._stage_dtypes["stitched object"] = str(stitched.obj.dtype)
        return stitched

    @property
    def stage_dtypes(self) -> dict[str, str]:
        """The Trainer precision, parameter dtype and the dtype at each stage of the last run."""
        return dict(self._stage_dtypes)

    def _guard_recon(
        self, patches: np.ndarray, xcoords: np.ndarray, ycoords: np.ndarray,
        weight: np.ndarray | None, stitched: StitchedObject,
    ) -> None:
        if self.guard_mode == "off":
            return
        try:
            from contracts.guards import guard_recon
            from contracts.recon import offsets_from_origin
        except ImportError:
            return
        offsets_x, offsets_y = offsets_from_origin(
            np.asarray(xcoords).reshape(-1), np.asarray(ycoords).reshape(-1),
            stitched.origin_x_px, stitched.origin_y_px, stitched.obj.shape,
        )
        arrays = {
            "patches": patches,
            "offsets_x_px": offsets_x,
            "offsets_y_px": offsets_y,
            "canvas": stitched.obj,
            "counts": stitched.overlap_count,
            "amplitude": np.abs(stitched.obj).astype(np.float32),
            "phase": np.angle(stitched.obj).astype(np.float32),
        }
        if weight is not None:
            arrays["weight"] = weight
        guard_recon(arrays, stage=RECON_GUARD_STAGE, mode=self.guard_mode, sample_rows=RECON_GUARD_SAMPLE_ROWS)

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
