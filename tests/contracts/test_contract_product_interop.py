"""Interoperability with Ptychodus itself: files it writes pass, files the harness builds load.

These tests need the optional ``ptychodus`` package (1.7 or newer, Python >= 3.11) and
skip without it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from contracts.product import PTYCHODUS, WRITTEN, check_product_file, make_valid_product, write_layout

ptychodus_io = pytest.importorskip(
    "ptychodus.api.io",
    reason="the optional ptychodus package (>= 1.7) is not installed; pip install ptychodus to run these tests",
)


def build_ptychodus_product(n_positions: int, n_epochs: int):
    from ptychodus.api.geometry import PixelGeometry
    from ptychodus.api.object import Object, ObjectCenter
    from ptychodus.api.probe import ProbeSequence
    from ptychodus.api.probe_positions import ProbePosition, ProbePositionSequence
    from ptychodus.api.product import LossValue, Product, ProductMetadata

    rng = np.random.default_rng(3)
    probe = (rng.normal(size=(2, 2, 16, 16)) + 1j * rng.normal(size=(2, 2, 16, 16))).astype(np.complex64)
    weights = rng.uniform(0.1, 1.0, (n_positions, 2))
    metadata = ProductMetadata(
        name="interop",
        comments="written by ptychodus.api.io.save_product",
        detector_distance_m=2.0,
        photon_energy_eV=10000.0,
        probe_photon_count=1e9,
        exposure_time_s=0.1,
        mass_attenuation_m2_per_kg=0.0,
        tomography_angle_deg=0.0,
    )
    positions = ProbePositionSequence(
        [ProbePosition(i, float(x), float(y)) for i, (x, y) in enumerate(rng.uniform(-1e-7, 1e-7, (n_positions, 2)))]
    )
    return Product(
        metadata=metadata,
        probe_positions=positions,
        probes=ProbeSequence(probe, weights, PixelGeometry(width_m=8e-9, height_m=8e-9)),
        object_=Object(
            np.ones((1, 48, 48), np.complex64),
            PixelGeometry(width_m=8e-9, height_m=8e-9),
            ObjectCenter(x_m=0.0, y_m=0.0),
            [],
        ),
        losses=[LossValue(epoch, 1.0 / (epoch + 1)) for epoch in range(n_epochs)],
    )


@pytest.mark.parametrize("n_epochs", [0, 4], ids=["no-losses", "losses"])
def test_product_interop_ptychodus_file_passes(tmp_path: Path, n_epochs: int):
    path = tmp_path / "ptychodus.h5"
    ptychodus_io.save_product(path, build_ptychodus_product(n_positions=9, n_epochs=n_epochs))
    result = check_product_file(path)
    assert result.profile == PTYCHODUS
    assert [v.message() for v in result.violations if v.is_error] == []


@pytest.mark.parametrize("profile", [WRITTEN, PTYCHODUS])
def test_product_interop_valid_layout_loads(tmp_path: Path, profile: str):
    path = tmp_path / f"{profile}.h5"
    write_layout(make_valid_product(profile, n_positions=7, probe_ndim=4, n_opr=1), path)
    product = ptychodus_io.load_product(path)
    assert len(product.probe_positions) == 7
    assert product.metadata.photon_energy_eV == 10000.0
