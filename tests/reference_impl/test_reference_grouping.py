"""Scan grouping for gridsize >= 1, grouped loading and the precision of the physics path."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from reference_impl import physics
from reference_impl.data import group_scan, make_inference_loader
from reference_impl.model import PtychoPINNModule, ShapeMismatchError
from reference_impl.training import check_precision, fit_module


def _grid_scan(side: int, step: float = 6.0, jitter: float = 0.3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows, cols = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    xcoords = 30.0 + step * cols.reshape(-1) + rng.uniform(-jitter, jitter, side * side)
    ycoords = 30.0 + step * rows.reshape(-1) + rng.uniform(-jitter, jitter, side * side)
    return xcoords, ycoords


def test_group_scan_gridsize1_identity() -> None:
    xcoords, ycoords = _grid_scan(3)
    groups = group_scan(xcoords, ycoords, 1)
    assert groups.nn_indices.tolist() == [[index] for index in range(9)]
    assert groups.coords_offsets.shape == (9, 1, 2, 1)
    assert groups.coords_relative.shape == (9, 1, 2, 1)
    np.testing.assert_array_equal(groups.coords_offsets[:, 0, 0, 0], xcoords)
    np.testing.assert_array_equal(groups.coords_relative, 0)


def test_group_scan_gridsize2_row_major_neighbours() -> None:
    xcoords, ycoords = _grid_scan(4)
    groups = group_scan(xcoords, ycoords, 2)
    assert groups.nn_indices.shape == (16, 4)
    assert groups.coords_relative.shape == (16, 1, 2, 4)
    # Position 0 is the top-left grid point: its group is the 2 x 2 block at the corner,
    # channel c at (row, col) = (c // 2, c % 2), so indices [0, 1, 4, 5].
    assert groups.nn_indices[0].tolist() == [0, 1, 4, 5]
    for group in range(16):
        assert group in groups.nn_indices[group]
        relative = groups.coords_relative[group, 0]  # ([x, y], C)
        assert relative[0, 1] > relative[0, 0]
        assert relative[0, 3] > relative[0, 2]
        assert relative[1, 2] > relative[1, 0]
        assert relative[1, 3] > relative[1, 1]


@given(seed=st.integers(0, 2**16), gridsize=st.integers(1, 3))
def test_group_scan_relative_plus_offset_is_position(seed: int, gridsize: int) -> None:
    rng = np.random.default_rng(seed)
    xcoords = rng.uniform(0, 100, 20)
    ycoords = rng.uniform(0, 100, 20)
    groups = group_scan(xcoords, ycoords, gridsize)
    positions = np.stack([xcoords[groups.nn_indices], ycoords[groups.nn_indices]], axis=1)  # (B, 2, C)
    # offsets are means of the same float64 positions, so the sum rounds at 1e-13 of 100 px.
    np.testing.assert_allclose(groups.coords_offsets[:, 0] + groups.coords_relative[:, 0], positions, atol=1e-9)
    again = group_scan(xcoords, ycoords, gridsize)
    np.testing.assert_array_equal(again.nn_indices, groups.nn_indices)


def test_group_scan_rejects_too_few_positions() -> None:
    with pytest.raises(ValueError, match="3 scan positions cannot form groups of gridsize\\^2 = 4"):
        group_scan(np.arange(3.0), np.arange(3.0), 2)


def _grid_arrays(side: int = 4, size: int = 16) -> dict[str, np.ndarray]:
    xcoords, ycoords = _grid_scan(side)
    rng = np.random.default_rng(1)
    return {
        "diffraction": rng.uniform(0, 1, (side * side, size, size)).astype(np.float32),
        "xcoords": xcoords,
        "ycoords": ycoords,
    }


def test_loader_gridsize2_batches_four_channels() -> None:
    arrays = _grid_arrays()
    batch = next(iter(make_inference_loader(arrays, 5, gridsize=2, guard_mode="warn")))
    assert tuple(batch.diffraction.shape) == (5, 4, 16, 16)
    assert tuple(batch.xcoords.shape) == (5, 4)
    np.testing.assert_array_equal(batch.diffraction[0, 1].numpy(), arrays["diffraction"][1])
    np.testing.assert_array_equal(batch.xcoords[0].numpy(), arrays["xcoords"][[0, 1, 4, 5]])


def test_loader_unusual_layouts_match_native() -> None:
    arrays = _grid_arrays()
    native = next(iter(make_inference_loader(arrays, 16, gridsize=1, guard_mode="off")))
    variants = {
        "big-endian": {**arrays, "diffraction": arrays["diffraction"].astype(">f4"), "xcoords": arrays["xcoords"].astype(">f8")},
        "fortran order": {**arrays, "diffraction": np.asfortranarray(arrays["diffraction"])},
        "negative strides": {**arrays, "diffraction": np.ascontiguousarray(arrays["diffraction"][:, ::-1])[:, ::-1]},
    }
    for name, changed in variants.items():
        batch = next(iter(make_inference_loader(changed, 16, gridsize=1, guard_mode="off")))
        assert batch.diffraction.dtype == torch.float32, name
        np.testing.assert_array_equal(batch.diffraction.numpy(), native.diffraction.numpy(), err_msg=name)
        np.testing.assert_array_equal(batch.xcoords.numpy(), native.xcoords.numpy(), err_msg=name)


def test_loader_rejects_grouped_diffraction_other_gridsize() -> None:
    arrays = _grid_arrays()
    arrays["diffraction"] = np.stack([arrays["diffraction"]] * 4, axis=1)
    with pytest.raises(ShapeMismatchError, match="4 channels per pattern.*gridsize=1"):
        make_inference_loader(arrays, 5, gridsize=1)


def test_precision_rejects_double_with_reason() -> None:
    with pytest.raises(ValueError, match="--precision 64-true is invalid.*use '32-true'"):
        check_precision("64-true")


def test_precision_rejects_pure_half() -> None:
    with pytest.raises(ValueError, match="--precision bf16-true is invalid"):
        check_precision("bf16-true")


@given(
    dtype=st.sampled_from([torch.bfloat16, torch.float16, torch.float32]),
    size=st.sampled_from([4, 8]),
)
def test_physics_stages_keep_dtypes_under_autocast(dtype: torch.dtype, size: int) -> None:
    amplitude = torch.rand(2, 1, size, size).to(dtype)
    phase = torch.rand(2, 1, size, size).to(dtype)
    probe = torch.ones(size, size, dtype=torch.complex64)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        patches = physics.complex_patch(amplitude, phase)
        predicted = physics.forward_amplitude(probe, patches)
        loss = physics.poisson_nll(predicted, predicted.detach(), 10.0)
    assert patches.dtype == torch.complex64
    assert predicted.dtype == torch.float32
    assert loss.dtype == torch.float32


def test_training_bf16_mixed_keeps_float32_physics(tiny_arrays_float64: dict[str, np.ndarray]) -> None:
    arrays = dict(tiny_arrays_float64)
    arrays["diffraction"] = arrays["diffraction"].astype(np.float32)
    trainer, result = fit_module(
        arrays, epochs=1, batch_size=8, seed=0, channels=(4, 8), progress_bar=False, precision="bf16-mixed",
    )
    assert str(trainer.precision) == "bf16-mixed"
    assert np.isfinite(result.final_loss)
    assert {parameter.dtype for parameter in result.module.parameters()} == {torch.float32}


def test_training_gridsize2_runs(tiny_arrays_float64: dict[str, np.ndarray]) -> None:
    arrays = dict(tiny_arrays_float64)
    arrays["diffraction"] = arrays["diffraction"].astype(np.float32)
    _, result = fit_module(arrays, epochs=1, batch_size=8, seed=0, channels=(4, 8), progress_bar=False, gridsize=2)
    assert result.module.hparams.gridsize == 2
    assert np.isfinite(result.final_loss)


def test_model_gridsize2_from_other_gridsize_checkpoint_data() -> None:
    module = PtychoPINNModule(patch_size=16, gridsize=2, channels=(4, 8))
    arrays = _grid_arrays()
    batch = next(iter(make_inference_loader(arrays, 3, gridsize=1, guard_mode="off")))
    with pytest.raises(ShapeMismatchError, match=r"channels=1.*gridsize=2"):
        module.predict_object(batch.diffraction)


@pytest.mark.parametrize("gridsize", [2, 3])
def test_shipped_scan_groups_pass_grouped_guard(gridsize: int) -> None:
    from reference_impl.adapter import DEFAULT_DATASET
    from reference_impl.data import load_dataset

    if not DEFAULT_DATASET.is_file():
        pytest.skip("the shipped dataset is missing")
    arrays = load_dataset(DEFAULT_DATASET)
    # The scan is irregular (position-corrected), so this checks the lattice grouping
    # against the GROUPED rules, channel order included, in raise mode.
    batches = list(make_inference_loader(arrays, 128, gridsize=gridsize, guard_mode="raise"))
    assert sum(batch.diffraction.shape[0] for batch in batches) == len(arrays["diffraction"])
    assert tuple(batches[0].diffraction.shape[1:]) == (gridsize * gridsize, 64, 64)
