"""The simulator: a canonical dataset from a probe, an object and scan positions.

The simulator reads the source NPZ and chooses the scan positions. It cuts object patches
by bilinear interpolation at the sub-pixel centres and applies the forward model. It draws
Poisson counts with a seeded numpy Generator, normalizes the amplitudes, and writes a
byte-reproducible NPZ with its provenance in ``metadata_json``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reference_impl.npz_io import NpzReadError, check_npz_archive, write_npz

logger = logging.getLogger(__name__)

SOURCE_KEYS = ("probeGuess", "objectGuess", "xcoords", "ycoords")
INTERPOLATION = "bilinear interpolation of the complex object (real and imaginary parts)"
# The largest seed accepted, so that the seed fits a signed 64-bit integer wherever it is stored.
MAX_SEED = 2**63 - 1
SUBSET_RULE = "evenly spaced indices round(linspace(0, n_source - 1, n_positions)) in source order"


class SimulationInputError(ValueError):
    """The source file cannot be simulated from: missing keys, bad shapes or values."""


@dataclass(frozen=True)
class SimulationRecord:
    """Summary of one simulation: the file written and the factors used."""

    path: Path
    n_positions: int
    patch_size: int
    nphotons: float
    seed: int
    intensity_scale: float
    diffraction_normalization: float
    sha256: str


def simulate_dataset(
    source: Path,
    out: Path,
    *,
    nphotons: float,
    seed: int,
    n_positions: int | None = None,
    patch_size: int | None = None,
    include_true_patches: bool = True,
    overwrite: bool = False,
    command: str = "",
) -> SimulationRecord:
    """Simulate diffraction for the scan in ``source`` and write a canonical NPZ to ``out``.

    The stored ``diffraction`` is A_obs * f with f chosen so that the mean over patterns of
    sum(diffraction^2) is (N/2)^2; f and the intensity scale s are in ``metadata_json``.

    Options and the output path are checked before the source is read, so a bad value
    fails fast and nothing is written.

    Raises:
        SimulationInputError: an option is invalid, the output folder is missing or ``out``
            is a folder, or the source is not a readable NPZ, lacks a key or has shapes
            the simulator cannot use.
        FileExistsError: ``out`` is the source file, or exists and ``overwrite`` is false.
    """
    source = Path(source)
    out = Path(out)
    check_simulation_options(nphotons=nphotons, seed=seed, n_positions=n_positions, patch_size=patch_size)
    _check_output_path(source, out, overwrite)

    source_arrays = _read_source(source)
    # torch is imported only once the options, paths and source are checked, so that
    # `ptycho-harness simulate` reports a bad argument without the seconds torch takes.
    import torch

    from reference_impl import physics
    from reference_impl.stitching import extract_patches

    probe = _crop_probe(source_arrays["probeGuess"], patch_size)
    n_size = probe.shape[0]
    n_source = int(source_arrays["xcoords"].shape[0])
    if n_positions is not None and n_positions > n_source:
        raise SimulationInputError(
            f"--n-positions {n_positions} exceeds the {n_source} positions in {source}; "
            f"expected at most {n_source}, or leave the option out to keep all"
        )
    indices = select_positions(n_source, n_positions)
    xcoords = source_arrays["xcoords"][indices].astype(np.float64)
    ycoords = source_arrays["ycoords"][indices].astype(np.float64)
    obj = source_arrays["objectGuess"]

    patches = extract_patches(obj.astype(np.complex128), xcoords, ycoords, n_size).astype(np.complex64)
    probe64 = probe.astype(np.complex64)
    with torch.no_grad():
        psi = physics.exit_wave(torch.from_numpy(probe64), torch.from_numpy(patches))
        amplitude = physics.diffraction_amplitude(psi).numpy()
        mean_energy = float(torch.mean(torch.sum(psi.abs().square(), dim=(-2, -1)), dtype=torch.float64))
    scale = physics.intensity_scale(nphotons, mean_energy)
    observed = physics.poisson_observe(amplitude, scale, np.random.default_rng(seed))
    mean_pattern_energy = float(np.mean(np.sum(np.square(observed, dtype=np.float64), axis=(-2, -1))))
    if mean_pattern_energy <= 0:
        raise SimulationInputError(
            f"every simulated pattern is dark at nphotons={nphotons}; raise --nphotons"
        )
    normalization = float(np.sqrt((n_size / 2) ** 2 / mean_pattern_energy))
    diffraction = (observed * normalization).astype(np.float32)

    metadata = {
        "producer": "reference_impl.simulate",
        "command": command,
        "source_file": source.name,
        "source_sha256": _sha256(source),
        "nphotons": float(nphotons),
        "seed": int(seed),
        "rng": "numpy.random.default_rng(seed).poisson",
        "n_source_positions": int(source_arrays["xcoords"].shape[0]),
        "n_positions": int(indices.size),
        "subset_rule": SUBSET_RULE if indices.size < source_arrays["xcoords"].shape[0] else "all positions",
        "patch_size": int(n_size),
        "probe_crop": _probe_crop_note(source_arrays["probeGuess"].shape, n_size),
        "interpolation": INTERPOLATION,
        "patch_convention": "patch pixel (i, j) samples object pixel (y - N/2 + i, x - N/2 + j)",
        "forward_model": "A = sqrt(fftshift(|FFT2(P * O)|^2 / N^2))",
        "mean_exit_wave_energy": mean_energy,
        "intensity_scale": scale,
        "diffraction_normalization": normalization,
        "diffraction_definition": "diffraction = diffraction_normalization * sqrt(Poisson((s A)^2)) / s",
        "dtype_casts": _dtype_casts(source_arrays),
        "true_patches_included": bool(include_true_patches),
    }
    arrays: dict[str, np.ndarray] = {
        "diffraction": diffraction,
        "probeGuess": probe64,
        "objectGuess": obj.astype(np.complex64),
        "xcoords": xcoords,
        "ycoords": ycoords,
        "scan_index": indices.astype(np.int64),
    }
    if include_true_patches:
        arrays["Y"] = patches
    arrays["metadata_json"] = np.array(json.dumps(metadata, sort_keys=True))

    write_npz(out, arrays, overwrite=overwrite)
    logger.info(
        "simulated %d patterns of %dx%d at %.3g photons (s=%.6g, f=%.6g)",
        indices.size, n_size, n_size, nphotons, scale, normalization,
    )
    return SimulationRecord(
        path=out,
        n_positions=int(indices.size),
        patch_size=int(n_size),
        nphotons=float(nphotons),
        seed=int(seed),
        intensity_scale=scale,
        diffraction_normalization=normalization,
        sha256=_sha256(out),
    )


def check_simulation_options(
    *, nphotons: float, seed: int, n_positions: int | None = None, patch_size: int | None = None
) -> None:
    """Check the options that need no source file, naming each invalid one by its CLI flag.

    Raises:
        SimulationInputError: ``nphotons`` is not a finite positive number, ``seed`` is
            outside [0, 2**63), or ``n_positions`` or ``patch_size`` is below 1.
    """
    if not (np.isfinite(nphotons) and nphotons > 0):
        raise SimulationInputError(f"--nphotons {nphotons:g} is invalid; expected a positive number")
    if not 0 <= seed <= MAX_SEED:
        raise SimulationInputError(
            f"--seed {seed} is invalid; expected an integer from 0 to {MAX_SEED} (2**63 - 1)"
        )
    if n_positions is not None and n_positions < 1:
        raise SimulationInputError(f"--n-positions {n_positions} is invalid; expected at least 1")
    if patch_size is not None and patch_size < 1:
        raise SimulationInputError(f"--patch-size {patch_size} is invalid; expected at least 1")


def select_positions(n_source: int, n_positions: int | None) -> np.ndarray:
    """Return the indices kept: all of them, or ``n_positions`` evenly spaced ones in source order.

    Raises:
        SimulationInputError: ``n_positions`` is below 1 or above ``n_source``.
    """
    if n_positions is None or n_positions == n_source:
        return np.arange(n_source)
    if n_positions < 1:
        raise SimulationInputError(f"--n-positions {n_positions} is invalid; expected at least 1")
    if n_positions > n_source:
        raise SimulationInputError(
            f"--n-positions {n_positions} exceeds the {n_source} positions in the source; "
            f"expected at most {n_source}"
        )
    return np.round(np.linspace(0, n_source - 1, n_positions)).astype(np.int64)


def _check_output_path(source: Path, out: Path, overwrite: bool) -> None:
    same = out.exists() and source.exists() and os.path.samefile(source, out)
    if same or out.resolve() == source.resolve():
        raise FileExistsError(
            f"output {out} is the input file; the simulator never overwrites its input, "
            f"choose another output path"
        )
    if out.is_dir():
        raise SimulationInputError(f"output {out} is a folder; expected a file path such as {out / 'sim.npz'}")
    if out.exists() and not overwrite:
        raise FileExistsError(f"output {out} already exists; choose a new path or pass --overwrite")
    folder = out.parent
    if not folder.is_dir():
        raise SimulationInputError(
            f"output folder {folder} not found; create it first or choose an output path in an existing folder"
        )


def _read_source(source: Path) -> dict[str, np.ndarray]:
    try:
        check_npz_archive(source)
    except NpzReadError as error:
        raise SimulationInputError(str(error)) from None
    try:
        with np.load(source, allow_pickle=False) as npz:
            missing = [key for key in SOURCE_KEYS if key not in npz.files]
            if missing:
                raise SimulationInputError(
                    f"{source} lacks {', '.join(missing)}; the simulator needs "
                    f"{', '.join(SOURCE_KEYS)} (probe, object and scan positions in object pixels)"
                )
            arrays = {key: npz[key] for key in SOURCE_KEYS}
    except (OSError, EOFError, ValueError) as error:
        if isinstance(error, SimulationInputError):
            raise
        raise SimulationInputError(f"cannot read {source} as an NPZ file: {error}") from error

    probe, obj = arrays["probeGuess"], arrays["objectGuess"]
    if probe.ndim != 2 or probe.shape[0] != probe.shape[1]:
        raise SimulationInputError(f"probeGuess has shape {probe.shape}, expected a square (N, N)")
    if obj.ndim != 2:
        raise SimulationInputError(f"objectGuess has shape {obj.shape}, expected (rows, cols)")
    if arrays["xcoords"].shape != arrays["ycoords"].shape or arrays["xcoords"].ndim != 1:
        raise SimulationInputError(
            f"xcoords {arrays['xcoords'].shape} and ycoords {arrays['ycoords'].shape} "
            f"must be 1-D of one length"
        )
    return arrays


def _crop_probe(probe: np.ndarray, patch_size: int | None) -> np.ndarray:
    size = probe.shape[0]
    if patch_size is None or patch_size == size:
        return probe
    if patch_size > size or patch_size < 1:
        raise SimulationInputError(
            f"--patch-size {patch_size} is invalid for a {size}x{size} probe; "
            f"expected a size from 1 to {size} (the probe is centre-cropped, never padded)"
        )
    start = (size - patch_size) // 2
    return probe[start : start + patch_size, start : start + patch_size]


def _probe_crop_note(source_shape: tuple[int, ...], n_size: int) -> str:
    if source_shape[0] == n_size:
        return "none"
    return f"centre crop from {source_shape[0]}x{source_shape[1]} to {n_size}x{n_size}"


def _dtype_casts(arrays: dict[str, np.ndarray]) -> dict[str, str]:
    targets = {"probeGuess": "complex64", "objectGuess": "complex64", "xcoords": "float64", "ycoords": "float64"}
    return {
        key: f"{arrays[key].dtype} -> {target}"
        for key, target in targets.items()
        if str(arrays[key].dtype) != target
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
