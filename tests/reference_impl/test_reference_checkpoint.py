"""Checkpoints: weights-only loading, dtype casts, and the patch-size check."""

from __future__ import annotations

from pathlib import Path

import lightning
import numpy as np
import pytest
import torch

from reference_impl.checkpoint import CheckpointError, load_checkpoint
from reference_impl.model import PtychoPINNModule, ShapeMismatchError


def _write_double_checkpoint(path: Path, patch_size: int = 16) -> Path:
    probe = torch.polar(torch.ones(patch_size, patch_size), torch.zeros(patch_size, patch_size))
    module = PtychoPINNModule(patch_size=patch_size, channels=(4, 8), probe=probe)
    state = {
        name: tensor.to(torch.complex128 if tensor.is_complex() else torch.float64)
        for name, tensor in module.state_dict().items()
    }
    torch.save(
        {
            "state_dict": state,
            "hyper_parameters": dict(module.hparams),
            "pytorch-lightning_version": lightning.__version__,
        },
        path,
    )
    return path


def test_checkpoint_float64_casts_recorded(tmp_path: Path) -> None:
    path = _write_double_checkpoint(tmp_path / "double.ckpt")
    module, info = load_checkpoint(path)
    assert info.stored_dtypes["probe"] == "complex128"
    assert info.stored_dtypes["encoder.0.0.weight"] == "float64"
    assert "probe: complex128 -> complex64" in info.casts
    assert "encoder.0.0.weight: float64 -> float32" in info.casts
    assert len(info.casts) == len(info.stored_dtypes)
    assert info.parameter_dtype == "float32"
    assert module.probe.dtype == torch.complex64


def test_checkpoint_float32_no_casts(tmp_path: Path) -> None:
    module = PtychoPINNModule(patch_size=16, channels=(4, 8))
    path = tmp_path / "single.ckpt"
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams)}, path)
    _, info = load_checkpoint(path)
    assert info.casts == []
    assert info.patch_size == 16
    assert info.gridsize == 1


def test_checkpoint_other_patch_size_rejected(tmp_path: Path) -> None:
    path = _write_double_checkpoint(tmp_path / "n16.ckpt")
    with pytest.raises(CheckpointError, match="trained for N=16, but the data has N=64"):
        load_checkpoint(path, expected_patch_size=64)


def test_checkpoint_other_gridsize_rejected(tmp_path: Path) -> None:
    path = _write_double_checkpoint(tmp_path / "g1.ckpt")
    with pytest.raises(CheckpointError, match="trained for gridsize=1, but the data has gridsize=2"):
        load_checkpoint(path, expected_gridsize=2)


def test_checkpoint_rejects_pickled_objects(tmp_path: Path) -> None:
    path = tmp_path / "pickled.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"patch_size": 16}, "payload": np.dtype("float64").type}, path)
    with pytest.raises(CheckpointError, match="weights_only=True"):
        load_checkpoint(path)


def test_checkpoint_not_lightning_rejected(tmp_path: Path) -> None:
    path = tmp_path / "plain.ckpt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="not a Lightning checkpoint"):
        load_checkpoint(path)


def test_checkpoint_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "absent.ckpt")


def test_model_rejects_other_patch_size() -> None:
    module = PtychoPINNModule(patch_size=16, channels=(4, 8))
    with pytest.raises(ShapeMismatchError, match=r"N=32.*built for N=16, gridsize=1"):
        module(torch.zeros(2, 1, 32, 32))


def test_model_rejects_other_gridsize_data() -> None:
    module = PtychoPINNModule(patch_size=16, channels=(4, 8))
    with pytest.raises(ShapeMismatchError, match=r"channels=4.*gridsize=1"):
        module(torch.zeros(2, 4, 16, 16))


def test_model_rejects_unsupported_gridsize() -> None:
    with pytest.raises(ShapeMismatchError, match="gridsize=5 is not supported"):
        PtychoPINNModule(patch_size=16, gridsize=5, channels=(4, 8))


def test_model_gridsize2_maps_four_channels() -> None:
    module = PtychoPINNModule(patch_size=16, gridsize=2, channels=(4, 8))
    patches = module.predict_object(torch.rand(3, 4, 16, 16))
    assert tuple(patches.shape) == (3, 4, 16, 16)
    assert patches.dtype == torch.complex64


def test_model_gridsize2_rejects_one_channel() -> None:
    module = PtychoPINNModule(patch_size=16, gridsize=2, channels=(4, 8))
    with pytest.raises(ShapeMismatchError, match=r"channels=1.*gridsize=2"):
        module(torch.zeros(2, 1, 16, 16))


def test_model_output_ranges() -> None:
    module = PtychoPINNModule(patch_size=16, channels=(4, 8))
    amplitude, phase = module(torch.rand(3, 1, 16, 16) * 5)
    assert amplitude.dtype == torch.float32
    assert bool(torch.all(amplitude >= 0))
    assert bool(torch.all(phase.abs() <= np.pi))
    assert module.predict_object(torch.rand(3, 1, 16, 16)).dtype == torch.complex64


def test_checkpoint_empty_file_named(tmp_path: Path) -> None:
    path = tmp_path / "empty.ckpt"
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"empty\.ckpt is an empty file \(0 bytes\); pass a \.ckpt"):
        load_checkpoint(path)


def test_checkpoint_text_file_not_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "notes.ckpt"
    path.write_text("epochs: 3\n")
    with pytest.raises(CheckpointError, match=r"not a PyTorch/Lightning checkpoint \(zip or pickle archive\)"):
        load_checkpoint(path)


def test_checkpoint_legacy_pickle_format_loads(tmp_path: Path) -> None:
    path = _write_double_checkpoint(tmp_path / "n16.ckpt")
    legacy = tmp_path / "legacy.ckpt"
    torch.save(torch.load(path, weights_only=True), legacy, _use_new_zipfile_serialization=False)
    assert legacy.read_bytes()[:1] == b"\x80"
    _, info = load_checkpoint(legacy)
    assert info.patch_size == 16
