"""Reconstruction quality against the true object, and the pictures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.adapter import StitchedObject
from harness.plots import write_complex_pictures
from harness.quality import QualityInputError, compare_with_truth


def _true_object() -> np.ndarray:
    rows, cols = np.mgrid[0:30, 0:30]
    return ((1 + 0.3 * np.sin(cols / 3.0)) * np.exp(1j * 0.8 * np.cos(rows / 4.0))).astype(np.complex64)


def _stitched(obj: np.ndarray, origin_x: int = 5, origin_y: int = 7) -> StitchedObject:
    canvas = obj[origin_y : origin_y + 20, origin_x : origin_x + 20]
    return StitchedObject(
        obj=canvas.copy(), overlap_count=np.ones(canvas.shape, dtype=np.float32),
        origin_x_px=float(origin_x), origin_y_px=float(origin_y),
    )


def test_quality_exact_reconstruction_zero_errors() -> None:
    truth = _true_object()
    report = compare_with_truth(_stitched(truth), truth)
    assert report.amplitude_error == pytest.approx(0, abs=1e-6)
    assert report.phase_error_rad == pytest.approx(0, abs=1e-5)
    assert report.n_pixels == 400
    assert report.beats_trivial


def test_quality_ignores_global_phase() -> None:
    truth = _true_object()
    rotated = _stitched(truth * np.exp(1j * 2.5).astype(np.complex64))
    assert compare_with_truth(rotated, truth).phase_error_rad == pytest.approx(0, abs=1e-5)


def test_quality_trivial_guess_scores_itself() -> None:
    truth = _true_object()
    stitched = _stitched(truth)
    region = truth[7:27, 5:25]
    guess = StitchedObject(
        obj=np.full(region.shape, np.abs(region).mean(), dtype=np.complex64),
        overlap_count=stitched.overlap_count, origin_x_px=5.0, origin_y_px=7.0,
    )
    report = compare_with_truth(guess, truth)
    assert report.amplitude_error == pytest.approx(report.trivial_amplitude_error, rel=1e-5)
    assert report.phase_error_rad == pytest.approx(report.trivial_phase_error_rad, rel=1e-5)
    assert not report.beats_trivial


def test_quality_uses_well_covered_pixels_only() -> None:
    truth = _true_object()
    stitched = _stitched(truth)
    count = stitched.overlap_count.copy()
    count[:10] = 0.1
    damaged = stitched.obj.copy()
    damaged[:10] = 0
    report = compare_with_truth(
        StitchedObject(damaged, count, stitched.origin_x_px, stitched.origin_y_px), truth
    )
    assert report.n_pixels == 200
    assert report.amplitude_error == pytest.approx(0, abs=1e-6)


def test_quality_rejects_disjoint_frames() -> None:
    truth = _true_object()
    far = StitchedObject(truth, np.ones(truth.shape, dtype=np.float32), 100.0, 100.0)
    with pytest.raises(QualityInputError, match="does not overlap"):
        compare_with_truth(far, truth)


def test_quality_rejects_fraction_out_of_range() -> None:
    truth = _true_object()
    with pytest.raises(QualityInputError, match="min_count_fraction=1.5 is invalid"):
        compare_with_truth(_stitched(truth), truth, min_count_fraction=1.5)


def test_plots_write_both_pictures(tmp_path: Path) -> None:
    amplitude_path, phase_path = write_complex_pictures(_true_object(), tmp_path / "pictures", title="test")
    for path in (amplitude_path, phase_path):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in (tmp_path / "pictures").iterdir()) == ["amplitude.png", "phase.png"]


def test_plots_reject_real_image(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="expected a 2-D complex array"):
        write_complex_pictures(np.ones((4, 4)), tmp_path)
