"""Fixtures for the contracts tests."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pytest
from contract_files import save_npz


@pytest.fixture
def npz_writer(tmp_path: Path) -> Callable[..., Path]:
    counter = iter(range(10**6))

    def write(arrays: Mapping[str, np.ndarray], compressed: bool = False) -> Path:
        return save_npz(tmp_path / f"dataset_{next(counter)}.npz", arrays, compressed)

    return write


REPO_ROOT = Path(__file__).resolve().parents[2]
REAL_RECONSTRUCTION_CANDIDATES = (
    REPO_ROOT / "tests" / "data" / "Run1084_recon3_postPC.npz",
    REPO_ROOT.parent / "shared" / "data" / "real" / "ptychopinn" / "Run1084_recon3_postPC.npz",
)


@pytest.fixture
def real_reconstruction() -> Path:
    """A real PtychoPINN reconstruction NPZ (probe, object and positions, no diffraction)."""
    for candidate in REAL_RECONSTRUCTION_CANDIDATES:
        if candidate.is_file():
            return candidate
    searched = ", ".join(str(path) for path in REAL_RECONSTRUCTION_CANDIDATES)
    pytest.skip(f"real reconstruction Run1084_recon3_postPC.npz not found (searched {searched})")
