"""Train, save, load and infer on float64 input data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from reference_impl.checkpoint import load_checkpoint, save_checkpoint
from reference_impl.data import make_inference_loader
from reference_impl.training import fit_module


def test_training_cycle_float64_input(tmp_path: Path, tiny_arrays_float64: dict[str, np.ndarray]) -> None:
    trainer, result = fit_module(
        tiny_arrays_float64, epochs=2, batch_size=8, seed=0, channels=(4, 8), progress_bar=False
    )
    assert np.isfinite(result.final_loss)
    path = save_checkpoint(trainer, tmp_path / "cycle.ckpt")

    module, info = load_checkpoint(path, expected_patch_size=16)
    assert info.casts == []
    # N = 16 is outside the sizes the BATCH and GROUPED guards accept (64, 128, 256).
    module.guard_mode = "off"
    loader = make_inference_loader(tiny_arrays_float64, batch_size=10, guard_mode="off")
    outputs = [module.predict_step(batch, index) for index, batch in enumerate(loader)]
    patches = torch.cat([output["patches"] for output in outputs])
    assert patches.dtype == torch.complex64
    assert tuple(patches.shape) == (len(tiny_arrays_float64["diffraction"]), 1, 16, 16)
    assert bool(torch.all(torch.isfinite(torch.view_as_real(patches))))
    for output in outputs:
        assert output["dtypes"]["network input"] == "float32"
        assert output["dtypes"]["network output"] == "complex64"
        assert output["dtypes"]["coordinates"] == "float64"
    indices = torch.cat([output["indices"] for output in outputs])
    assert indices.tolist() == list(range(len(indices)))


def test_training_seed_reproducible(tiny_arrays_float64: dict[str, np.ndarray]) -> None:
    runs = [
        fit_module(tiny_arrays_float64, epochs=1, batch_size=8, seed=4, channels=(4, 8), progress_bar=False)[1]
        for _ in range(2)
    ]
    first, second = (run.module.state_dict() for run in runs)
    for name in first:
        torch.testing.assert_close(first[name], second[name], rtol=0, atol=0)
