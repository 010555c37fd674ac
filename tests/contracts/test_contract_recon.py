"""RECON: shift-and-sum stitching, checked against a float64 recomputation."""

from __future__ import annotations

import numpy as np
import pytest

from contracts import check_recon_arrays
from contracts.recon import make_valid_recon, offsets_from_origin, place_patches


def rule_ids(violations) -> list[str]:
    return sorted({v.rule_id for v in violations})


def reference_stitch_arrays(weight: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Stitch random patches with the reference implementation and return its RECON inputs."""
    stitching = pytest.importorskip("reference_impl.stitching")
    rng = np.random.default_rng(7)
    xcoords = 40.0 + rng.uniform(0, 20, 12)
    ycoords = 30.0 + rng.uniform(0, 20, 12)
    patches = (rng.uniform(0.5, 1.0, (12, 16, 16)) * np.exp(1j * rng.uniform(-3, 3, (12, 16, 16)))).astype(np.complex64)
    stitched = stitching.stitch_patches(patches, xcoords, ycoords, weight=weight)
    offsets_x, offsets_y = offsets_from_origin(
        xcoords, ycoords, stitched.origin_x_px, stitched.origin_y_px, stitched.obj.shape
    )
    arrays = {
        "patches": patches,
        "offsets_x_px": offsets_x,
        "offsets_y_px": offsets_y,
        "canvas": stitched.obj,
        "counts": stitched.overlap_count,
        "amplitude": np.abs(stitched.obj).astype(np.float32),
        "phase": np.angle(stitched.obj).astype(np.float32),
    }
    if weight is not None:
        arrays["weight"] = weight
    return arrays


def test_recon_reference_stitcher_passes():
    assert check_recon_arrays(reference_stitch_arrays()) == []


def test_recon_reference_stitcher_with_weight_passes():
    axis = np.arange(16) - 7.5
    weight = np.exp(-(axis[:, None] ** 2 + axis[None, :] ** 2) / 30.0)
    assert check_recon_arrays(reference_stitch_arrays(weight)) == []


def test_recon_plain_averaging_named_in_fix():
    arrays = make_valid_recon()
    sums, _ = place_patches(arrays["patches"], arrays["offsets_x_px"], arrays["offsets_y_px"], arrays["canvas"].shape)
    arrays["canvas"] = (sums / len(arrays["patches"])).astype(np.complex64)
    arrays["amplitude"] = np.abs(arrays["canvas"]).astype(np.float32)
    arrays["phase"] = np.angle(arrays["canvas"]).astype(np.float32)
    (violation,) = check_recon_arrays(arrays)
    assert violation.rule_id == "RECON-004"
    assert "plain averaging" in violation.fix


def test_recon_integer_offsets_place_by_slicing():
    patches = np.ones((1, 4, 4), np.complex64)
    sums, counts = place_patches(patches, np.array([1.0]), np.array([-1.0]), (8, 8))
    expected = np.zeros((8, 8))
    expected[1:5, 3:7] = 1.0
    np.testing.assert_array_equal(counts, expected)
    np.testing.assert_array_equal(sums.real, expected)


def test_recon_nan_amplitude_index_points_at_it():
    arrays = make_valid_recon()
    arrays["amplitude"][3, 4] = np.nan
    (violation,) = check_recon_arrays(arrays)
    assert violation.rule_id == "RECON-007"
    assert violation.index == (3, 4)


def test_recon_missing_inputs_one_violation_each():
    arrays = make_valid_recon()
    del arrays["counts"], arrays["offsets_y_px"]
    assert [(v.rule_id, v.key) for v in check_recon_arrays(arrays)] == [
        ("RECON-001", "offsets_y_px"),
        ("RECON-001", "counts"),
    ]


def test_recon_place_patches_row_subset_matches_full_rows():
    arrays = make_valid_recon(grid_side=4, patch_px=8, step_px=3.0, seed=3)
    shape = arrays["canvas"].shape
    rows = np.array([1, 5, shape[0] - 2])
    full_sums, full_counts = place_patches(arrays["patches"], arrays["offsets_x_px"], arrays["offsets_y_px"], shape)
    sub_sums, sub_counts = place_patches(
        arrays["patches"], arrays["offsets_x_px"], arrays["offsets_y_px"], shape, rows_subset=rows
    )
    np.testing.assert_allclose(sub_sums[rows], full_sums[rows], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sub_counts[rows], full_counts[rows], rtol=1e-12, atol=1e-12)
    others = np.setdiff1d(np.arange(shape[0]), rows)
    assert not sub_counts[others].any()


def test_recon_sampled_guard_flags_plain_averaging():
    from contracts.guards import GuardMode, guard_recon
    from contracts.rules import CATALOGUE

    rule = next(rule for rule in CATALOGUE.values() if rule.family == "RECON" and rule.check.__name__ == "check_normalized_sum")
    broken = rule.violate(make_valid_recon(grid_side=4, patch_px=8, step_px=3.0, seed=3), np.random.default_rng(0))
    record = guard_recon(broken, stage="stitched object", mode=GuardMode.WARN, sample_rows=4)
    assert rule.id in {violation.rule_id for violation in record.violations}


def test_recon_sampled_guard_passes_valid_stitching():
    from contracts.guards import GuardMode, guard_recon

    record = guard_recon(make_valid_recon(grid_side=4, seed=5), stage="stitched object", mode=GuardMode.RAISE, sample_rows=4)
    assert record.violations == ()
