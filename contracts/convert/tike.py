"""Import the tike NPZ layout: ``data`` counts, ``probe`` and ``scan`` with length-1 leading axes.

The layout is the one of tike's test data. ``data`` (1, n, N, N) float32 contains photon
counts with the zero frequency in the corner (FFT order). ``probe`` is (1, 1, 1, 1, N, N)
complex64. ``scan`` (1, n, 2) float32 contains positions in object pixels, centred on 0,
with the row (y) in column 0 and the column (x) in column 1. No object is stored.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from contracts.convert.common import ConversionError, ConvertOptions, ImportedScan, counts_to_amplitude, place_on_canvas
from contracts.convert.legacy import read_npz_arrays
from contracts.dataset import DIFFRACTION, PROBE, SCAN_INDEX, XCOORDS, YCOORDS

logger = logging.getLogger(__name__)

TIKE_KEYS = ("data", "probe", "scan")


def is_tike_layout(keys: set[str]) -> bool:
    return set(TIKE_KEYS) <= keys


def import_tike(path: Path, options: ConvertOptions) -> ImportedScan:
    """Read a tike NPZ and return canonical arrays: centred amplitudes, one probe, canvas positions.

    Raises:
        ConversionError: a key is missing, an array has extra non-unit axes (several
            scans or probe modes), lengths disagree, or an option does not apply.
    """
    if options.pixel_size_m is not None or options.patch_size_px is not None:
        raise ConversionError(
            f"{path}: --pixel-size-m and --patch-size apply to CXI input only; tike positions are "
            "already in object pixels and the patterns keep their size"
        )
    arrays = read_npz_arrays(path)
    missing = [key for key in TIKE_KEYS if key not in arrays]
    if missing:
        raise ConversionError(f"{path}: not the tike layout; missing {missing}, expected keys {list(TIKE_KEYS)}")
    changes: list[str] = []

    counts = _drop_unit_axes("data", arrays["data"], 3, changes)
    n_patterns, height, width = counts.shape
    counts = np.fft.fftshift(counts, axes=(-2, -1))
    changes.append(
        f"data: moved the zero frequency from the corner (0, 0) to the centre "
        f"({height // 2}, {width // 2}) with np.fft.fftshift over the last two axes"
    )
    changes.append("data: renamed to diffraction")
    diffraction, normalization = counts_to_amplitude(counts, changes, "data")

    probe = _drop_unit_axes("probe", arrays["probe"], 2, changes)
    changes.append("probe: renamed to probeGuess, values unchanged")
    scan = _drop_unit_axes("scan", arrays["scan"], 2, changes)
    if scan.shape != (n_patterns, 2):
        raise ConversionError(
            f"{path}: scan has shape {scan.shape} after dropping length-1 axes; expected ({n_patterns}, 2), "
            "one (y, x) pair per pattern"
        )
    changes.append("scan: column 1 became xcoords and column 0 ycoords, as float64 object pixels")
    xcoords, ycoords, canvas = place_on_canvas(scan[:, 1], scan[:, 0], width, changes)
    changes.append(f"scan_index: added as 0..{n_patterns - 1} in storage order")
    changes.append("objectGuess: none in the input, so none is written")

    canonical = {
        DIFFRACTION: diffraction,
        PROBE: probe,
        XCOORDS: xcoords,
        YCOORDS: ycoords,
        SCAN_INDEX: np.arange(n_patterns, dtype=np.int64),
    }
    metadata = {"object_canvas_px": list(canvas), "positions_unit": "object pixels"}
    return ImportedScan(
        arrays=canonical, changes=tuple(changes), metadata=metadata, diffraction_normalization=normalization
    )


def _drop_unit_axes(key: str, values: np.ndarray, ndim: int, changes: list[str]) -> np.ndarray:
    """Reshape to the last ``ndim`` axes when every axis before them has length 1."""
    if values.ndim < ndim:
        raise ConversionError(f"{key}: shape {values.shape}; expected at least {ndim} axes")
    leading = values.shape[: values.ndim - ndim]
    if any(n != 1 for n in leading):
        raise ConversionError(
            f"{key}: shape {values.shape} has leading axes {leading}, more than one scan or probe mode; "
            "the canonical dataset holds one scan and one probe, so export one of them first"
        )
    if not leading:
        return values
    squeezed = values.reshape(values.shape[values.ndim - ndim :])
    changes.append(f"{key}: dropped length-1 axes, {values.shape} -> {squeezed.shape}")
    return squeezed
