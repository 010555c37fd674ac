"""Forward model, Poisson observation and likelihood."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from reference_impl import physics

finite_floats = st.floats(-10, 10, allow_nan=False, allow_infinity=False, width=32)
sizes = st.sampled_from([4, 8, 16])


@st.composite
def complex_fields(draw: st.DrawFn) -> torch.Tensor:
    size = draw(sizes)
    real = draw(arrays(np.float32, (size, size), elements=finite_floats))
    imag = draw(arrays(np.float32, (size, size), elements=finite_floats))
    return torch.from_numpy(real + 1j * imag).to(torch.complex64)


@given(psi=complex_fields())
def test_forward_conserves_energy_parseval(psi: torch.Tensor) -> None:
    amplitude = physics.diffraction_amplitude(psi)
    energy_in = float(torch.sum(psi.abs().square(), dtype=torch.float64))
    energy_out = float(torch.sum(amplitude.square(), dtype=torch.float64))
    assert energy_out == pytest.approx(energy_in, rel=1e-4, abs=1e-3)


@given(size=sizes, value=st.complex_numbers(min_magnitude=0.1, max_magnitude=10, allow_nan=False, allow_infinity=False))
def test_forward_zero_frequency_centred(size: int, value: complex) -> None:
    psi = torch.full((size, size), value, dtype=torch.complex64)
    amplitude = physics.diffraction_amplitude(psi)
    peak = np.unravel_index(int(torch.argmax(amplitude)), amplitude.shape)
    assert peak == (size // 2, size // 2)
    assert float(amplitude.sum() - amplitude[size // 2, size // 2]) == pytest.approx(0, abs=1e-3 * abs(value))


def test_forward_output_float32() -> None:
    psi = torch.ones(8, 8, dtype=torch.complex64)
    assert physics.diffraction_amplitude(psi).dtype == torch.float32


def test_forward_rejects_complex128() -> None:
    with pytest.raises(TypeError, match="expected torch.complex64"):
        physics.diffraction_amplitude(torch.ones(8, 8, dtype=torch.complex128))


def test_exit_wave_rejects_probe_shape() -> None:
    with pytest.raises(ValueError, match="does not match the patch shape"):
        physics.exit_wave(torch.ones(8, 8, dtype=torch.complex64), torch.ones(2, 4, 4, dtype=torch.complex64))


def test_forward_matches_numpy_reference() -> None:
    rng = np.random.default_rng(3)
    psi = (rng.normal(size=(2, 16, 16)) + 1j * rng.normal(size=(2, 16, 16))).astype(np.complex64)
    expected = np.sqrt(np.fft.fftshift(np.abs(np.fft.fft2(psi.astype(np.complex128))) ** 2 / 256, axes=(-2, -1)))
    amplitude = physics.diffraction_amplitude(torch.from_numpy(psi)).numpy()
    np.testing.assert_allclose(amplitude, expected, rtol=1e-5, atol=1e-6)


def test_intensity_scale_rejects_nonpositive() -> None:
    with pytest.raises(ValueError, match="nphotons=0"):
        physics.intensity_scale(0, 1.0)


def test_poisson_observe_seeded_reproducible() -> None:
    amplitude = np.linspace(0, 2, 64, dtype=np.float32).reshape(8, 8)
    first = physics.poisson_observe(amplitude, 30.0, np.random.default_rng(7))
    second = physics.poisson_observe(amplitude, 30.0, np.random.default_rng(7))
    assert first.dtype == np.float32
    np.testing.assert_array_equal(first, second)


def test_poisson_observe_mean_matches_rate() -> None:
    amplitude = np.full((200, 8, 8), 0.5, dtype=np.float32)
    observed = physics.poisson_observe(amplitude, 20.0, np.random.default_rng(1))
    photons = (observed * 20.0) ** 2
    assert float(photons.mean()) == pytest.approx(100.0, rel=0.02)


def test_poisson_nll_minimum_at_observation() -> None:
    observed = torch.full((4, 4), 0.7)
    at_truth = physics.poisson_nll(observed.clone(), observed, 10.0)
    for factor in (0.8, 1.25):
        assert physics.poisson_nll(observed * factor, observed, 10.0) > at_truth
