"""The simulator and ``ptycho-harness simulate``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.cli import main
from reference_impl.simulate import SimulationInputError, select_positions, simulate_dataset


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args], capture_output=True, text=True, timeout=120
    )


def test_simulate_cli_bit_reproducible(tmp_path: Path, tiny_source: Path) -> None:
    outputs = []
    for folder in ("first", "second"):
        (tmp_path / folder).mkdir()
        out = tmp_path / folder / "sim.npz"
        result = _run_cli("simulate", str(tiny_source), str(out), "--nphotons", "1e5", "--seed", "11")
        assert result.returncode == 0, result.stderr
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]


def test_simulate_cli_refuses_input_overwrite(tiny_source: Path) -> None:
    before = tiny_source.read_bytes()
    result = _run_cli("simulate", str(tiny_source), str(tiny_source), "--nphotons", "1e5", "--seed", "1", "--overwrite")
    assert result.returncode == 2
    assert "is the input file" in result.stderr
    assert "Traceback" not in result.stderr
    assert tiny_source.read_bytes() == before


def test_simulate_refuses_input_through_other_spelling(tiny_source: Path) -> None:
    spelled = tiny_source.parent / "." / tiny_source.name
    with pytest.raises(FileExistsError, match="never overwrites its input"):
        simulate_dataset(tiny_source, spelled, nphotons=1e5, seed=1, overwrite=True)


def test_simulate_refuses_existing_output(tmp_path: Path, tiny_source: Path) -> None:
    out = tmp_path / "taken.npz"
    out.write_bytes(b"keep")
    assert main(["simulate", str(tiny_source), str(out), "--nphotons", "1e5", "--seed", "1"]) == 2
    assert out.read_bytes() == b"keep"


def test_simulate_seed_changes_noise(tmp_path: Path, tiny_source: Path) -> None:
    first = simulate_dataset(tiny_source, tmp_path / "a.npz", nphotons=1e5, seed=1)
    second = simulate_dataset(tiny_source, tmp_path / "b.npz", nphotons=1e5, seed=2)
    assert first.sha256 != second.sha256


def test_simulate_canonical_contents(tiny_dataset: Path) -> None:
    with np.load(tiny_dataset, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    n = len(arrays["xcoords"])
    assert arrays["diffraction"].dtype == np.float32
    assert arrays["diffraction"].shape == (n, 16, 16)
    assert arrays["probeGuess"].dtype == np.complex64
    assert arrays["objectGuess"].dtype == np.complex64
    assert arrays["Y"].dtype == np.complex64
    assert arrays["xcoords"].dtype == np.float64
    energy = np.sum(arrays["diffraction"].astype(np.float64) ** 2, axis=(1, 2)).mean()
    assert energy == pytest.approx((16 / 2) ** 2, rel=1e-5)


def test_simulate_metadata_provenance(tiny_dataset: Path, tiny_source: Path) -> None:
    with np.load(tiny_dataset, allow_pickle=False) as npz:
        metadata = json.loads(str(npz["metadata_json"]))
    assert metadata["source_file"] == tiny_source.name
    assert len(metadata["source_sha256"]) == 64
    assert metadata["nphotons"] == 1e6
    assert metadata["seed"] == 3
    assert "bilinear" in metadata["interpolation"]
    assert metadata["subset_rule"] == "all positions"
    assert metadata["intensity_scale"] > 0
    assert metadata["diffraction_normalization"] > 0


def test_simulate_diffraction_matches_forward_model(tmp_path: Path, tiny_source: Path) -> None:
    # At very high photon counts the noisy amplitude approaches the noise-free one.
    record = simulate_dataset(tiny_source, tmp_path / "bright.npz", nphotons=1e14, seed=0)
    with np.load(record.path, allow_pickle=False) as npz:
        psi = npz["probeGuess"].astype(np.complex128) * npz["Y"].astype(np.complex128)
        expected = np.sqrt(np.fft.fftshift(np.abs(np.fft.fft2(psi)) ** 2, axes=(-2, -1)) / 256)
        measured = npz["diffraction"] / record.diffraction_normalization
    np.testing.assert_allclose(measured, expected, rtol=1e-3, atol=1e-3 * expected.max())


def test_simulate_subset_evenly_spaced(tmp_path: Path, tiny_source: Path) -> None:
    record = simulate_dataset(tiny_source, tmp_path / "subset.npz", nphotons=1e5, seed=0, n_positions=5)
    with np.load(record.path, allow_pickle=False) as npz:
        assert npz["scan_index"].tolist() == [0, 6, 12, 17, 23]
        assert "evenly spaced" in json.loads(str(npz["metadata_json"]))["subset_rule"]


def test_select_positions_rejects_zero() -> None:
    with pytest.raises(SimulationInputError, match="--n-positions 0 is invalid"):
        select_positions(10, 0)


def test_simulate_rejects_missing_keys(tmp_path: Path) -> None:
    source = tmp_path / "partial.npz"
    np.savez(source, probeGuess=np.ones((16, 16), dtype=np.complex64))
    with pytest.raises(SimulationInputError, match="lacks objectGuess, xcoords, ycoords"):
        simulate_dataset(source, tmp_path / "out.npz", nphotons=1e5, seed=0)


def test_simulate_rejects_larger_patch_size(tmp_path: Path, tiny_source: Path) -> None:
    with pytest.raises(SimulationInputError, match="--patch-size 32 is invalid for a 16x16 probe"):
        simulate_dataset(tiny_source, tmp_path / "out.npz", nphotons=1e5, seed=0, patch_size=32)
