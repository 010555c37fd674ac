"""Inference through ``Trainer.predict``: merging per-process files by group index, and DDP."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from harness.cli import main
from reference_impl.distributed import PredictionMergeError, check_indices, merge_rank_files


def _write_rank(folder: Path, rank: int, indices: list[int]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    count = len(indices)
    torch.save(
        {
            "patches": torch.full((count, 1, 2, 2), 1.0, dtype=torch.complex64) * torch.tensor(indices).reshape(-1, 1, 1, 1),
            "indices": torch.tensor(indices, dtype=torch.int64),
            "xcoords": torch.tensor(indices, dtype=torch.float64),
            "ycoords": torch.tensor(indices, dtype=torch.float64),
            "dtypes": {"network output": "complex64"},
        },
        folder / f"rank{rank:04d}.pt",
    )


def test_merge_sorts_interleaved_ranks(tmp_path: Path) -> None:
    _write_rank(tmp_path, 0, [0, 2, 4])
    _write_rank(tmp_path, 1, [1, 3])
    merged = merge_rank_files(tmp_path, 5)
    assert merged.indices.tolist() == [0, 1, 2, 3, 4]
    assert merged.xcoords.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    np.testing.assert_array_equal(merged.patches[:, 0, 0, 0].real, [0, 1, 2, 3, 4])


def test_merge_reports_missing_index(tmp_path: Path) -> None:
    _write_rank(tmp_path, 0, [0, 2])
    _write_rank(tmp_path, 1, [1])
    with pytest.raises(PredictionMergeError, match=r"missing \[3, 4\] \(2\)"):
        merge_rank_files(tmp_path, 5)


def test_merge_reports_duplicated_index(tmp_path: Path) -> None:
    _write_rank(tmp_path, 0, [0, 1, 2])
    _write_rank(tmp_path, 1, [2, 3])
    with pytest.raises(PredictionMergeError, match=r"duplicated \[2\] \(1\)"):
        merge_rank_files(tmp_path, 4)


def test_check_indices_reports_out_of_range() -> None:
    with pytest.raises(PredictionMergeError, match=r"out of range \[7\]"):
        check_indices(np.array([0, 1, 7]), 2)


def test_merge_without_files_fails(tmp_path: Path) -> None:
    with pytest.raises(PredictionMergeError, match="no prediction files"):
        merge_rank_files(tmp_path, 3)


@pytest.fixture
def tiny_checkpoint(tmp_path: Path, tiny_dataset: Path) -> Path:
    out = tmp_path / "tiny.ckpt"
    assert main(["train", str(tiny_dataset), "--out", str(out), "--epochs", "1", "--batch-size", "8"]) == 0
    return out


def _infer(dataset: Path, checkpoint: Path, out: Path, *extra: str) -> np.ndarray:
    # N = 16 is outside the BATCH contract's sizes (64, 128, 256), so the guards only log here.
    result = subprocess.run(
        [sys.executable, "-m", "harness", "infer", str(dataset), "--checkpoint", str(checkpoint),
         "--out", str(out), "--guards", "warn", "--batch-size", "5", *extra],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    with np.load(out / "stitched_object.npz", allow_pickle=False) as npz:
        return npz["obj"]


@pytest.mark.slow
def test_ddp_two_processes_match_one(tmp_path: Path, tiny_dataset: Path, tiny_checkpoint: Path) -> None:
    single = _infer(tiny_dataset, tiny_checkpoint, tmp_path / "single")
    # 24 groups in batches of 5 on 2 processes: the last batch of each process is partial.
    distributed = _infer(tiny_dataset, tiny_checkpoint, tmp_path / "ddp", "--devices", "2", "--strategy", "ddp")
    assert not (tmp_path / "ddp" / ".predictions").exists()
    # Same network on the same patterns; only the float32 summation order of the stitching
    # may differ, far below 1e-5 of values of order 1.
    np.testing.assert_allclose(distributed, single, rtol=0, atol=1e-5)


def test_infer_unknown_strategy_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from reference_impl.adapter import DEFAULT_DATASET

    if not DEFAULT_DATASET.is_file():
        pytest.skip("the shipped dataset is missing")
    code = main(["infer", str(DEFAULT_DATASET), "--out", str(tmp_path / "o"), "--strategy", "nonsense"])
    assert code == 2
    assert "invalid strategy name" in capsys.readouterr().err
    assert not (tmp_path / "o" / "stitched_object.npz").exists()
