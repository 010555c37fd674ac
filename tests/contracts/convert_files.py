"""Builders of small input files for the conversion tests: legacy NPZ, tike NPZ and CXI."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from contracts.convert.cxi import PLANCK_J_S, SPEED_OF_LIGHT_M_S
from contracts.dataset import make_valid_dataset

ENERGY_J = 8000 * 1.602176634e-19
WAVELENGTH_M = PLANCK_J_S * SPEED_OF_LIGHT_M_S / ENERGY_J
DISTANCE_M = 2.0
DETECTOR_PIXEL_M = 75e-6
# Far-field window lambda * z / p of the CXI files below, about 4.1 um.
WINDOW_M = WAVELENGTH_M * DISTANCE_M / DETECTOR_PIXEL_M


def legacy_arrays(n_positions: int = 6, patch_px: int = 8, seed: int = 0) -> dict[str, np.ndarray]:
    """A legacy dataset with every raw trait: diff3d uint16 (H, W, n), complex128, 4-D Y, no scan_index."""
    arrays = make_valid_dataset(n_positions, patch_px, seed, with_scan_index=False)
    counts = np.rint(np.square(arrays.pop("diffraction").astype(np.float64)) * 500).astype(np.uint16)
    rng = np.random.default_rng(seed)
    phase = rng.uniform(-np.pi, np.pi, arrays["probeGuess"].shape)
    arrays["diff3d"] = np.ascontiguousarray(np.transpose(counts, (1, 2, 0)))
    arrays["probeGuess"] = arrays["probeGuess"].astype(np.complex128) * np.exp(1j * phase)
    arrays["objectGuess"] = arrays["objectGuess"].astype(np.complex128) * rng.uniform(0.9, 1.1, arrays["objectGuess"].shape)
    arrays["Y"] = arrays["Y"].astype(np.complex128)[..., None]
    return arrays


def tike_arrays(n_positions: int = 9, patch_px: int = 16, seed: int = 0) -> dict[str, np.ndarray]:
    """A tike-layout scan: corner-DC float32 counts (1, n, N, N), probe (1, 1, 1, 1, N, N), scan (1, n, 2)."""
    rng = np.random.default_rng(seed)
    axis = np.arange(patch_px) - patch_px // 2
    envelope = np.exp(-(axis[:, None] ** 2 + axis[None, :] ** 2) / (2 * (patch_px / 6) ** 2))
    centred = rng.poisson(200 * envelope, (n_positions, patch_px, patch_px)).astype(np.float32)
    corner = np.fft.ifftshift(centred, axes=(-2, -1))
    probe = np.exp(-(axis[:, None] ** 2 + axis[None, :] ** 2) / 20.0).astype(np.complex64)
    scan = rng.uniform(-20, 20, (n_positions, 2)).astype(np.float32)
    return {"data": corner[None], "probe": probe[None, None, None, None], "scan": scan[None]}


def write_cxi(
    path: Path,
    *,
    n_side: int = 4,
    step_m: float = 0.05 * WINDOW_M,
    detector_px: int = 72,
    seed: int = 0,
    attributes: dict[str, str] | None = None,
) -> Path:
    """Write a CXI file with an n_side x n_side grid scan and Gaussian far-field patterns.

    Translations are (x, y, 0) in metres, not centred; ``attributes`` go on ``entry_1``.
    """
    import h5py

    rng = np.random.default_rng(seed)
    axis = np.arange(detector_px) - detector_px // 2
    envelope = np.exp(-(axis[:, None] ** 2 + axis[None, :] ** 2) / (2 * 8.0**2))
    n_positions = n_side * n_side
    patterns = rng.poisson(1000 * envelope, (n_positions, detector_px, detector_px)).astype(np.int32)
    grid_y, grid_x = np.meshgrid(np.arange(n_side), np.arange(n_side), indexing="ij")
    translation = np.zeros((n_positions, 3))
    translation[:, 0] = 1e-5 + grid_x.ravel() * step_m
    translation[:, 1] = -2e-5 + grid_y.ravel() * step_m
    with h5py.File(path, "w") as handle:
        entry = handle.create_group("entry_1")
        for key, value in (attributes or {}).items():
            entry.attrs[key] = value
        detector = handle.create_group("entry_1/instrument_1/detector_1")
        detector["data"] = patterns
        detector["distance"] = np.float32(DISTANCE_M)
        detector["x_pixel_size"] = np.float32(DETECTOR_PIXEL_M)
        detector["y_pixel_size"] = np.float32(DETECTOR_PIXEL_M)
        handle["entry_1/instrument_1/source_1/energy"] = np.float32(ENERGY_J)
        handle["entry_1/sample_1/geometry_1/translation"] = translation.astype(np.float32)
        handle["entry_1/data_1/data"] = h5py.SoftLink("/entry_1/instrument_1/detector_1/data")
    return path
