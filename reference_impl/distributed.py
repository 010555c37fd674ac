"""Inference through ``Trainer.predict`` on one or several processes, merged by sample index.

Every process writes the patches it predicted, with the group indices they belong to, to
its own file (``IndexedPredictionWriter``). Process 0 then merges the files and checks that
every group of the dataset arrived exactly once. Lightning gives the prediction loader an
unrepeated distributed sampler, so a correct run has no duplicates even when the number of
groups does not divide by the number of processes.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import BasePredictionWriter

from reference_impl.checkpoint import load_checkpoint
from reference_impl.data import load_dataset, make_inference_loader
from reference_impl.model import ShapeMismatchError

logger = logging.getLogger(__name__)

RANK_FILE_PATTERN = "rank{rank:04d}.pt"


class PredictionMergeError(RuntimeError):
    """The per-process predictions do not cover every group exactly once."""


class IndexedPredictionWriter(BasePredictionWriter):
    """Collect each batch's patches and group indices, and write one file per process.

    The file ``folder/rank{global_rank:04d}.pt`` contains ``patches`` (n, C, N, N) complex64,
    ``indices`` (n,) int64, ``xcoords``/``ycoords`` and ``dtypes``. All processes wait at a
    barrier after writing, so process 0 can merge as soon as ``predict`` returns.
    """

    def __init__(self, folder: Path) -> None:
        super().__init__(write_interval="batch")
        self.folder = Path(folder)
        self._parts: list[dict[str, Any]] = []

    def write_on_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, prediction: Any,
        batch_indices: Any, batch: Any, batch_idx: int, dataloader_idx: int,
    ) -> None:
        if batch_indices is not None and list(batch_indices) != prediction["indices"].tolist():
            raise PredictionMergeError(
                f"batch {batch_idx} on process {trainer.global_rank} carries group indices "
                f"{prediction['indices'].tolist()} but the sampler gave {list(batch_indices)}"
            )
        self._parts.append({key: value for key, value in prediction.items()})

    def on_predict_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        parts = self._parts
        payload: dict[str, Any] = {"dtypes": parts[0]["dtypes"] if parts else {}}
        for key in ("patches", "indices", "xcoords", "ycoords"):
            payload[key] = torch.cat([part[key].cpu() for part in parts]) if parts else torch.empty(0)
        path = self.folder / RANK_FILE_PATTERN.format(rank=trainer.global_rank)
        torch.save(payload, path)
        logger.info("process %d wrote %d predicted groups to %s", trainer.global_rank, len(payload["indices"]), path)
        self._parts = []
        trainer.strategy.barrier("prediction files written")


@dataclass(frozen=True)
class MergedPredictions:
    """Predictions of all processes, sorted by group index.

    ``patches`` (B, C, N, N) complex64; ``xcoords``/``ycoords`` (B,) or (B, C); ``dtypes``
    names the dtype at each stage, including the Trainer precision and parameter dtype.
    """

    patches: np.ndarray
    xcoords: np.ndarray
    ycoords: np.ndarray
    indices: np.ndarray
    dtypes: dict[str, str]


def merge_rank_files(folder: Path, n_groups: int) -> MergedPredictions:
    """Merge the per-process files in ``folder`` and check that each group came exactly once.

    Raises:
        PredictionMergeError: no files, or a group index is missing, duplicated or out of range.
    """
    files = sorted(Path(folder).glob("rank*.pt"))
    if not files:
        raise PredictionMergeError(f"no prediction files in {folder}; did every process run predict?")
    payloads = [torch.load(path, map_location="cpu", weights_only=True) for path in files]
    payloads = [payload for payload in payloads if len(payload["indices"])]
    if not payloads:
        raise PredictionMergeError(f"the prediction files in {folder} hold no predictions")
    indices = torch.cat([payload["indices"] for payload in payloads]).numpy()
    check_indices(indices, n_groups)
    order = np.argsort(indices, kind="stable")

    def merged(key: str) -> np.ndarray:
        return torch.cat([payload[key] for payload in payloads]).numpy()[order]

    return MergedPredictions(
        patches=merged("patches"),
        xcoords=merged("xcoords"),
        ycoords=merged("ycoords"),
        indices=indices[order],
        dtypes=dict(payloads[0]["dtypes"]),
    )


def check_indices(indices: np.ndarray, n_groups: int) -> None:
    """Raise ``PredictionMergeError`` unless ``indices`` contains 0..n_groups-1 exactly once each."""
    counts = np.bincount(indices[(indices >= 0) & (indices < n_groups)], minlength=n_groups)
    missing = np.flatnonzero(counts == 0)
    duplicated = np.flatnonzero(counts > 1)
    outside = np.unique(indices[(indices < 0) | (indices >= n_groups)])
    if missing.size or duplicated.size or outside.size:
        raise PredictionMergeError(
            f"merged predictions do not cover the {n_groups} groups exactly once: "
            f"missing {_first(missing)}, duplicated {_first(duplicated)}, out of range {_first(outside)}; "
            f"check the sampler of the prediction DataLoader"
        )


def _first(values: np.ndarray, limit: int = 20) -> str:
    shown = ", ".join(str(int(value)) for value in values[:limit])
    more = f" and {values.size - limit} more" if values.size > limit else ""
    return f"[{shown}{more}] ({values.size})"


def predict_with_trainer(
    checkpoint: Path,
    dataset: Path,
    folder: Path,
    *,
    batch_size: int,
    devices: int = 1,
    strategy: str = "auto",
    precision: str = "32-true",
    guard_mode: str = "raise",
) -> MergedPredictions | None:
    """Predict every group of ``dataset`` with ``Trainer.predict`` and merge by group index.

    Runs on ``devices`` CPU processes (``strategy`` "ddp" re-launches this program once per
    extra process, with the gloo backend). ``folder`` receives the per-process files and is
    removed after merging. ``guard_mode`` ("off", "warn", "raise") applies to the grouped
    and network-batch contract guards. Returns the merged predictions on process 0 and None
    on the others.

    Raises:
        CheckpointError, ShapeMismatchError: the checkpoint does not fit the data.
        PredictionMergeError: a group is missing or duplicated after merging.
    """
    from reference_impl.training import check_precision

    precision = check_precision(precision)
    module, info = load_checkpoint(Path(checkpoint))
    module.guard_mode = guard_mode
    arrays = load_dataset(Path(dataset))
    patch_size = int(arrays["diffraction"].shape[-1])
    if patch_size != info.patch_size:
        raise ShapeMismatchError(
            f"dataset {dataset} has N={patch_size}, but the checkpoint was trained for "
            f"N={info.patch_size} (gridsize {info.gridsize}); use a checkpoint trained for N={patch_size}"
        )
    loader = make_inference_loader(arrays, batch_size, gridsize=info.gridsize, guard_mode=guard_mode)
    n_groups = len(loader.dataset)

    folder = Path(folder)
    if int(os.environ.get("LOCAL_RANK", "0")) == 0 and folder.exists():
        shutil.rmtree(folder)
    writer = IndexedPredictionWriter(folder)
    trainer = L.Trainer(
        accelerator="cpu",
        devices=devices,
        strategy=strategy,
        precision=precision,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[writer],
    )
    trainer.predict(module, dataloaders=loader, return_predictions=False)
    if not trainer.is_global_zero:
        return None
    merged = merge_rank_files(folder, n_groups)
    shutil.rmtree(folder, ignore_errors=True)
    dtypes = {
        "trainer precision": str(trainer.precision),
        "parameter dtype": info.parameter_dtype,
        **merged.dtypes,
    }
    logger.info(
        "merged %d groups from %d process(es) with strategy %s", n_groups, trainer.world_size, strategy
    )
    return MergedPredictions(
        patches=merged.patches, xcoords=merged.xcoords, ycoords=merged.ycoords,
        indices=merged.indices, dtypes=dtypes,
    )


