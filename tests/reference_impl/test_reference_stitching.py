"""Bilinear patch extraction and shift-and-sum stitching."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reference_impl.stitching import extract_patches, stitch_patches

PATCH = 8


def _random_object(seed: int, rows: int = 40, cols: int = 44) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(rows, cols)) + 1j * rng.normal(size=(rows, cols))).astype(np.complex64)


def _smooth_object(rows: int = 48, cols: int = 48) -> np.ndarray:
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float64)
    amplitude = 1.0 + 0.2 * np.sin(x / 7.0) * np.cos(y / 9.0)
    phase = 0.5 * np.sin(x / 11.0 + y / 13.0)
    return (amplitude * np.exp(1j * phase)).astype(np.complex128)


@st.composite
def integer_scans(draw: st.DrawFn) -> tuple[int, np.ndarray, np.ndarray]:
    seed = draw(st.integers(0, 2**16))
    n = draw(st.integers(1, 12))
    xs = draw(st.lists(st.integers(PATCH // 2, 44 - PATCH // 2), min_size=n, max_size=n))
    ys = draw(st.lists(st.integers(PATCH // 2, 40 - PATCH // 2), min_size=n, max_size=n))
    return seed, np.array(xs, dtype=np.float64), np.array(ys, dtype=np.float64)


@given(scan=integer_scans())
def test_extract_integer_positions_equal_slicing(scan: tuple[int, np.ndarray, np.ndarray]) -> None:
    seed, xs, ys = scan
    obj = _random_object(seed)
    patches = extract_patches(obj, xs, ys, PATCH)
    for patch, x, y in zip(patches, xs.astype(int), ys.astype(int)):
        expected = obj[y - PATCH // 2 : y + PATCH // 2, x - PATCH // 2 : x + PATCH // 2]
        np.testing.assert_array_equal(patch, expected)


def test_extract_half_pixel_averages_neighbours() -> None:
    obj = _random_object(0)
    patch = extract_patches(obj, np.array([20.5]), np.array([20.0]), PATCH)[0]
    expected = 0.5 * (obj[16:24, 16:24] + obj[16:24, 17:25])
    np.testing.assert_allclose(patch, expected, rtol=1e-6, atol=1e-6)


def test_extract_rejects_outside_object() -> None:
    obj = _random_object(0)
    with pytest.raises(ValueError, match=r"xcoords\[1\]=42.000 puts a 8-pixel patch outside"):
        extract_patches(obj, np.array([10.0, 42.0]), np.array([10.0, 10.0]), PATCH)


@given(scan=integer_scans())
def test_stitch_known_object_reproduces_on_covered(scan: tuple[int, np.ndarray, np.ndarray]) -> None:
    seed, xs, ys = scan
    obj = _random_object(seed)
    stitched = stitch_patches(extract_patches(obj, xs, ys, PATCH), xs, ys)
    covered = stitched.overlap_count > 0.5
    rows, cols = np.nonzero(covered)
    truth = obj[rows + int(stitched.origin_y_px), cols + int(stitched.origin_x_px)]
    assert covered.sum() >= PATCH * PATCH
    np.testing.assert_allclose(stitched.obj[covered], truth, rtol=1e-5, atol=1e-5)


@given(seed=st.integers(0, 2**16), n=st.integers(30, 60))
def test_stitch_subpixel_smooth_object_reproduces(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    xs = rng.uniform(14, 34, size=n)
    ys = rng.uniform(14, 34, size=n)
    obj = _smooth_object()
    stitched = stitch_patches(extract_patches(obj, xs, ys, PATCH), xs, ys)
    well_covered = stitched.overlap_count > 0.5 * stitched.overlap_count.max()
    rows, cols = np.nonzero(well_covered)
    truth = obj[rows + int(stitched.origin_y_px), cols + int(stitched.origin_x_px)]
    # Bilinear extraction followed by its adjoint smooths by at most one pixel; the
    # object varies by about 0.03 per pixel.
    np.testing.assert_allclose(stitched.obj[well_covered], truth, atol=0.05)


@given(scan=integer_scans(), order_seed=st.integers(0, 2**16), shift=st.floats(0, 0.99))
def test_stitch_independent_of_patch_order(
    scan: tuple[int, np.ndarray, np.ndarray], order_seed: int, shift: float
) -> None:
    seed, xs, ys = scan
    xs = np.minimum(xs + shift, 44 - PATCH // 2 - 1)
    rng = np.random.default_rng(order_seed)
    patches = extract_patches(_random_object(seed), xs, ys, PATCH)
    order = rng.permutation(len(xs))
    first = stitch_patches(patches, xs, ys)
    second = stitch_patches(patches[order], xs[order], ys[order])
    assert (first.origin_x_px, first.origin_y_px) == (second.origin_x_px, second.origin_y_px)
    np.testing.assert_allclose(second.overlap_count, first.overlap_count, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(second.obj, first.obj, rtol=1e-4, atol=1e-4)


def test_stitch_normalizes_by_overlap_not_count_of_patches() -> None:
    ones = np.ones((2, PATCH, PATCH), dtype=np.complex64)
    patches = np.stack([ones[0] * 2, ones[1] * 4])
    stitched = stitch_patches(patches, np.array([10.0, 14.0]), np.array([10.0, 10.0]))
    values = stitched.obj[stitched.overlap_count > 0]
    counts = stitched.overlap_count[stitched.overlap_count > 0]
    np.testing.assert_allclose(values[counts == 2], 3.0)
    assert set(np.round(values[counts == 1].real).tolist()) == {2.0, 4.0}


def test_stitch_canvas_covers_offsets() -> None:
    xs = np.array([10.0, 30.5, 21.25])
    ys = np.array([12.0, 12.0, 33.75])
    stitched = stitch_patches(np.ones((3, PATCH, PATCH), dtype=np.complex64), xs, ys)
    centre_x = np.floor((xs.min() + xs.max()) / 2)
    centre_y = np.floor((ys.min() + ys.max()) / 2)
    max_offset = max(np.abs(xs - centre_x).max(), np.abs(ys - centre_y).max())
    assert stitched.obj.shape[0] >= PATCH + 2 * max_offset
    assert stitched.obj.dtype == np.complex64
    assert stitched.overlap_count.dtype == np.float32
    np.testing.assert_allclose(stitched.overlap_count.sum(), 3 * PATCH * PATCH, rtol=1e-5)


def test_stitch_weight_scales_count() -> None:
    weight = np.full((PATCH, PATCH), 0.25, dtype=np.float32)
    stitched = stitch_patches(np.ones((1, PATCH, PATCH), dtype=np.complex64), [10.0], [10.0], weight=weight)
    np.testing.assert_allclose(stitched.overlap_count.max(), 0.25)
    np.testing.assert_allclose(stitched.obj[stitched.overlap_count > 0], 1.0)


def test_stitch_rejects_mismatched_coordinates() -> None:
    with pytest.raises(ValueError, match="2 patches but 1 xcoords"):
        stitch_patches(np.ones((2, PATCH, PATCH), dtype=np.complex64), [10.0], [10.0, 11.0])


def test_stitch_rejects_negative_weight() -> None:
    with pytest.raises(ValueError, match="finite and non-negative"):
        stitch_patches(np.ones((1, PATCH, PATCH), dtype=np.complex64), [10.0], [10.0], weight=-np.ones((PATCH, PATCH)))
