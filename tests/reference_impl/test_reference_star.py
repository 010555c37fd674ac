"""The measured Siemens-star scan: conversion, training and the shipped N = 128 checkpoint.

The scan has 516 patterns of 128 x 128 pixels from an APS beamline, distributed with tike.
The tests read it from the data folder beside the repository and skip when it is absent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.cli import main

REPO_ROOT = Path(__file__).resolve().parents[2]
STAR_SOURCE = REPO_ROOT.parent / "shared" / "data" / "real" / "tike" / "siemens-star-small.npz.bz2"
STAR_CHECKPOINT = REPO_ROOT / "reference_impl" / "data" / "siemens_star_n128.ckpt"
# Radius of the circle on which the phase is sampled, in canvas pixels: inside the scanned
# square (about 360 pixels wide) and outside the blurred star centre.
SPOKE_RADIUS_PX = 90


@pytest.fixture(scope="module")
def star_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not STAR_SOURCE.is_file():
        pytest.skip(f"the measured scan {STAR_SOURCE} is not available")
    out = tmp_path_factory.mktemp("star") / "star.npz"
    assert main(["convert", str(STAR_SOURCE), str(out), "--from", "tike"]) == 0
    return out


def _spoke_contrast(obj: np.ndarray, overlap_count: np.ndarray) -> tuple[int, float]:
    """Return the strongest angular harmonic (10 to 200) of the phase on a circle, and its
    amplitude over the median amplitude of those harmonics."""
    rows, cols = np.nonzero(overlap_count > 0.5 * overlap_count.max())
    centre_row, centre_col = rows.mean(), cols.mean()
    angles = np.linspace(0, 2 * np.pi, 2048, endpoint=False)
    sample_rows = np.round(centre_row + SPOKE_RADIUS_PX * np.sin(angles)).astype(int)
    sample_cols = np.round(centre_col + SPOKE_RADIUS_PX * np.cos(angles)).astype(int)
    phase = np.angle(obj[sample_rows, sample_cols])
    phase = np.angle(np.exp(1j * (phase - np.angle(np.mean(np.exp(1j * phase))))))
    spectrum = np.abs(np.fft.rfft(phase - phase.mean()))[10:200]
    strongest = int(np.argmax(spectrum))
    return strongest + 10, float(spectrum[strongest] / np.median(spectrum))


@pytest.mark.slow
def test_star_checkpoint_shows_spokes(tmp_path: Path, star_dataset: Path) -> None:
    out = tmp_path / "star_inference"
    assert main(["infer", str(star_dataset), "--checkpoint", str(STAR_CHECKPOINT), "--out", str(out)]) == 0
    with np.load(out / "stitched_object.npz", allow_pickle=False) as npz:
        obj = npz["obj"]
        overlap_count = npz["overlap_count"]
    harmonic, contrast = _spoke_contrast(obj, overlap_count)
    # The shipped checkpoint measured a contrast of about 47 at harmonic 25 (the spokes,
    # smeared by the estimated centre). A phase without spokes has no dominant harmonic, so
    # contrast stays near 1 to 5.
    assert 15 <= harmonic <= 40
    assert contrast > 10


@pytest.mark.slow
def test_star_train_one_epoch(tmp_path: Path, star_dataset: Path) -> None:
    checkpoint = tmp_path / "star.ckpt"
    code = main([
        "train", str(star_dataset), "--out", str(checkpoint),
        "--epochs", "1", "--batch-size", "16", "--channels", "4,8,16",
    ])
    assert code == 0
    assert checkpoint.stat().st_size > 0
