"""Stitching against a float64 reference, its algebraic properties, chunking and memory layouts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from reference_impl.stitching import canvas_geometry, place_patches, stitch_patches

PATCH = 8


def _reference_stitch(
    patches: np.ndarray, xcoords: np.ndarray, ycoords: np.ndarray, weight: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Stitch one patch at a time in float64 with explicit bilinear corner weights.

    Returns the normalized canvas (complex128) and the overlap count (float64) on the canvas
    that ``stitch_patches`` chooses.
    """
    size = patches.shape[-1]
    geometry = canvas_geometry(xcoords, ycoords, size)
    canvas_px = geometry.size_px
    pixel_weight = np.ones((size, size)) if weight is None else weight.astype(np.float64)
    sums = np.zeros((canvas_px, canvas_px), dtype=np.complex128)
    counts = np.zeros((canvas_px, canvas_px))
    for patch, x, y in zip(patches.astype(np.complex128), xcoords, ycoords):
        top = canvas_px / 2 + (y - geometry.centre_y_px) - size / 2
        left = canvas_px / 2 + (x - geometry.centre_x_px) - size / 2
        row0, col0 = int(np.floor(top)), int(np.floor(left))
        row_frac, col_frac = top - row0, left - col0
        for d_row, row_share in ((0, 1 - row_frac), (1, row_frac)):
            for d_col, col_share in ((0, 1 - col_frac), (1, col_frac)):
                rows = slice(row0 + d_row, row0 + d_row + size)
                cols = slice(col0 + d_col, col0 + d_col + size)
                sums[rows, cols] += row_share * col_share * pixel_weight * patch
                counts[rows, cols] += row_share * col_share * pixel_weight
    covered = counts > 1e-6 * counts.max()
    canvas = np.where(covered, sums / np.where(covered, counts, 1.0), 0)
    return canvas, counts


def _random_patches(seed: int, count: int, size: int = PATCH) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(count, size, size)) + 1j * rng.normal(size=(count, size, size))).astype(np.complex64)


def _random_positions(seed: int, count: int, spread: float = 12.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed + 1)
    return rng.uniform(20, 20 + spread, count), rng.uniform(20, 20 + spread, count)


@st.composite
def scans(draw: st.DrawFn, max_patches: int = 16) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    seed = draw(st.integers(0, 2**16))
    count = draw(st.integers(1, max_patches))
    xcoords, ycoords = _random_positions(seed, count)
    return _random_patches(seed, count), xcoords, ycoords


@given(scan=scans(), weighted=st.booleans())
def test_stitch_matches_float64_reference_within_tolerance(
    scan: tuple[np.ndarray, np.ndarray, np.ndarray], weighted: bool
) -> None:
    patches, xcoords, ycoords = scan
    weight = np.linspace(0.1, 1.0, PATCH * PATCH).reshape(PATCH, PATCH) if weighted else None
    stitched = stitch_patches(patches, xcoords, ycoords, weight)
    expected, expected_counts = _reference_stitch(patches, xcoords, ycoords, weight)
    # float32 accumulation of at most 16 unit-scale values per pixel: relative error of a
    # few 1e-7 per term. Division by small counts near the edge amplifies absolute error,
    # so the canvas is compared where the count is at least 1e-3 of its maximum.
    np.testing.assert_allclose(stitched.overlap_count, expected_counts, rtol=1e-5, atol=1e-5)
    well = expected_counts > 1e-3 * expected_counts.max()
    np.testing.assert_allclose(stitched.obj[well], expected[well], rtol=1e-4, atol=1e-4)


@given(
    seed=st.integers(0, 2**16),
    count=st.integers(1, 12),
    shift_x=st.integers(-5, 5),
    shift_y=st.integers(-5, 5),
)
def test_stitch_integer_shift_moves_origin_only(seed: int, count: int, shift_x: int, shift_y: int) -> None:
    patches = _random_patches(seed, count)
    xcoords, ycoords = _random_positions(seed, count)
    before = stitch_patches(patches, xcoords, ycoords)
    after = stitch_patches(patches, xcoords + shift_x, ycoords + shift_y)
    # Shifting every position by whole pixels moves the canvas centre by the same whole
    # pixels, so the canvas content is identical (same float32 operations) and only the
    # origin changes.
    np.testing.assert_array_equal(after.obj, before.obj)
    assert after.origin_x_px == before.origin_x_px + shift_x
    assert after.origin_y_px == before.origin_y_px + shift_y


@given(scan=scans(), scale_a=st.floats(-3, 3), scale_b=st.floats(-3, 3))
def test_stitch_linear_in_patches(scan: tuple[np.ndarray, np.ndarray, np.ndarray], scale_a: float, scale_b: float) -> None:
    patches, xcoords, ycoords = scan
    other = _random_patches(int(abs(scale_a) * 1000) + 7, patches.shape[0])
    combined = stitch_patches(scale_a * patches + scale_b * other, xcoords, ycoords).obj
    separate = scale_a * stitch_patches(patches, xcoords, ycoords).obj + scale_b * stitch_patches(other, xcoords, ycoords).obj
    # Values reach about 3 * 4 sigma * 2 terms. float32 rounding of the sums is near 1e-6
    # relative, so 1e-4 absolute leaves a wide margin.
    np.testing.assert_allclose(combined, separate, rtol=0, atol=1e-4)


@given(
    seed=st.integers(0, 2**16),
    count=st.integers(1, 16),
    value=st.complex_numbers(min_magnitude=0.1, max_magnitude=10, allow_nan=False, allow_infinity=False),
)
def test_stitch_constant_patches_give_constant_canvas(seed: int, count: int, value: complex) -> None:
    xcoords, ycoords = _random_positions(seed, count)
    patches = np.full((count, PATCH, PATCH), value, dtype=np.complex64)
    stitched = stitch_patches(patches, xcoords, ycoords, np.linspace(0.2, 1, PATCH * PATCH).reshape(PATCH, PATCH))
    covered = stitched.overlap_count > 0
    # A weighted mean of equal values is that value; float32 division leaves about 1e-7.
    np.testing.assert_allclose(stitched.obj[covered], np.complex64(value), rtol=1e-5)
    assert np.all(stitched.obj[~covered] == 0)


@given(
    seed=st.integers(0, 2**16),
    count=st.integers(1, 12),
)
def test_stitch_known_object_subpixel_reproduces_covered(seed: int, count: int) -> None:
    from reference_impl.stitching import extract_patches

    rows, cols = np.mgrid[0:48, 0:48].astype(np.float64)
    obj = (1.0 + 0.01 * rows + 1j * (0.5 + 0.02 * cols)).astype(np.complex128)
    rng = np.random.default_rng(seed)
    xcoords = rng.uniform(18, 30, count)
    ycoords = rng.uniform(18, 30, count)
    patches = extract_patches(obj, xcoords, ycoords, PATCH)
    stitched = stitch_patches(patches, xcoords, ycoords)
    # Well covered: a pixel inside the (N + 1)-pixel footprint of every patch that reaches
    # it. The outer ring of a footprint gets one bilinear neighbour only, so it carries the
    # value of a point up to one pixel away.
    inner = np.zeros(stitched.obj.shape, dtype=bool)
    edge = np.zeros_like(inner)
    for x, y in zip(xcoords, ycoords):
        row0 = int(np.floor(y - PATCH / 2 - stitched.origin_y_px))
        col0 = int(np.floor(x - PATCH / 2 - stitched.origin_x_px))
        footprint = np.zeros_like(inner)
        footprint[row0 : row0 + PATCH + 1, col0 : col0 + PATCH + 1] = True
        footprint[row0 + 1 : row0 + PATCH, col0 + 1 : col0 + PATCH] = False
        edge |= footprint
        inner[row0 + 1 : row0 + PATCH, col0 + 1 : col0 + PATCH] = True
    well = inner & ~edge
    rows_canvas, cols_canvas = np.nonzero(well)
    truth = obj[rows_canvas + int(stitched.origin_y_px), cols_canvas + int(stitched.origin_x_px)]
    # Real and imaginary parts are linear in x and y, so bilinear extraction and splatting reproduce them
    # up to float32 rounding (values of order 1) on well-covered pixels.
    np.testing.assert_allclose(stitched.obj[well], truth, rtol=0, atol=1e-5)


def test_stitch_chunked_equals_single_pass() -> None:
    patches = _random_patches(3, 50)
    xcoords, ycoords = _random_positions(3, 50)
    whole = stitch_patches(patches, xcoords, ycoords)
    # A budget of one byte forces chunks of one patch.
    chunked = stitch_patches(patches, xcoords, ycoords, memory_budget_bytes=1)
    # Same footprints, added in the same order, only in more index_add_ calls.
    np.testing.assert_allclose(chunked.obj, whole.obj, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(chunked.overlap_count, whole.overlap_count)


def test_stitch_unusual_layouts_match_native() -> None:
    patches = _random_patches(11, 20)
    xcoords, ycoords = _random_positions(11, 20)
    native = stitch_patches(patches, xcoords, ycoords)
    variants = {
        "big-endian": (patches.astype(">c8"), xcoords.astype(">f8"), ycoords.astype(">f8")),
        "fortran order": (np.asfortranarray(patches), xcoords, ycoords),
        "negative strides": (patches[::-1][::-1], xcoords[::-1][::-1], ycoords[::-1][::-1]),
        "non-contiguous": (np.repeat(patches, 2, axis=0)[::2], np.repeat(xcoords, 2)[::2], np.repeat(ycoords, 2)[::2]),
        "torch tensor": (torch.from_numpy(patches), xcoords, ycoords),
    }
    flipped = patches[:, ::-1, ::-1]
    assert flipped.strides[1] < 0
    variants["negative strides"] = (np.ascontiguousarray(flipped)[:, ::-1, ::-1], xcoords, ycoords)
    for name, (values, xs, ys) in variants.items():
        stitched = stitch_patches(values, xs, ys)
        np.testing.assert_array_equal(stitched.obj, native.obj, err_msg=name)
        np.testing.assert_array_equal(stitched.overlap_count, native.overlap_count, err_msg=name)


def test_stitch_grouped_patches_place_each_channel() -> None:
    patches = _random_patches(5, 12).reshape(3, 4, PATCH, PATCH)
    xcoords, ycoords = _random_positions(5, 12)
    grouped = stitch_patches(patches, xcoords.reshape(3, 4), ycoords.reshape(3, 4))
    flat = stitch_patches(patches.reshape(12, PATCH, PATCH), xcoords, ycoords)
    np.testing.assert_array_equal(grouped.obj, flat.obj)


def test_canvas_covers_twice_max_offset_centred() -> None:
    xcoords = np.array([10.0, 41.5])
    ycoords = np.array([20.0, 23.0])
    geometry = canvas_geometry(xcoords, ycoords, PATCH)
    max_offset = max(np.abs(xcoords - geometry.centre_x_px).max(), np.abs(ycoords - geometry.centre_y_px).max())
    assert geometry.size_px >= PATCH + 2 * max_offset
    assert (geometry.size_px - PATCH) % 2 == 0
    midpoint_x = (xcoords.min() + xcoords.max()) / 2
    assert abs(geometry.centre_x_px - midpoint_x) < 1


def test_place_patches_rejects_outside_canvas() -> None:
    patches = torch.zeros(1, PATCH, PATCH, dtype=torch.complex64)
    with pytest.raises(ValueError, match="reaches outside the 10x10 canvas"):
        place_patches(patches, np.array([3.0]), np.array([0.0]), 10)


def test_stitch_rejects_nan_position() -> None:
    with pytest.raises(ValueError, match="must be finite"):
        stitch_patches(_random_patches(0, 2), np.array([20.0, np.nan]), np.array([20.0, 20.0]))


def test_stitch_rejects_zero_budget() -> None:
    with pytest.raises(ValueError, match="memory_budget_bytes=0 is invalid"):
        stitch_patches(_random_patches(0, 2), np.array([20.0, 21.0]), np.array([20.0, 20.0]), memory_budget_bytes=0)
