"""Patch geometry: bilinear extraction of object patches and its adjoint, shift-and-sum stitching.

Patch pixel (row i, col j) of the patch centred at (y, x) samples the object at the
continuous object-pixel position (y - N/2 + i, x - N/2 + j), for both extraction and
stitching. At integer centres extraction is plain slicing.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch

from harness.adapter import StitchedObject

logger = logging.getLogger(__name__)

# Canvas pixels whose overlap count is below this fraction of the maximum count are left 0.
MIN_RELATIVE_COUNT = 1e-6


def extract_patches(
    obj: np.ndarray, xcoords: np.ndarray, ycoords: np.ndarray, patch_size: int
) -> np.ndarray:
    """Cut (n, N, N) patches out of an object at sub-pixel centres by bilinear interpolation.

    The real and imaginary parts are interpolated linearly between the four neighbouring
    object pixels.

    Args:
        obj: (rows, cols) complex object.
        xcoords, ycoords: (n,) patch centres in object pixels (column and row).
        patch_size: N, the patch height and width in pixels.

    Returns:
        (n, N, N) patches in the dtype of ``obj``.

    Raises:
        ValueError: a patch would reach outside the object.
    """
    xcoords = np.asarray(xcoords, dtype=np.float64)
    ycoords = np.asarray(ycoords, dtype=np.float64)
    rows, cols = obj.shape
    top = ycoords - patch_size / 2
    left = xcoords - patch_size / 2
    _check_inside("ycoords", top, rows, patch_size)
    _check_inside("xcoords", left, cols, patch_size)

    offsets = np.arange(patch_size, dtype=np.float64)
    row_pos = top[:, None] + offsets[None, :]  # (n, N)
    col_pos = left[:, None] + offsets[None, :]  # (n, N)
    row0 = np.floor(row_pos).astype(np.int64)
    col0 = np.floor(col_pos).astype(np.int64)
    row_frac = (row_pos - row0)[:, :, None]
    col_frac = (col_pos - col0)[:, None, :]
    # At an exact right/bottom edge the +1 neighbour has weight 0, so clipping it is harmless.
    row1 = np.minimum(row0 + 1, rows - 1)
    col1 = np.minimum(col0 + 1, cols - 1)

    def gather(r: np.ndarray, c: np.ndarray) -> np.ndarray:
        return obj[r[:, :, None], c[:, None, :]]

    patches = (
        gather(row0, col0) * ((1 - row_frac) * (1 - col_frac))
        + gather(row0, col1) * ((1 - row_frac) * col_frac)
        + gather(row1, col0) * (row_frac * (1 - col_frac))
        + gather(row1, col1) * (row_frac * col_frac)
    )
    return patches.astype(obj.dtype, copy=False)


def stitch_patches(
    patches: np.ndarray | torch.Tensor,
    xcoords: np.ndarray,
    ycoords: np.ndarray,
    weight: np.ndarray | None = None,
) -> StitchedObject:
    """Place (n, N, N) complex patches at sub-pixel centres and normalize by the overlap count.

    Each patch pixel is splatted onto its four neighbouring canvas pixels with bilinear
    weights (the adjoint of ``extract_patches``), multiplied by ``weight`` when given. The
    sums are divided by the summed weights (the overlap count) pixel by pixel, so the
    result is a weighted mean of the patches covering a pixel. The canvas is square, side
    M = N + 2 * (ceil(max |offset|) + 1), around the centre of the scan.

    Args:
        patches: (n, N, N) complex patches.
        xcoords, ycoords: (n,) patch centres in object pixels.
        weight: optional (N, N) non-negative per-pixel weight, for example the probe intensity.

    Returns:
        The stitched complex64 object with its float32 overlap count and origin.
    """
    values = torch.as_tensor(patches).to(torch.complex64)
    if values.ndim != 3 or values.shape[1] != values.shape[2]:
        raise ValueError(
            f"patches have shape {tuple(values.shape)}, expected (n, N, N); "
            f"squeeze the channel axis of (n, 1, N, N) patches first"
        )
    n_patches, patch_size, _ = values.shape
    xcoords = np.asarray(xcoords, dtype=np.float64).reshape(-1)
    ycoords = np.asarray(ycoords, dtype=np.float64).reshape(-1)
    if xcoords.shape[0] != n_patches or ycoords.shape[0] != n_patches:
        raise ValueError(
            f"{n_patches} patches but {xcoords.shape[0]} xcoords and {ycoords.shape[0]} "
            f"ycoords; pass one centre per patch"
        )
    if n_patches == 0:
        raise ValueError("no patches to stitch; pass at least one patch")

    pixel_weight = _pixel_weight(weight, patch_size)
    canvas_size, origin_x_px, origin_y_px = _canvas_geometry(xcoords, ycoords, patch_size)
    offsets = torch.arange(patch_size, dtype=torch.float64)
    top = torch.as_tensor(ycoords - patch_size / 2 - origin_y_px)
    left = torch.as_tensor(xcoords - patch_size / 2 - origin_x_px)
    row_pos = (top[:, None] + offsets[None, :])[:, :, None].expand(-1, -1, patch_size)
    col_pos = (left[:, None] + offsets[None, :])[:, None, :].expand(-1, patch_size, -1)

    weighted = torch.view_as_real(values * pixel_weight).reshape(-1, 2)
    base_weight = pixel_weight.expand(n_patches, -1, -1).reshape(-1)
    sums = torch.zeros(canvas_size * canvas_size, 2, dtype=torch.float32)
    counts = torch.zeros(canvas_size * canvas_size, dtype=torch.float32)
    for flat_index, corner_weight in _bilinear_corners(row_pos, col_pos, canvas_size):
        sums.index_add_(0, flat_index, weighted * corner_weight[:, None])
        counts.index_add_(0, flat_index, base_weight * corner_weight)

    covered = counts > MIN_RELATIVE_COUNT * counts.max()
    sums[covered] /= counts[covered][:, None]
    sums[~covered] = 0
    obj = torch.view_as_complex(sums).reshape(canvas_size, canvas_size)
    return StitchedObject(
        obj=obj.numpy().astype(np.complex64),
        overlap_count=counts.reshape(canvas_size, canvas_size).numpy().astype(np.float32),
        origin_x_px=origin_x_px,
        origin_y_px=origin_y_px,
    )


def _check_inside(name: str, start: np.ndarray, extent: int, patch_size: int) -> None:
    bad = np.flatnonzero((start < 0) | (start > extent - patch_size) | ~np.isfinite(start))
    if bad.size:
        index = int(bad[0])
        centre = start[index] + patch_size / 2
        raise ValueError(
            f"{name}[{index}]={centre:.3f} puts a {patch_size}-pixel patch outside the object "
            f"({bad.size} positions in all); centres must lie in "
            f"[{patch_size / 2}, {extent - patch_size / 2}] for an object {extent} pixels wide"
        )


def _pixel_weight(weight: np.ndarray | None, patch_size: int) -> torch.Tensor:
    if weight is None:
        return torch.ones(patch_size, patch_size, dtype=torch.float32)
    pixel_weight = torch.as_tensor(np.asarray(weight, dtype=np.float32))
    if tuple(pixel_weight.shape) != (patch_size, patch_size):
        raise ValueError(
            f"weight has shape {tuple(pixel_weight.shape)}, expected ({patch_size}, {patch_size})"
        )
    if not torch.all(torch.isfinite(pixel_weight)) or torch.any(pixel_weight < 0):
        raise ValueError("weight must be finite and non-negative")
    return pixel_weight


def _canvas_geometry(
    xcoords: np.ndarray, ycoords: np.ndarray, patch_size: int
) -> tuple[int, float, float]:
    """Return the canvas side and the object-pixel position of canvas pixel (0, 0)."""
    centre_x = math.floor((xcoords.min() + xcoords.max()) / 2)
    centre_y = math.floor((ycoords.min() + ycoords.max()) / 2)
    max_offset = max(np.abs(xcoords - centre_x).max(), np.abs(ycoords - centre_y).max())
    # One extra pixel on each side receives the right/bottom neighbour of the bilinear splat.
    half_margin = math.ceil(max_offset) + 1
    canvas_size = patch_size + 2 * half_margin
    origin_x_px = float(centre_x - patch_size // 2 - half_margin)
    origin_y_px = float(centre_y - patch_size // 2 - half_margin)
    return canvas_size, origin_x_px, origin_y_px


def _bilinear_corners(row_pos: torch.Tensor, col_pos: torch.Tensor, canvas_size: int):
    """Yield (flat canvas index, bilinear weight) for the four neighbours of every position."""
    row0 = torch.floor(row_pos)
    col0 = torch.floor(col_pos)
    row_frac = (row_pos - row0).reshape(-1).float()
    col_frac = (col_pos - col0).reshape(-1).float()
    row0 = row0.reshape(-1).long()
    col0 = col0.reshape(-1).long()
    for d_row, row_weight in ((0, 1 - row_frac), (1, row_frac)):
        for d_col, col_weight in ((0, 1 - col_frac), (1, col_frac)):
            flat_index = (row0 + d_row) * canvas_size + (col0 + d_col)
            yield flat_index, row_weight * col_weight
