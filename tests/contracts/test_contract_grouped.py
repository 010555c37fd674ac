"""GROUPED: grouped patterns, coordinates and neighbour indices."""

from __future__ import annotations

import numpy as np
import pytest

from contracts import check_grouped_arrays
from contracts.grouped import channel_grid_position, make_valid_grouped


def rule_ids(violations) -> list[str]:
    return sorted({v.rule_id for v in violations})


@pytest.mark.parametrize(
    ("channel", "gridsize", "expected"),
    [(0, 1, (0, 0)), (1, 2, (0, 1)), (2, 2, (1, 0)), (5, 3, (1, 2)), (8, 3, (2, 2))],
)
def test_grouped_channel_maps_row_major(channel, gridsize, expected):
    assert channel_grid_position(channel, gridsize) == expected


def test_grouped_valid_without_positions_passes():
    arrays = make_valid_grouped(gridsize=3)
    del arrays["xcoords"], arrays["ycoords"]
    assert check_grouped_arrays(arrays) == []


def test_grouped_yx_axis_order_reported_with_flip():
    arrays = make_valid_grouped()
    arrays["coords_relative"] = arrays["coords_relative"][:, :, ::-1, :].copy()
    arrays["coords_offsets"] = arrays["coords_offsets"][:, :, ::-1, :].copy()
    violations = [v for v in check_grouped_arrays(arrays) if v.rule_id == "GROUPED-010"]
    assert len(violations) == 1
    assert "holds [y, x]" in violations[0].fix


def test_grouped_channels_first_reported_with_transpose():
    arrays = make_valid_grouped(gridsize=2, patch_px=8)
    arrays["diffraction"] = np.ascontiguousarray(np.transpose(arrays["diffraction"], (0, 3, 1, 2)))
    (violation,) = [v for v in check_grouped_arrays(arrays) if v.rule_id == "GROUPED-001"]
    assert "np.transpose(diffraction, (0, 2, 3, 1))" in violation.fix


def test_grouped_gridsize_mismatch_flagged():
    arrays = make_valid_grouped(gridsize=2)
    violations = check_grouped_arrays(arrays, gridsize=3)
    assert rule_ids(violations) == ["GROUPED-001"]
    assert "C = gridsize^2 = 9" in violations[0].expected


def test_grouped_nan_pixel_index_points_at_it():
    arrays = make_valid_grouped()
    arrays["diffraction"][2, 1, 3, 0] = np.nan
    (violation,) = check_grouped_arrays(arrays)
    assert violation.rule_id == "GROUPED-003"
    assert violation.index == (2, 1, 3, 0)
    assert violation.seen.startswith("1 of ")


def test_grouped_accepts_cpu_tensors():
    torch = pytest.importorskip("torch")
    arrays = make_valid_grouped()
    tensors = {key: torch.from_numpy(value) if isinstance(value, np.ndarray) else value for key, value in arrays.items()}
    assert check_grouped_arrays(tensors) == []


def test_grouped_missing_keys_one_violation_each():
    violations = check_grouped_arrays({})
    assert [(v.rule_id, v.key) for v in violations] == [
        ("GROUPED-001", "diffraction"),
        ("GROUPED-004", "coords_offsets"),
        ("GROUPED-005", "coords_relative"),
        ("GROUPED-007", "nn_indices"),
    ]
