"""Dataset loading and the inference DataLoader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from harness.adapter import InferenceBatch
from reference_impl.data import DatasetReadError, load_dataset, make_inference_loader


def test_loader_float64_diffraction_batches_float32(tiny_arrays_float64: dict[str, np.ndarray]) -> None:
    assert tiny_arrays_float64["diffraction"].dtype == np.float64
    for batch in make_inference_loader(tiny_arrays_float64, batch_size=5):
        assert batch.diffraction.dtype == torch.float32


def test_loader_keeps_coordinate_dtype(tiny_arrays_float64: dict[str, np.ndarray]) -> None:
    batch = next(iter(make_inference_loader(tiny_arrays_float64, batch_size=5)))
    assert isinstance(batch, InferenceBatch)
    assert batch.xcoords.dtype == torch.float64
    assert batch.ycoords.dtype == torch.float64


def test_loader_channel_first_shape(tiny_arrays_float64: dict[str, np.ndarray]) -> None:
    batch = next(iter(make_inference_loader(tiny_arrays_float64, batch_size=5)))
    assert tuple(batch.diffraction.shape) == (5, 1, 16, 16)


def test_loader_order_deterministic(tiny_arrays_float64: dict[str, np.ndarray]) -> None:
    indices = [batch.indices for batch in make_inference_loader(tiny_arrays_float64, batch_size=7)]
    assert torch.cat(indices).tolist() == list(range(len(tiny_arrays_float64["diffraction"])))
    first = next(iter(make_inference_loader(tiny_arrays_float64, batch_size=7)))
    np.testing.assert_array_equal(first.diffraction[:, 0].numpy(), tiny_arrays_float64["diffraction"][:7].astype(np.float32))


def test_loader_rejects_zero_batch_size(tiny_arrays_float64: dict[str, np.ndarray]) -> None:
    with pytest.raises(ValueError, match="batch_size=0 is invalid"):
        make_inference_loader(tiny_arrays_float64, batch_size=0)


def test_load_dataset_valid_file(tiny_dataset: Path) -> None:
    arrays = load_dataset(tiny_dataset)
    assert arrays["diffraction"].dtype == np.float32
    assert arrays["probeGuess"].dtype == np.complex64


def test_load_dataset_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetReadError, match="not found"):
        load_dataset(tmp_path / "absent.npz")


def test_load_dataset_not_npz(tmp_path: Path) -> None:
    path = tmp_path / "text.npz"
    path.write_text("not a zip")
    with pytest.raises(DatasetReadError, match=r"text\.npz: not a readable NPZ \(zip\) archive"):
        load_dataset(path)


def test_load_dataset_rejects_object_arrays(tmp_path: Path) -> None:
    path = tmp_path / "objects.npz"
    np.savez(path, diffraction=np.array([{"a": 1}], dtype=object))
    with pytest.raises(DatasetReadError, match="object arrays are not allowed"):
        load_dataset(path)


def test_load_dataset_guard_rejects_float64(tmp_path: Path, tiny_arrays_float64: dict[str, np.ndarray]) -> None:
    errors = pytest.importorskip("contracts.errors", reason="the contracts package is needed for the guard")
    path = tmp_path / "float64.npz"
    np.savez(path, **tiny_arrays_float64)
    with pytest.raises(errors.ContractViolationError, match="DATASET-.*float64"):
        load_dataset(path)


def test_load_dataset_empty_file_named(tmp_path: Path) -> None:
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    with pytest.raises(DatasetReadError, match=r"empty\.npz: the file is empty \(0 bytes\)"):
        load_dataset(path)

