"""Dataset loading and the deterministic inference DataLoader.

Batches leave the loader as ``harness.adapter.InferenceBatch``: diffraction cast to
float32 and shaped (batch, channels, N, N), coordinates in the dtype the file stored.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from harness.adapter import InferenceBatch

logger = logging.getLogger(__name__)

GUARD_STAGE = "dataset input"


class DatasetReadError(ValueError):
    """A dataset file cannot be read: missing, not an NPZ, or holding object arrays."""


def load_dataset(path: Path) -> dict[str, np.ndarray]:
    """Read every array of a canonical NPZ (no pickle) and check it against the DATASET contract.

    Raises:
        DatasetReadError: the file is missing or is not a readable NPZ without object arrays.
        contracts.errors.ContractViolationError: an error-severity DATASET rule fails.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetReadError(f"dataset {path} not found")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except ValueError as error:
        raise DatasetReadError(
            f"cannot read {path}: {error}; object arrays are not allowed, store plain dtypes"
        ) from error
    except (OSError, EOFError) as error:
        raise DatasetReadError(f"cannot read {path} as an NPZ file: {error}") from error
    _guard(arrays)
    return arrays


def dataset_metadata(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """Return the parsed ``metadata_json`` of a dataset, or an empty dict when it has none."""
    if "metadata_json" not in arrays:
        return {}
    try:
        metadata = json.loads(str(arrays["metadata_json"]))
    except json.JSONDecodeError as error:
        logger.warning("metadata_json is not valid JSON (%s); ignoring it", error)
        return {}
    return metadata if isinstance(metadata, dict) else {}


class DiffractionDataset(Dataset):
    """The samples of one dataset: (channels, N, N) diffraction and the scan centre.

    Items keep the stored dtypes; the collate function does the casts.
    """

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        diffraction = arrays["diffraction"]
        if diffraction.ndim == 3:
            diffraction = diffraction[:, None, :, :]
        if diffraction.ndim != 4:
            raise ValueError(
                f"diffraction has shape {arrays['diffraction'].shape}, expected (n, N, N) "
                f"or (n, channels, N, N)"
            )
        self.diffraction = diffraction
        self.xcoords = np.asarray(arrays["xcoords"]).reshape(-1)
        self.ycoords = np.asarray(arrays["ycoords"]).reshape(-1)
        if not (len(self.xcoords) == len(self.ycoords) == len(diffraction)):
            raise ValueError(
                f"{len(diffraction)} patterns but {len(self.xcoords)} xcoords and "
                f"{len(self.ycoords)} ycoords; every pattern needs one scan position"
            )

    def __len__(self) -> int:
        return len(self.diffraction)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        return self.diffraction[index], self.xcoords[index], self.ycoords[index], index


def collate_inference_batch(samples: list[tuple[np.ndarray, np.ndarray, np.ndarray, int]]) -> InferenceBatch:
    """Stack samples into an ``InferenceBatch``, casting diffraction (any real dtype) to float32."""
    diffraction = torch.from_numpy(np.stack([sample[0] for sample in samples])).to(torch.float32)
    xcoords = torch.from_numpy(np.stack([sample[1] for sample in samples]))
    ycoords = torch.from_numpy(np.stack([sample[2] for sample in samples]))
    indices = torch.tensor([sample[3] for sample in samples], dtype=torch.int64)
    return InferenceBatch(diffraction=diffraction, xcoords=xcoords, ycoords=ycoords, indices=indices)


def make_inference_loader(arrays: dict[str, np.ndarray], batch_size: int) -> DataLoader:
    """Build a DataLoader that yields every sample once, in file order, as ``InferenceBatch``."""
    _check_batch_size(batch_size)
    return DataLoader(
        DiffractionDataset(arrays),
        batch_size=batch_size,
        shuffle=False,
        num_workers=0,
        collate_fn=collate_inference_batch,
    )


def make_training_loader(arrays: dict[str, np.ndarray], batch_size: int, seed: int) -> DataLoader:
    """Build a DataLoader that shuffles with its own seeded generator, for training."""
    _check_batch_size(batch_size)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return DataLoader(
        DiffractionDataset(arrays),
        batch_size=batch_size,
        shuffle=True,
        generator=generator,
        num_workers=0,
        collate_fn=collate_inference_batch,
    )


def _check_batch_size(batch_size: int) -> None:
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size} is invalid; expected a positive integer")


def _guard(arrays: dict[str, np.ndarray]) -> None:
    try:
        from contracts.guards import guard_dataset
    except ImportError:
        # NOTE: without the contracts package the dataset enters unchecked.
        logger.warning("contracts.guards is not importable; the dataset was not checked")
        return
    guard_dataset(arrays, stage=GUARD_STAGE)
