"""PHYSICS: the forward model's relations, checked against a float64 reference."""

from __future__ import annotations

import numpy as np
import pytest

from contracts import check_physics_arrays
from contracts.physics import make_valid_physics, reference_amplitude


def rule_ids(violations) -> list[str]:
    return sorted({v.rule_id for v in violations})


@pytest.mark.parametrize("patch_px", [64, 128])
def test_physics_reference_forward_model_agrees(patch_px):
    torch = pytest.importorskip("torch")
    physics = pytest.importorskip("reference_impl.physics")
    arrays = make_valid_physics(count=3, patch_px=patch_px)
    amplitude = physics.forward_amplitude(torch.from_numpy(arrays["probe"]), torch.from_numpy(arrays["object_patches"]))
    arrays["amplitude"] = amplitude.numpy()
    assert check_physics_arrays(arrays) == []


def test_physics_reference_poisson_observation_passes():
    physics = pytest.importorskip("reference_impl.physics")
    arrays = make_valid_physics(count=4, patch_px=32, nphotons=1e5)
    psi = arrays["probe"].astype(np.complex128) * arrays["object_patches"]
    scale = physics.intensity_scale(1e5, float((np.abs(psi) ** 2).sum(axis=(-2, -1)).mean()))
    arrays["intensity_scale"] = scale
    arrays["observed"] = physics.poisson_observe(arrays["amplitude"], scale, np.random.default_rng(3))
    assert check_physics_arrays(arrays) == []


def test_physics_missing_fftshift_is_zero_frequency_only():
    arrays = make_valid_physics()
    psi = arrays["probe"].astype(np.complex128) * arrays["object_patches"]
    arrays["amplitude"] = np.sqrt(np.abs(np.fft.fft2(psi)) ** 2 / psi[0].size).astype(np.float32)
    violations = check_physics_arrays(arrays)
    assert rule_ids(violations) == ["PHYSICS-003"]
    assert "zero frequency's value is (0, 0)" in violations[0].seen


def test_physics_missing_pixel_normalization_breaks_parseval():
    arrays = make_valid_physics(patch_px=16)
    arrays["amplitude"] = arrays["amplitude"] * 16
    violations = check_physics_arrays(arrays)
    assert rule_ids(violations) == ["PHYSICS-002"]
    assert "sum A^2 / sum |Psi|^2 = 256" in violations[0].seen


def test_physics_forward_tolerance_is_one_in_a_million():
    arrays = make_valid_physics(patch_px=32)
    reference = reference_amplitude(arrays["probe"], arrays["object_patches"])
    arrays["amplitude"] = reference.astype(np.float32)
    assert check_physics_arrays(arrays) == []
    arrays["amplitude"] = (reference * (1 + 2e-6)).astype(np.float32)
    violations = check_physics_arrays(arrays)
    assert rule_ids(violations) == ["PHYSICS-004"]
    assert "= 2e-06" in violations[0].seen


def test_physics_flat_phase_pattern_peaks_at_centre():
    arrays = make_valid_physics(count=1, patch_px=16)
    flat = np.abs(arrays["probe"]).astype(np.complex64)[None]
    amplitude = reference_amplitude(flat, np.ones_like(flat))
    assert np.unravel_index(int(np.argmax(amplitude[0])), (16, 16)) == (8, 8)


def test_physics_scale_applied_once_flagged():
    arrays = make_valid_physics()
    arrays["observed"] = (arrays["observed"] * arrays["intensity_scale"]).astype(np.float32)
    assert rule_ids(check_physics_arrays(arrays)) == ["PHYSICS-006"]
