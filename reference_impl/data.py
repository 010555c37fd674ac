"""Dataset loading and the deterministic inference DataLoader.

Scan positions are grouped into gridsize x gridsize neighbourhoods (``group_scan``), and
batches leave the loader as ``harness.adapter.InferenceBatch``: diffraction cast to
float32 and shaped (batch, C, N, N), coordinates in the dtype the file stored.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from harness.adapter import InferenceBatch
from reference_impl.npz_io import NpzReadError, check_npz_archive

logger = logging.getLogger(__name__)

GUARD_STAGE = "dataset input"
GROUPED_GUARD_STAGE = "grouped batch"


class DatasetReadError(ValueError):
    """A dataset file cannot be read: missing, not an NPZ, or holding object arrays."""


def load_dataset(path: Path) -> dict[str, np.ndarray]:
    """Read every array of a canonical NPZ (no pickle) and check it against the DATASET contract.

    Raises:
        DatasetReadError: the file is missing, empty, not a readable NPZ (zip) archive, or
            contains object arrays.
        contracts.errors.ContractViolationError: an error-severity DATASET rule fails.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetReadError(f"dataset {path} not found")
    try:
        check_npz_archive(path)
    except NpzReadError as error:
        raise DatasetReadError(str(error)) from None
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


@dataclass(frozen=True)
class ScanGroups:
    """Scan positions grouped into gridsize x gridsize neighbourhoods, one group per position.

    ``nn_indices`` (B, C) int64 indexes the dataset's scan positions. ``coords_offsets``
    (B, 1, 2, 1) float64 is each group's mean position, and ``coords_relative`` (B, 1, 2, C)
    float64 is the position of each channel relative to it. The axis of length 2 is ordered
    [x, y], in object pixels. Channel c sits at grid (row, col) = (c // gridsize, c % gridsize):
    rows ordered by y, columns within a row by x. C = gridsize^2.
    """

    gridsize: int
    nn_indices: np.ndarray
    coords_offsets: np.ndarray
    coords_relative: np.ndarray

    @property
    def n_groups(self) -> int:
        return int(self.nn_indices.shape[0])


def group_scan(xcoords: np.ndarray, ycoords: np.ndarray, gridsize: int) -> ScanGroups:
    """Group every scan position with gridsize^2 - 1 neighbours into a small grid, deterministically.

    Group b is built around position b. The scan step is the median distance from a position
    to its nearest neighbour. A gridsize x gridsize lattice of that step is laid with one
    corner on position b, towards the inside of the scan. Each lattice point, in row-major
    order, takes the nearest position not yet in the group, searched among the 4 C nearest
    positions of b (ties broken by the lower index). So channel c sits near lattice point
    (row, col) = (c // gridsize, c % gridsize), with x growing along a row and y down a
    column. When the group's column (row) means do not grow by a quarter of its size, other
    lattice steps and directions are tried. With gridsize 1 each group is one position and
    coords_relative is 0.

    Raises:
        ValueError: gridsize < 1, or fewer scan positions than C.
    """
    xcoords = np.asarray(xcoords, dtype=np.float64).reshape(-1)
    ycoords = np.asarray(ycoords, dtype=np.float64).reshape(-1)
    if gridsize < 1:
        raise ValueError(f"gridsize={gridsize} is invalid; expected a positive integer")
    n_channels = gridsize * gridsize
    n_positions = xcoords.shape[0]
    if n_positions < n_channels:
        raise ValueError(
            f"{n_positions} scan positions cannot form groups of gridsize^2 = {n_channels}; "
            f"use a smaller gridsize"
        )
    if gridsize == 1:
        nn_indices = np.arange(n_positions, dtype=np.int64)[:, None]
    else:
        nn_indices = _lattice_groups(xcoords, ycoords, gridsize)

    positions = np.stack([xcoords[nn_indices], ycoords[nn_indices]], axis=1)  # (B, 2, C)
    offsets = positions.mean(axis=2, keepdims=True)  # (B, 2, 1)
    return ScanGroups(
        gridsize=gridsize,
        nn_indices=nn_indices.astype(np.int64),
        coords_offsets=offsets[:, None],
        coords_relative=(positions - offsets)[:, None],
    )


def _lattice_groups(xcoords: np.ndarray, ycoords: np.ndarray, gridsize: int) -> np.ndarray:
    """Return (n, C) row-major groups: the positions nearest a small lattice at each position."""
    n_channels = gridsize * gridsize
    n_positions = xcoords.shape[0]
    step = float(np.median(np.sqrt(_nearest_distance2(xcoords, ycoords))))
    candidates = _nearest_neighbours(xcoords, ycoords, min(n_positions, 4 * n_channels))
    groups = np.empty((n_positions, n_channels), dtype=np.int64)
    for seed in range(n_positions):
        inward_x = 1.0 if xcoords[seed] + step * (gridsize - 1) <= xcoords.max() + step / 2 else -1.0
        inward_y = 1.0 if ycoords[seed] + step * (gridsize - 1) <= ycoords.max() + step / 2 else -1.0
        fallback = None
        for scale, sign_x, sign_y in _LATTICE_TRIALS:
            group = _fill_lattice(
                xcoords, ycoords, candidates[seed], seed, gridsize,
                step * scale, sign_x * inward_x, sign_y * inward_y,
            )
            fallback = group if fallback is None else fallback
            if _is_row_major(xcoords[group], ycoords[group], gridsize):
                break
        else:
            # NOTE: on strongly irregular scans a few groups stay out of row-major order,
            # and the GROUPED guard reports them.
            group = fallback
        groups[seed] = group
    return groups


# Lattice steps (in scan steps) and directions tried, in order, until a group is row-major.
_LATTICE_TRIALS = [
    (scale, sign_x, sign_y)
    for scale in (1.0, 1.5, 0.75, 2.0)
    for sign_x, sign_y in ((1.0, 1.0), (-1.0, 1.0), (1.0, -1.0), (-1.0, -1.0))
]
# Neighbouring grid columns (rows) must differ in mean x (y) by more than this fraction of
# the mean channel distance from the group centre, as the GROUPED contract requires.
_ORDER_STEP_FRACTION = 0.25


def _fill_lattice(
    xcoords: np.ndarray, ycoords: np.ndarray, pool: np.ndarray, seed: int,
    gridsize: int, step: float, sign_x: float, sign_y: float,
) -> np.ndarray:
    """Assign to each lattice point, row-major, the nearest free position of ``pool``."""
    lattice = np.arange(gridsize, dtype=np.float64) * step
    origin_x = xcoords[seed] if sign_x > 0 else xcoords[seed] - lattice[-1]
    origin_y = ycoords[seed] if sign_y > 0 else ycoords[seed] - lattice[-1]
    free = np.ones(pool.shape[0], dtype=bool)
    group = np.empty(gridsize * gridsize, dtype=np.int64)
    for channel in range(gridsize * gridsize):
        target_x = origin_x + lattice[channel % gridsize]
        target_y = origin_y + lattice[channel // gridsize]
        distance2 = (xcoords[pool] - target_x) ** 2 + (ycoords[pool] - target_y) ** 2
        distance2[~free] = np.inf
        chosen = int(np.argmin(distance2))
        free[chosen] = False
        group[channel] = pool[chosen]
    return group


def _is_row_major(xs: np.ndarray, ys: np.ndarray, gridsize: int) -> bool:
    centre_x, centre_y = xs.mean(), ys.mean()
    min_step = _ORDER_STEP_FRACTION * np.hypot(xs - centre_x, ys - centre_y).mean()
    column_x = xs.reshape(gridsize, gridsize).mean(axis=0)
    row_y = ys.reshape(gridsize, gridsize).mean(axis=1)
    return bool(np.all(np.diff(column_x) > min_step) and np.all(np.diff(row_y) > min_step))


def _nearest_distance2(xcoords: np.ndarray, ycoords: np.ndarray) -> np.ndarray:
    """Return the squared distance from each position to its nearest other position."""
    neighbour = _nearest_neighbours(xcoords, ycoords, 2)[:, 1]
    return (xcoords[neighbour] - xcoords) ** 2 + (ycoords[neighbour] - ycoords) ** 2


def _nearest_neighbours(xcoords: np.ndarray, ycoords: np.ndarray, count: int) -> np.ndarray:
    """Return (n, count) indices of the nearest positions to each position, itself first."""
    positions = np.stack([xcoords, ycoords], axis=1)
    neighbours = np.empty((positions.shape[0], count), dtype=np.int64)
    # Rows of the distance matrix are computed in blocks so that memory stays O(block * n).
    block = 1024
    for start in range(0, positions.shape[0], block):
        stop = min(start + block, positions.shape[0])
        distance2 = np.sum((positions[start:stop, None, :] - positions[None, :, :]) ** 2, axis=-1)
        distance2[np.arange(stop - start), np.arange(start, stop)] = -1.0
        neighbours[start:stop] = np.argsort(distance2, axis=1, kind="stable")[:, :count]
    return neighbours


class DiffractionDataset(Dataset):
    """The groups of one dataset: (C, N, N) diffraction, the C scan positions and the group index.

    Items keep the stored dtypes; the collate function does the casts.

    Raises:
        ShapeMismatchError: ``diffraction`` is (n, C, N, N) with C other than gridsize^2.
    """

    def __init__(self, arrays: dict[str, np.ndarray], gridsize: int = 1) -> None:
        from reference_impl.model import ShapeMismatchError

        diffraction = arrays["diffraction"]
        if diffraction.ndim == 4:
            channels = diffraction.shape[1]
            if channels != 1:
                raise ShapeMismatchError(
                    f"diffraction has shape {diffraction.shape}: {channels} channels per pattern, "
                    f"but the loader groups single patterns for gridsize={gridsize} "
                    f"({gridsize * gridsize} channels); store diffraction as (n, N, N)"
                )
            diffraction = diffraction[:, 0]
        if diffraction.ndim != 3:
            raise ValueError(
                f"diffraction has shape {arrays['diffraction'].shape}, expected (n, N, N) "
                f"or (n, 1, N, N)"
            )
        self.diffraction = diffraction
        self.xcoords = np.asarray(arrays["xcoords"]).reshape(-1)
        self.ycoords = np.asarray(arrays["ycoords"]).reshape(-1)
        if not (len(self.xcoords) == len(self.ycoords) == len(diffraction)):
            raise ValueError(
                f"{len(diffraction)} patterns but {len(self.xcoords)} xcoords and "
                f"{len(self.ycoords)} ycoords; every pattern needs one scan position"
            )
        self.groups = group_scan(self.xcoords, self.ycoords, gridsize)

    @property
    def gridsize(self) -> int:
        return self.groups.gridsize

    def __len__(self) -> int:
        return self.groups.n_groups

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        members = self.groups.nn_indices[index]
        return self.diffraction[members], self.xcoords[members], self.ycoords[members], index


class GroupCollator:
    """Stack dataset items into an ``InferenceBatch`` and guard the grouped arrays.

    Diffraction (any real dtype, byte order or memory layout) becomes a contiguous
    (B, C, N, N) float32 tensor. Coordinates keep their dtype in native byte order, shaped
    (B,) for gridsize 1 and (B, C) otherwise. ``indices`` are the (B,) group indices, which
    equal the pattern indices for gridsize 1.
    """

    def __init__(self, dataset: DiffractionDataset, guard_mode: str = "raise") -> None:
        self.groups = dataset.groups
        self.xcoords = dataset.xcoords
        self.ycoords = dataset.ycoords
        self.guard_mode = guard_mode

    def __call__(self, samples: list[tuple[np.ndarray, np.ndarray, np.ndarray, int]]) -> InferenceBatch:
        diffraction = np.stack([sample[0] for sample in samples]).astype(np.float32, copy=False)
        xcoords = _native(np.stack([sample[1] for sample in samples]))
        ycoords = _native(np.stack([sample[2] for sample in samples]))
        indices = np.array([sample[3] for sample in samples], dtype=np.int64)
        self._guard(diffraction, indices)
        if self.groups.gridsize == 1:
            xcoords, ycoords = xcoords[:, 0], ycoords[:, 0]
        return InferenceBatch(
            diffraction=torch.from_numpy(diffraction),
            xcoords=torch.from_numpy(xcoords),
            ycoords=torch.from_numpy(ycoords),
            indices=torch.from_numpy(indices),
        )

    def _guard(self, diffraction: np.ndarray, indices: np.ndarray) -> None:
        if self.guard_mode == "off":
            return
        try:
            from contracts.guards import guard_grouped
        except ImportError:
            return
        guard_grouped(
            {
                "diffraction": diffraction.transpose(0, 2, 3, 1),  # (B, N, N, C), a view
                "coords_offsets": self.groups.coords_offsets[indices],
                "coords_relative": self.groups.coords_relative[indices],
                "nn_indices": self.groups.nn_indices[indices],
                "xcoords": self.xcoords,
                "ycoords": self.ycoords,
            },
            stage=GROUPED_GUARD_STAGE,
            gridsize=self.groups.gridsize,
            mode=self.guard_mode,
        )


def collate_inference_batch(samples: list[tuple[np.ndarray, np.ndarray, np.ndarray, int]]) -> InferenceBatch:
    """Stack gridsize-1 samples into an ``InferenceBatch`` without a guard, casting diffraction to float32."""
    diffraction = np.stack([sample[0] for sample in samples]).astype(np.float32, copy=False)
    if diffraction.ndim == 3:
        diffraction = diffraction[:, None]
    xcoords = _native(np.stack([np.reshape(sample[1], -1)[0] for sample in samples]))
    ycoords = _native(np.stack([np.reshape(sample[2], -1)[0] for sample in samples]))
    indices = torch.tensor([sample[3] for sample in samples], dtype=torch.int64)
    return InferenceBatch(
        diffraction=torch.from_numpy(diffraction),
        xcoords=torch.from_numpy(xcoords),
        ycoords=torch.from_numpy(ycoords),
        indices=indices,
    )


def _native(values: np.ndarray) -> np.ndarray:
    """Return a C-contiguous copy in native byte order when ``values`` is not one already."""
    return np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("="))


def make_inference_loader(
    arrays: dict[str, np.ndarray], batch_size: int, *, gridsize: int = 1, guard_mode: str = "raise"
) -> DataLoader:
    """Build a DataLoader that yields every group once, in file order, as ``InferenceBatch``."""
    _check_batch_size(batch_size)
    dataset = DiffractionDataset(arrays, gridsize)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=0,
        collate_fn=GroupCollator(dataset, guard_mode),
    )


def make_training_loader(
    arrays: dict[str, np.ndarray], batch_size: int, seed: int, *, gridsize: int = 1
) -> DataLoader:
    """Build a DataLoader that shuffles with its own seeded generator, for training (no guard)."""
    _check_batch_size(batch_size)
    generator = torch.Generator()
    generator.manual_seed(seed)
    dataset = DiffractionDataset(arrays, gridsize)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        generator=generator,
        num_workers=0,
        collate_fn=GroupCollator(dataset, "off"),
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
