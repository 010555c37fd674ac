"""The PHYSICS family: the far-field forward model as executable relations with tolerances.

Inputs: the ``probe`` P (N, N) complex, ``object_patches`` O (n, N, N) complex and the
implementation's forward ``amplitude`` A (n, N, N). Optionally the parameters
``nphotons`` and ``intensity_scale`` s, and ``observed`` (n, N, N), the Poisson
observation of A. The model is Psi = P * O and A = sqrt(fftshift(|FFT2 Psi|^2 / N^2)),
so sum A^2 == sum |Psi|^2 (Parseval) and the zero frequency sits at (N/2, N/2). The
intensity scale is s = sqrt(nphotons / E[sum |Psi|^2]), the mean over patterns, and an
observation is A_obs = sqrt(Poisson((s A)^2)) / s: the scale multiplies before the draw
and divides after it. References are computed in float64 with NumPy.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

from contracts.rules import Finding, Severity, Violation, register, rule_builder
from contracts.runtime import RuntimeView, check_family, dtype_name, numpy_dtype, replace, shape_of

logger = logging.getLogger(__name__)

FAMILY = "PHYSICS"

PROBE = "probe"
OBJECT_PATCHES = "object_patches"
AMPLITUDE = "amplitude"
OBSERVED = "observed"
NPHOTONS = "nphotons"
INTENSITY_SCALE = "intensity_scale"

PARSEVAL_RTOL = 1e-5
# Relative tolerance of the zero-frequency pixel's share of the pattern energy.
ZERO_FREQUENCY_RTOL = 1e-4
FORWARD_RTOL = 1e-6
SCALE_RTOL = 1e-5
# (s A_obs)^2 must be a whole number within this absolute part plus a part relative to the
# count: float32 rounding of A_obs is at most 6e-8 relative, doubled by the square. Counts
# above about 1e6 therefore cannot show whether they are whole.
COUNT_ATOL = 1e-3
COUNT_RTOL = 3e-7
# Total observed counts may differ from the total rate by this many standard deviations.
POISSON_SIGMAS = 5.0


def check_physics_arrays(
    arrays: Mapping[str, Any],
    source: str = "<memory>",
    *,
    nphotons: float | None = None,
    intensity_scale: float | None = None,
) -> list[Violation]:
    """Check a forward-model result (and optionally its Poisson observation) against every PHYSICS rule."""
    params = {key: value for key, value in ((NPHOTONS, nphotons), (INTENSITY_SCALE, intensity_scale)) if value is not None}
    return check_family(FAMILY, arrays, params, source)


def reference_amplitude(probe: np.ndarray, object_patches: np.ndarray) -> np.ndarray:
    """Return A = sqrt(fftshift(|FFT2(P * O)|^2 / N^2)) in float64, shape (n, N, N)."""
    psi = np.asarray(probe, dtype=np.complex128) * np.asarray(object_patches, dtype=np.complex128)
    pixels = psi.shape[-2] * psi.shape[-1]
    intensity = np.abs(np.fft.fft2(psi)) ** 2 / pixels
    return np.sqrt(np.fft.fftshift(intensity, axes=(-2, -1)))


# ---------------------------------------------------------------------------
# Helpers.


def _arrays(view: RuntimeView) -> tuple[np.ndarray, np.ndarray] | None:
    """Return the exit waves Psi (n, N, N) complex128 and A float64 when PHYSICS-001 holds."""
    if check_layout(view):
        return None
    if "psi" not in view.cache:
        view.cache["psi"] = view.numpy(PROBE).astype(np.complex128) * view.numpy(OBJECT_PATCHES).astype(np.complex128)
    return view.cache["psi"], view.numpy(AMPLITUDE).astype(np.float64)


def _energy(psi: np.ndarray) -> np.ndarray:
    return (np.abs(psi) ** 2).sum(axis=(-2, -1))


def _parseval_holds(psi: np.ndarray, amplitude: np.ndarray) -> np.ndarray:
    energy = _energy(psi)
    return np.abs((amplitude**2).sum(axis=(-2, -1)) - energy) <= PARSEVAL_RTOL * np.maximum(energy, np.finfo(float).tiny)


def _zero_frequency_share(psi: np.ndarray) -> np.ndarray:
    """Return |sum Psi|^2 / N^2 divided by sum |Psi|^2: the zero frequency's share of the energy."""
    pixels = psi.shape[-2] * psi.shape[-1]
    return np.abs(psi.sum(axis=(-2, -1))) ** 2 / pixels / np.maximum(_energy(psi), np.finfo(float).tiny)


def _centred(psi: np.ndarray, amplitude: np.ndarray) -> np.ndarray:
    size = amplitude.shape[-1]
    total = np.maximum((amplitude**2).sum(axis=(-2, -1)), np.finfo(float).tiny)
    share = amplitude[:, size // 2, size // 2] ** 2 / total
    expected = _zero_frequency_share(psi)
    return np.abs(share - expected) <= ZERO_FREQUENCY_RTOL * np.maximum(expected, 1e-12) + 1e-12


def _scale(view: RuntimeView) -> float | None:
    value = view.params.get(INTENSITY_SCALE)
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) and value > 0 else None


def _counts(view: RuntimeView) -> np.ndarray | None:
    """Return (s A_obs)^2 when an observation and a usable scale are given and the layout holds."""
    scale = _scale(view)
    if scale is None or OBSERVED not in view or _arrays(view) is None:
        return None
    return (scale * view.numpy(OBSERVED).astype(np.float64)) ** 2


# ---------------------------------------------------------------------------
# Section 8.1: inputs.


def check_layout(view: RuntimeView) -> list[Finding]:
    findings = []
    for key in (PROBE, OBJECT_PATCHES, AMPLITUDE):
        if key not in view:
            findings.append(Finding(key=key, seen="key missing", expected=f"{key} of the forward model",
                                    fix=f"pass {key} to the PHYSICS check"))
    if findings:
        return findings
    probe, patches = shape_of(view.get(PROBE)), shape_of(view.get(OBJECT_PATCHES))
    if len(probe) != 2 or probe[0] != probe[1] or 0 in probe or numpy_dtype(view.get(PROBE)).kind != "c":
        findings.append(Finding(key=PROBE, seen=f"shape {probe}, dtype {dtype_name(view.get(PROBE))}",
                                expected="(N, N) complex", fix="pass one square complex probe"))
    if len(patches) != 3 or patches[1:] != probe or numpy_dtype(view.get(OBJECT_PATCHES)).kind != "c":
        findings.append(Finding(key=OBJECT_PATCHES, seen=f"shape {patches}, dtype {dtype_name(view.get(OBJECT_PATCHES))}",
                                expected=f"(n, {probe[0] if probe else 'N'}, {probe[-1] if probe else 'N'}) complex",
                                fix="pass (n, N, N) complex object patches of the probe's size"))
    for key in (AMPLITUDE, OBSERVED):
        value = view.get(key)
        if value is None:
            continue
        dtype = numpy_dtype(value)
        if shape_of(value) != patches or dtype is None or dtype.kind != "f":
            findings.append(Finding(key=key, seen=f"shape {shape_of(value)}, dtype {dtype_name(value)}",
                                    expected=f"real values of the patch shape {patches}",
                                    fix=f"pass {key} with one (N, N) pattern per object patch"))
        elif not np.isfinite(view.numpy(key)).all():
            findings.append(Finding(key=key, seen="NaN or infinite values", expected="finite values",
                                    fix="look for a division by zero in the forward model"))
    return findings


# ---------------------------------------------------------------------------
# Section 8.2: the forward model.


def check_parseval(view: RuntimeView) -> list[Finding]:
    arrays = _arrays(view)
    if arrays is None:
        return []
    psi, amplitude = arrays
    holds = _parseval_holds(psi, amplitude)
    if holds.all():
        return []
    first = int(np.flatnonzero(~holds)[0])
    ratio = (amplitude[first] ** 2).sum() / max(_energy(psi[first]), np.finfo(float).tiny)
    return [Finding(key=AMPLITUDE,
                    seen=f"{int((~holds).sum())} of {holds.size} patterns break Parseval; pattern {first}: "
                         f"sum A^2 / sum |Psi|^2 = {ratio:.8g}",
                    expected=f"sum A^2 == sum |Psi|^2 within relative {PARSEVAL_RTOL:g}",
                    fix="divide |FFT2 Psi|^2 by N^2 (the pixel count), once, before the square root",
                    index=(first,))]


def check_zero_frequency(view: RuntimeView) -> list[Finding]:
    arrays = _arrays(view)
    if arrays is None:
        return []
    psi, amplitude = arrays
    centred = _centred(psi, amplitude)
    if centred.all():
        return []
    first = int(np.flatnonzero(~centred)[0])
    size = amplitude.shape[-1]
    target = _zero_frequency_share(psi[first : first + 1])[0] * (amplitude[first] ** 2).sum()
    where = tuple(int(i) for i in np.unravel_index(int(np.argmin(np.abs(amplitude[first] ** 2 - target))), (size, size)))
    share = amplitude[first, size // 2, size // 2] ** 2 / max((amplitude[first] ** 2).sum(), np.finfo(float).tiny)
    expected_share = _zero_frequency_share(psi[first : first + 1])[0]
    return [Finding(key=AMPLITUDE,
                    seen=f"{int((~centred).sum())} of {centred.size} patterns; pattern {first}: pixel "
                         f"({size // 2}, {size // 2}) carries {share:.6g} of the energy, the zero frequency "
                         f"{expected_share:.6g}, and the pixel nearest the zero frequency's value is {where}",
                    expected=f"the zero frequency at ({size // 2}, {size // 2}): A[N/2, N/2]^2 = |sum Psi|^2 / N^2",
                    fix="apply fftshift over the last two axes after FFT2 (and not ifftshift)",
                    index=(first, size // 2, size // 2))]


def check_forward_agreement(view: RuntimeView) -> list[Finding]:
    arrays = _arrays(view)
    if arrays is None:
        return []
    psi, amplitude = arrays
    if not (_parseval_holds(psi, amplitude).all() and _centred(psi, amplitude).all()):
        return []  # reported by PHYSICS-002 or PHYSICS-003
    reference = reference_amplitude(view.numpy(PROBE), view.numpy(OBJECT_PATCHES))
    error = np.linalg.norm(amplitude - reference) / max(np.linalg.norm(reference), np.finfo(float).tiny)
    if error <= FORWARD_RTOL:
        return []
    worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(np.abs(amplitude - reference))), amplitude.shape))
    return [Finding(key=AMPLITUDE,
                    seen=f"relative error ||A - A_ref|| / ||A_ref|| = {error:.3g}",
                    expected=f"<= {FORWARD_RTOL:g} against A_ref = sqrt(fftshift(|FFT2(P * O)|^2 / N^2)) in float64",
                    fix="compute A from Psi = probe * object_patches with fft2 over the last two axes, no transpose",
                    index=worst)]


# ---------------------------------------------------------------------------
# Section 8.3: intensity scale and Poisson observation.


def check_intensity_scale(view: RuntimeView) -> list[Finding]:
    arrays = _arrays(view)
    nphotons = view.params.get(NPHOTONS)
    scale = view.params.get(INTENSITY_SCALE)
    if arrays is None or nphotons is None or scale is None:
        return []
    expected = float(np.sqrt(float(nphotons) / _energy(arrays[0]).mean()))
    if np.isfinite(float(scale)) and abs(float(scale) - expected) <= SCALE_RTOL * expected:
        return []
    return [Finding(key=INTENSITY_SCALE, seen=f"s = {float(scale):.8g}",
                    expected=f"s = sqrt(nphotons / E[sum |Psi|^2]) = {expected:.8g} (relative {SCALE_RTOL:g})",
                    fix="compute s from the mean exit-wave energy over all patterns, not from the amplitudes' maximum")]


def check_symmetric_scale(view: RuntimeView) -> list[Finding]:
    counts = _counts(view)
    if counts is None:
        return []
    off = np.abs(counts - np.rint(counts)) > COUNT_ATOL + COUNT_RTOL * counts
    if not off.any():
        return []
    first = tuple(int(i) for i in np.argwhere(off)[0])
    return [Finding(key=OBSERVED,
                    seen=f"{int(off.sum())} of {off.size} values of (s A_obs)^2 are not whole numbers; "
                         f"first {counts[first]:.6g}",
                    expected="A_obs = sqrt(counts) / s, so (s A_obs)^2 are photon counts",
                    fix="multiply by s before the Poisson draw and divide by s after it: sqrt(Poisson((s A)^2)) / s",
                    index=first)]


def check_poisson_mean(view: RuntimeView) -> list[Finding]:
    counts = _counts(view)
    if counts is None or check_symmetric_scale(view):
        return []
    scale = _scale(view)
    assert scale is not None
    rate = (scale * reference_amplitude(view.numpy(PROBE), view.numpy(OBJECT_PATCHES))) ** 2
    total_rate, total_counts = float(rate.sum()), float(np.rint(counts).sum())
    limit = POISSON_SIGMAS * np.sqrt(total_rate) + 1.0
    if abs(total_counts - total_rate) <= limit:
        return []
    return [Finding(key=OBSERVED,
                    seen=f"{total_counts:.0f} photons observed in all, for a total rate of {total_rate:.6g}",
                    expected=f"the total within {POISSON_SIGMAS:g} standard deviations ({limit:.3g}) of the rate sum (s A)^2",
                    fix="draw the counts as Poisson((s A)^2) with the same s and A")]


# ---------------------------------------------------------------------------
# Examples.


def make_valid_physics(count: int = 4, patch_px: int = 16, nphotons: float = 1e4, seed: int = 0) -> dict[str, Any]:
    """Build a forward-model result and its Poisson observation that pass every PHYSICS rule.

    The probe is a Gaussian with a phase ramp along x, so its patterns are not symmetric
    under transposition.
    """
    rng = np.random.default_rng(seed)
    axis = np.arange(patch_px) - patch_px / 2
    gauss = np.exp(-(axis[:, None] ** 2 + axis[None, :] ** 2) / (2 * (patch_px / 5) ** 2))
    probe = (gauss * np.exp(1j * (0.4 * axis[None, :] + 0.05 * axis[:, None] ** 2))).astype(np.complex64)
    shape = (count, patch_px, patch_px)
    patches = (rng.uniform(0.5, 1.0, shape) * np.exp(1j * rng.uniform(-1.0, 1.0, shape))).astype(np.complex64)
    amplitude = reference_amplitude(probe, patches)
    psi = probe.astype(np.complex128) * patches
    scale = float(np.sqrt(nphotons / _energy(psi).mean()))
    observed = np.sqrt(rng.poisson((scale * amplitude) ** 2)) / scale
    return {
        PROBE: probe,
        OBJECT_PATCHES: patches,
        AMPLITUDE: amplitude.astype(np.float32),
        OBSERVED: observed.astype(np.float32),
        NPHOTONS: float(nphotons),
        INTENSITY_SCALE: scale,
    }


def _observe_with_rate_factor(arrays: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    scale = arrays[INTENSITY_SCALE]
    amplitude = reference_amplitude(arrays[PROBE], arrays[OBJECT_PATCHES])
    factor = float(rng.uniform(1.5, 2.5))
    observed = np.sqrt(rng.poisson(factor * (scale * amplitude) ** 2)) / scale
    return replace(arrays, OBSERVED, observed.astype(np.float32))


def _unscaled_observation(arrays: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """Divide the drawn counts' square root by s twice instead of once."""
    scale = arrays[INTENSITY_SCALE]
    counts = np.rint((scale * arrays[OBSERVED].astype(np.float64)) ** 2)
    return replace(arrays, OBSERVED, (np.sqrt(counts) / scale**2).astype(np.float32))


_rule = rule_builder(FAMILY, make_valid_physics)


PHYSICS_RULES = (
    _rule(1, Severity.ERROR, "8.1", "forward-model inputs have their layout",
          "probe is (N, N) complex, object_patches (n, N, N) complex, amplitude and (when given) observed "
          "(n, N, N) real and finite.",
          check_layout, lambda a, rng: replace(a, AMPLITUDE, a[AMPLITUDE][:, None])),
    _rule(2, Severity.ERROR, "8.2", "Parseval",
          "For every pattern, sum A^2 equals sum |Psi|^2 within relative 1e-5.",
          check_parseval, lambda a, rng: replace(a, AMPLITUDE, (a[AMPLITUDE] * rng.uniform(1.01, 1.5)).astype(np.float32))),
    _rule(3, Severity.ERROR, "8.2", "zero frequency centred",
          "The pixel (N/2, N/2) holds the zero frequency: its share of the pattern energy, A^2 / sum A^2, "
          "equals |sum Psi|^2 / N^2 / sum |Psi|^2 within relative 1e-4. A flat-phase exit wave therefore "
          "has its brightest pixel there.",
          check_zero_frequency,
          lambda a, rng: replace(a, AMPLITUDE, np.fft.ifftshift(a[AMPLITUDE], axes=(-2, -1)).copy())),
    _rule(4, Severity.ERROR, "8.2", "forward amplitude agrees",
          "When Parseval and the centring hold, ||A - A_ref|| / ||A_ref|| <= 1e-6, with "
          "A_ref = sqrt(fftshift(|FFT2(P * O)|^2 / N^2)) computed in float64.",
          check_forward_agreement,
          lambda a, rng: replace(a, AMPLITUDE, np.ascontiguousarray(np.swapaxes(a[AMPLITUDE], -1, -2)))),
    _rule(5, Severity.ERROR, "8.3", "intensity scale",
          "With nphotons and intensity_scale given, s = sqrt(nphotons / E[sum |Psi|^2]) within relative 1e-5, "
          "the mean taken over all patterns.",
          check_intensity_scale, lambda a, rng: replace(a, NPHOTONS, a[NPHOTONS] * float(rng.uniform(1.2, 2.0)))),
    _rule(6, Severity.ERROR, "8.3", "scale applied symmetrically",
          "With observed and intensity_scale given, (s A_obs)^2 are whole numbers: the scale multiplies "
          "before the Poisson draw and divides after it.",
          check_symmetric_scale, _unscaled_observation),
    _rule(7, Severity.ERROR, "8.3", "Poisson mean",
          "With observed and intensity_scale given, the total count sum (s A_obs)^2 is within 5 standard "
          "deviations of the total rate sum (s A_ref)^2.",
          check_poisson_mean, _observe_with_rate_factor),
)

register(PHYSICS_RULES)
