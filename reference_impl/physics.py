"""The far-field ptychography forward model, the Poisson observation and its likelihood.

Conventions: the exit wave of one scan position is Psi = P * O_patch; the diffraction
amplitude is A = sqrt(fftshift(|FFT2 Psi|^2 / N^2)) with N^2 the number of pixels of the
patch, so sum(A^2) == sum(|Psi|^2) (Parseval) and the zero frequency sits at pixel
(N // 2, N // 2). The intensity scale s = sqrt(nphotons / E[sum |Psi|^2]) turns amplitudes
into photon-count units: a pattern of amplitude A carries (s A)^2 expected photons per pixel.
The FFT path runs in complex64 and float32 only.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

logger = logging.getLogger(__name__)

# Added to the Poisson rate before its logarithm so that dark pixels (rate 0) stay finite.
POISSON_LOG_EPS = 1e-6


def exit_wave(probe: torch.Tensor, object_patches: torch.Tensor) -> torch.Tensor:
    """Multiply object patches by the probe.

    Args:
        probe: (height, width) complex64.
        object_patches: (..., height, width) complex64.

    Returns:
        (..., height, width) complex64 exit waves Psi = P * O.
    """
    _check_complex64("probe", probe)
    _check_complex64("object_patches", object_patches)
    if tuple(probe.shape) != tuple(object_patches.shape[-2:]):
        raise ValueError(
            f"probe shape {tuple(probe.shape)} does not match the patch shape "
            f"{tuple(object_patches.shape[-2:])}; use a probe of the patch size"
        )
    return probe * object_patches


def diffraction_amplitude(psi: torch.Tensor) -> torch.Tensor:
    """Compute the far-field amplitude A = sqrt(fftshift(|FFT2 psi|^2 / N^2)).

    Args:
        psi: (..., height, width) complex64 exit waves.

    Returns:
        (..., height, width) float32 amplitudes, zero frequency at (height // 2, width // 2).
    """
    _check_complex64("psi", psi)
    n_pixels = psi.shape[-2] * psi.shape[-1]
    spectrum = torch.fft.fft2(psi)
    intensity = (spectrum.real.square() + spectrum.imag.square()) / n_pixels
    return torch.sqrt(torch.fft.fftshift(intensity, dim=(-2, -1)))


def forward_amplitude(probe: torch.Tensor, object_patches: torch.Tensor) -> torch.Tensor:
    """Apply the whole forward model: object patches to diffraction amplitudes (float32).

    Autocast is disabled inside, so the FFT path stays complex64 under any mixed-precision
    setting of the caller.
    """
    with full_precision(object_patches):
        return diffraction_amplitude(exit_wave(probe, object_patches))


def complex_patch(amplitude: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
    """Build complex64 patches A exp(i phi) from amplitude and phase of any floating dtype.

    Both are cast to float32 first, with autocast disabled, because a network run under
    mixed precision returns bfloat16 or float16, for which ``torch.polar`` is not defined.
    """
    with full_precision(amplitude):
        return torch.polar(amplitude.to(torch.float32), phase.to(torch.float32))


def full_precision(tensor: torch.Tensor) -> torch.autocast:
    """Return a context that disables autocast on the device of ``tensor``."""
    return torch.autocast(device_type=tensor.device.type, enabled=False)


def intensity_scale(nphotons: float, mean_exit_wave_energy: float) -> float:
    """Return s = sqrt(nphotons / E[sum |Psi|^2]), the photon units per unit amplitude.

    Raises:
        ValueError: either argument is not a positive finite number.
    """
    for name, value in (("nphotons", nphotons), ("mean_exit_wave_energy", mean_exit_wave_energy)):
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name}={value!r} is invalid; expected a positive finite number")
    return float(np.sqrt(nphotons / mean_exit_wave_energy))


def poisson_observe(
    amplitude: np.ndarray, scale: float, rng: np.random.Generator
) -> np.ndarray:
    """Draw a noisy amplitude A_obs = sqrt(Poisson(s^2 A^2)) / s.

    Args:
        amplitude: (..., height, width) noise-free amplitudes, any real dtype.
        scale: the intensity scale s.
        rng: the generator that draws the counts; the same state gives the same counts.

    Returns:
        float32 amplitudes of the same shape, back in the units of ``amplitude``.
    """
    rate = np.square(np.asarray(amplitude, dtype=np.float64) * scale)
    counts = rng.poisson(rate)
    return (np.sqrt(counts) / scale).astype(np.float32)


def poisson_nll(
    predicted_amplitude: torch.Tensor, observed_amplitude: torch.Tensor, scale: float
) -> torch.Tensor:
    """Return the mean Poisson negative log-likelihood in photon units.

    With rate lambda = (s A_pred)^2 and counts k = (s A_obs)^2 per pixel, the loss is
    mean(lambda - k log(lambda)), the negative log-likelihood up to the constant log(k!).
    It is computed in float32 with autocast disabled.
    """
    with full_precision(predicted_amplitude):
        rate = torch.square(predicted_amplitude.to(torch.float32) * scale)
        counts = torch.square(observed_amplitude.to(torch.float32) * scale)
        return torch.mean(rate - counts * torch.log(rate + POISSON_LOG_EPS))


def _check_complex64(name: str, tensor: torch.Tensor) -> None:
    if tensor.dtype != torch.complex64:
        raise TypeError(
            f"{name} has dtype {tensor.dtype}, expected torch.complex64; "
            f"cast it with .to(torch.complex64) before the forward model"
        )
