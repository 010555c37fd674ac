"""Tiny synthetic datasets for the reference implementation's tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reference_impl.npz_io import write_npz
from reference_impl.simulate import simulate_dataset

TINY_PATCH = 16


def write_tiny_source(path: Path, *, n_positions: int = 24, seed: int = 5) -> Path:
    """Write a probe/object/scan NPZ in float64/complex128, as raw sources often are."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:TINY_PATCH, 0:TINY_PATCH] - TINY_PATCH / 2
    probe = np.exp(-(x**2 + y**2) / (2 * 3.0**2)) * np.exp(1j * 0.05 * (x**2 + y**2))
    rows, cols = np.mgrid[0:40, 0:40]
    obj = (1.0 + 0.2 * np.sin(cols / 4.0)) * np.exp(1j * 0.6 * np.cos(rows / 5.0))
    xcoords = rng.uniform(12, 28, size=n_positions)
    ycoords = rng.uniform(12, 28, size=n_positions)
    return write_npz(
        path,
        {
            "probeGuess": probe.astype(np.complex128),
            "objectGuess": obj.astype(np.complex128),
            "xcoords": xcoords,
            "ycoords": ycoords,
        },
    )


@pytest.fixture
def tiny_source(tmp_path: Path) -> Path:
    return write_tiny_source(tmp_path / "source.npz")


@pytest.fixture
def tiny_dataset(tmp_path: Path, tiny_source: Path) -> Path:
    return simulate_dataset(tiny_source, tmp_path / "tiny.npz", nphotons=1e6, seed=3).path


@pytest.fixture
def tiny_arrays_float64(tiny_dataset: Path) -> dict[str, np.ndarray]:
    """The tiny dataset with diffraction stored as float64 instead of float32."""
    with np.load(tiny_dataset, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    arrays["diffraction"] = arrays["diffraction"].astype(np.float64)
    return arrays
