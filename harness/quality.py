"""Reconstruction quality: a stitched object against the true object, and against a trivial guess.

Pure numpy, so that checking outputs never imports torch. Errors are computed on the
well-covered pixels only: those whose overlap count exceeds ``min_count_fraction`` of the
maximum count and that lie inside the true object.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from harness.adapter import StitchedObject

logger = logging.getLogger(__name__)

DEFAULT_MIN_COUNT_FRACTION = 0.5


class QualityInputError(ValueError):
    """The stitched object and the true object cannot be compared."""


@dataclass(frozen=True)
class QualityReport:
    """Errors of a reconstruction and of the trivial guess on the same pixels.

    ``amplitude_error`` is the relative RMS error of the amplitude; ``phase_error_rad`` is
    the RMS of the wrapped phase difference after removing the global phase offset. The
    trivial guess has constant amplitude (the mean true amplitude) and flat phase.
    """

    amplitude_error: float
    phase_error_rad: float
    trivial_amplitude_error: float
    trivial_phase_error_rad: float
    n_pixels: int
    min_count_fraction: float

    @property
    def beats_trivial(self) -> bool:
        """Whether both errors are below those of the trivial guess."""
        return (
            self.amplitude_error < self.trivial_amplitude_error
            and self.phase_error_rad < self.trivial_phase_error_rad
        )


def compare_with_truth(
    stitched: StitchedObject,
    true_object: np.ndarray,
    *,
    min_count_fraction: float = DEFAULT_MIN_COUNT_FRACTION,
) -> QualityReport:
    """Compute the amplitude and phase errors of ``stitched`` and of the trivial guess.

    Args:
        stitched: the reconstruction; canvas pixel (r, c) is object pixel
            (origin_y_px + r, origin_x_px + c). Origins are rounded to whole pixels.
        true_object: (rows, cols) complex true object.
        min_count_fraction: pixels count as well covered above this fraction of the max count.

    Raises:
        QualityInputError: the fraction is outside (0, 1) or no pixel is well covered.
    """
    if not 0 < min_count_fraction < 1:
        raise QualityInputError(
            f"min_count_fraction={min_count_fraction} is invalid; expected a value in (0, 1)"
        )
    reconstruction, truth = _overlapping_region(stitched, np.asarray(true_object))
    count = reconstruction[1]
    mask = count > min_count_fraction * float(np.max(stitched.overlap_count))
    n_pixels = int(mask.sum())
    if n_pixels == 0:
        raise QualityInputError(
            "no stitched pixel is both well covered and inside the true object; check that "
            "the scan coordinates and the true object use the same pixel frame"
        )
    rec = reconstruction[0][mask].astype(np.complex128)
    true = truth[mask].astype(np.complex128)
    guess = np.full_like(true, np.mean(np.abs(true)))

    report = QualityReport(
        amplitude_error=_amplitude_error(rec, true),
        phase_error_rad=_phase_error(rec, true),
        trivial_amplitude_error=_amplitude_error(guess, true),
        trivial_phase_error_rad=_phase_error(guess, true),
        n_pixels=n_pixels,
        min_count_fraction=min_count_fraction,
    )
    logger.info("quality on %d well-covered pixels: %s", n_pixels, report)
    return report


def _overlapping_region(
    stitched: StitchedObject, true_object: np.ndarray
) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """Crop the canvas and the true object to the object pixels both contain."""
    if true_object.ndim != 2:
        raise QualityInputError(f"true object has shape {true_object.shape}, expected (rows, cols)")
    origin_row = int(round(stitched.origin_y_px))
    origin_col = int(round(stitched.origin_x_px))
    canvas_rows, canvas_cols = stitched.obj.shape
    rows, cols = true_object.shape
    row_start, row_stop = max(origin_row, 0), min(origin_row + canvas_rows, rows)
    col_start, col_stop = max(origin_col, 0), min(origin_col + canvas_cols, cols)
    if row_start >= row_stop or col_start >= col_stop:
        raise QualityInputError(
            f"the stitched canvas (origin row {origin_row}, col {origin_col}, "
            f"{canvas_rows}x{canvas_cols}) does not overlap the {rows}x{cols} true object"
        )
    canvas_rows_slice = slice(row_start - origin_row, row_stop - origin_row)
    canvas_cols_slice = slice(col_start - origin_col, col_stop - origin_col)
    obj = stitched.obj[canvas_rows_slice, canvas_cols_slice]
    count = stitched.overlap_count[canvas_rows_slice, canvas_cols_slice]
    return (obj, count), true_object[row_start:row_stop, col_start:col_stop]


def _amplitude_error(rec: np.ndarray, true: np.ndarray) -> float:
    difference = np.abs(rec) - np.abs(true)
    return float(np.sqrt(np.sum(difference**2) / np.sum(np.abs(true) ** 2)))


def _phase_error(rec: np.ndarray, true: np.ndarray) -> float:
    offset = np.angle(np.sum(np.conj(true) * rec))
    difference = np.angle(rec * np.conj(true) * np.exp(-1j * offset))
    return float(np.sqrt(np.mean(difference**2)))
