"""Records and steps shared by the importers: count normalization, downcasts, scan canvas.

An importer reads one input layout and returns an ``ImportedScan``: canonical keys, any
precision, and the list of changes it made. The pipeline then casts to canonical dtypes
with ``downcast``, which measures the precision each cast loses.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

# Patch sizes the runtime tensor contract accepts; also the CXI crop candidates.
PATCH_SIZES_PX = (64, 128, 256)
# Empty object pixels kept between the outermost patch and the canvas edge.
CANVAS_MARGIN_PX = 8
# Elements compared per slab when measuring the error of a cast.
_MEASURE_ELEMENTS = 2**20


class ConversionError(Exception):
    """The input cannot be converted: unreadable, a refused layout, or an unsafe output path.

    The message is a plain sentence for the user that names the file, what was seen
    and what to do.
    """


@dataclass(frozen=True)
class ConvertOptions:
    """Settings of one conversion; None lets the importer decide."""

    source_format: str | None = None
    pixel_size_m: float | None = None
    patch_size_px: int | None = None
    force: bool = False


@dataclass(frozen=True)
class PrecisionLoss:
    """The error one narrowing cast caused, measured against the original values.

    ``max_relative_error`` is max |x - cast(x)| / |x| over the non-zero elements.
    """

    key: str
    from_dtype: str
    to_dtype: str
    max_relative_error: float
    max_absolute_error: float

    def describe(self) -> str:
        return (
            f"{self.key}: {self.from_dtype} -> {self.to_dtype}, max relative error "
            f"{self.max_relative_error:.3g} (max absolute error {self.max_absolute_error:.3g})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "from_dtype": self.from_dtype,
            "to_dtype": self.to_dtype,
            "max_relative_error": self.max_relative_error,
            "max_absolute_error": self.max_absolute_error,
        }


@dataclass(frozen=True)
class ImportedScan:
    """Arrays an importer read, under canonical keys at any precision, with the changes and metadata.

    ``metadata`` goes into ``metadata_json`` of the output next to the change list.
    """

    arrays: dict[str, np.ndarray]
    changes: tuple[str, ...]
    metadata: dict[str, Any] = field(default_factory=dict)
    diffraction_normalization: float | None = None


def counts_to_amplitude(counts: np.ndarray, changes: list[str], key: str) -> tuple[np.ndarray, float]:
    """Turn (n, H, W) photon counts into normalized float64 amplitudes.

    Negative counts (from background subtraction) are clipped at 0. The amplitude is
    f * sqrt(counts) with f chosen so that the mean over patterns of sum(amplitude^2)
    equals H * W / 4, which is (N/2)^2 for N x N frames. Returns the amplitudes and f.

    Raises:
        ConversionError: every count is zero or negative, so no f exists.
    """
    values = counts.astype(np.float64)
    negative = int(np.count_nonzero(values < 0))
    if negative:
        values = np.clip(values, 0, None)
        changes.append(f"{key}: clipped {negative} negative counts at 0 before the square root")
    n_patterns, height, width = values.shape
    mean_energy = float(np.sum(values) / n_patterns)
    if not (mean_energy > 0 and math.isfinite(mean_energy)):
        raise ConversionError(
            f"{key}: the mean photon count per pattern is {mean_energy:g}; cannot normalize "
            "patterns without any positive count"
        )
    target = height * width / 4
    factor = math.sqrt(target / mean_energy)
    changes.append(
        f"{key}: took the square root of the counts and multiplied by f = {factor:.6g}, so that "
        f"the mean over patterns of sum(diffraction^2) is (N/2)^2 = {target:g}"
    )
    logger.info("normalized %s with f = %.6g (mean counts per pattern %.6g)", key, factor, mean_energy)
    return np.sqrt(values) * factor, factor


def looks_like_counts(values: np.ndarray) -> bool:
    """Tell whether float patterns are intensities: every finite value whole and the max above 1."""
    if values.dtype.kind in "iu":
        return True
    finite = values[np.isfinite(values)]
    if finite.size == 0 or float(finite.max()) <= 1:
        return False
    return bool(np.array_equal(finite, np.floor(finite)))


def downcast(key: str, values: np.ndarray, target: np.dtype) -> tuple[np.ndarray, PrecisionLoss | None]:
    """Cast ``values`` to ``target`` and measure the loss when the cast narrows a float type.

    Byte order is normalized to native. Widening or same-size casts return no loss.

    Raises:
        ConversionError: a finite value overflows to infinity in ``target``.
    """
    target = np.dtype(target)
    source_dtype = values.dtype
    cast = values.astype(target.newbyteorder("="))
    narrows = source_dtype.kind in "fc" and source_dtype.itemsize > target.itemsize
    if not narrows:
        return cast, None

    relative, absolute, overflow_at = _measure_cast_error(values, cast)
    if overflow_at is not None:
        position = tuple(int(i) for i in np.unravel_index(overflow_at, values.shape))
        raise ConversionError(
            f"{key}: value {values[position]!r} at index {position} overflows {target.name}; "
            f"rescale the array so that every magnitude is below {np.finfo(target).max:.3g}"
        )
    loss = PrecisionLoss(
        key=key,
        from_dtype=source_dtype.newbyteorder("=").name,
        to_dtype=target.name,
        max_relative_error=relative,
        max_absolute_error=absolute,
    )
    return cast, loss


def _measure_cast_error(values: np.ndarray, cast: np.ndarray) -> tuple[float, float, int | None]:
    """Return (max relative error, max absolute error, flat index of the first overflow or None).

    The comparison runs in slabs of ``_MEASURE_ELEMENTS`` so that its temporaries stay
    small next to the arrays themselves.
    """
    wide = np.complex128 if values.dtype.kind == "c" else np.float64
    original_flat = values.reshape(-1)
    cast_flat = cast.reshape(-1)
    relative = 0.0
    absolute = 0.0
    for start in range(0, original_flat.size, _MEASURE_ELEMENTS):
        original = original_flat[start : start + _MEASURE_ELEMENTS].astype(wide)
        widened = cast_flat[start : start + _MEASURE_ELEMENTS].astype(wide)
        overflow = np.flatnonzero(np.isfinite(original) & ~np.isfinite(widened))
        if overflow.size:
            return relative, absolute, start + int(overflow[0])
        error = np.abs(original - widened)
        magnitude = np.abs(original)
        finite = np.isfinite(error)
        if finite.any():
            absolute = max(absolute, float(np.max(error[finite])))
        nonzero = finite & (magnitude > 0)
        if nonzero.any():
            relative = max(relative, float(np.max(error[nonzero] / magnitude[nonzero])))
    return relative, absolute, None


def place_on_canvas(
    x_px: np.ndarray, y_px: np.ndarray, patch_px: int, changes: list[str], margin_px: int = CANVAS_MARGIN_PX
) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """Shift patch centres so that every N x N patch lies inside an object canvas.

    The shift is N/2 - min + margin on each axis. Returns the shifted (x, y) in object
    pixels as float64 and the (rows, cols) of the smallest canvas that covers every
    patch plus the margin.
    """
    half = patch_px / 2
    x = np.asarray(x_px, dtype=np.float64)
    y = np.asarray(y_px, dtype=np.float64)
    offset_x = half - float(np.min(x)) + margin_px
    offset_y = half - float(np.min(y)) + margin_px
    x = x + offset_x
    y = y + offset_y
    rows = int(math.ceil(float(np.max(y)) + half + margin_px))
    cols = int(math.ceil(float(np.max(x)) + half + margin_px))
    changes.append(
        f"xcoords, ycoords: shifted by (+{offset_x:.6g}, +{offset_y:.6g}) object pixels = N/2 - min + "
        f"{margin_px} px margin, so that every {patch_px}x{patch_px} patch lies inside a "
        f"{rows}x{cols} object canvas"
    )
    return x, y, (rows, cols)
