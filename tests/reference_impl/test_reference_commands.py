"""``ptycho-harness train`` and ``ptycho-harness infer`` on tiny data, and the shipped files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.adapter import PipelineAdapter, load_adapter
from harness.cli import main
from reference_impl.adapter import DEFAULT_CHECKPOINT, DEFAULT_DATASET


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args], capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def tiny_checkpoint(tmp_path: Path, tiny_dataset: Path) -> Path:
    out = tmp_path / "tiny.ckpt"
    assert main(["train", str(tiny_dataset), "--out", str(out), "--epochs", "1", "--batch-size", "8"]) == 0
    return out


def test_train_refuses_existing_checkpoint(tmp_path: Path, tiny_dataset: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "taken.ckpt"
    out.write_bytes(b"keep")
    assert main(["train", str(tiny_dataset), "--out", str(out), "--epochs", "1"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert out.read_bytes() == b"keep"


def test_train_missing_dataset_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["train", str(tmp_path / "absent.npz"), "--out", str(tmp_path / "x.ckpt")]) == 2
    assert "not found" in capsys.readouterr().err


def test_infer_writes_outputs(tmp_path: Path, tiny_dataset: Path, tiny_checkpoint: Path) -> None:
    out = tmp_path / "inference"
    # N = 16 is outside the BATCH contract's sizes (64, 128, 256), so the guards only log here.
    result = _run_cli(
        "infer", str(tiny_dataset), "--checkpoint", str(tiny_checkpoint), "--out", str(out), "--guards", "warn"
    )
    assert result.returncode == 0, result.stderr
    assert "amplitude relative RMS error" in result.stdout
    with np.load(out / "stitched_object.npz", allow_pickle=False) as npz:
        assert npz["obj"].dtype == np.complex64
        assert npz["overlap_count"].dtype == np.float32
        assert npz["origin"].shape == (2,)
    assert (out / "amplitude.png").stat().st_size > 0
    assert (out / "phase.png").stat().st_size > 0


def test_infer_refuses_existing_outputs(tmp_path: Path, tiny_dataset: Path, tiny_checkpoint: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "inference"
    out.mkdir()
    (out / "phase.png").write_bytes(b"keep")
    assert main(["infer", str(tiny_dataset), "--checkpoint", str(tiny_checkpoint), "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (out / "phase.png").read_bytes() == b"keep"


def test_infer_checkpoint_other_patch_size(tmp_path: Path, tiny_dataset: Path, capsys: pytest.CaptureFixture) -> None:
    if not DEFAULT_CHECKPOINT.is_file():
        pytest.skip("the shipped checkpoint is missing")
    code = main(["infer", str(tiny_dataset), "--checkpoint", str(DEFAULT_CHECKPOINT), "--out", str(tmp_path / "o")])
    assert code == 2
    assert "N=16, but the checkpoint was trained for N=64" in capsys.readouterr().err


def test_adapter_registered_as_reference() -> None:
    adapter = load_adapter("reference")
    assert isinstance(adapter, PipelineAdapter)
    assert adapter.name == "reference"


def test_shipped_reconstruction_beats_trivial_guess(tmp_path: Path) -> None:
    if not (DEFAULT_CHECKPOINT.is_file() and DEFAULT_DATASET.is_file()):
        pytest.skip("the shipped checkpoint or dataset is missing")
    from harness.quality import compare_with_truth

    adapter = load_adapter("reference")
    info = adapter.load_checkpoint(adapter.default_checkpoint())
    assert info.patch_size == 64
    patches, xcoords, ycoords = [], [], []
    for batch in adapter.inference_batches(adapter.default_dataset(), 128):
        patches.append(np.asarray(adapter.predict_patches(batch)))
        xcoords.append(batch.xcoords.numpy())
        ycoords.append(batch.ycoords.numpy())
    stitched = adapter.stitch(np.concatenate(patches), np.concatenate(xcoords), np.concatenate(ycoords))
    with np.load(adapter.default_dataset(), allow_pickle=False) as npz:
        report = compare_with_truth(stitched, npz["objectGuess"])
    assert report.amplitude_error < 0.75 * report.trivial_amplitude_error
    assert report.phase_error_rad < 0.5 * report.trivial_phase_error_rad


def test_shipped_files_small() -> None:
    for path in (DEFAULT_DATASET, DEFAULT_CHECKPOINT):
        if not path.is_file():
            pytest.skip(f"{path.name} is missing")
        assert path.stat().st_size < 5 * 1024 * 1024
