"""Intensity scale and diffraction normalization read from metadata or estimated."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.cli import main
from reference_impl.training import scale_settings


def test_scale_settings_measured_counts_without_object() -> None:
    rng = np.random.default_rng(0)
    counts = rng.poisson(50.0, (6, 8, 8)).astype(np.float64)
    normalization = 0.25
    probe = np.full((8, 8), 0.5, dtype=np.complex64)
    arrays = {
        "diffraction": (normalization * np.sqrt(counts)).astype(np.float32),
        "probeGuess": probe,
        "metadata_json": np.array(json.dumps({"diffraction_normalization": normalization})),
    }
    scales = scale_settings(arrays)
    nphotons = counts.sum(axis=(1, 2)).mean()
    expected_scale = np.sqrt(nphotons / np.sum(np.abs(probe) ** 2))
    # float32 storage of the diffraction limits agreement to about 1e-7 relative.
    assert scales.intensity_scale == pytest.approx(expected_scale, rel=1e-5)
    assert scales.diffraction_normalization == pytest.approx(normalization * expected_scale, rel=1e-5)
    assert "counts" in scales.source


def test_scale_settings_prefers_metadata() -> None:
    arrays = {"metadata_json": np.array(json.dumps({"intensity_scale": 3.0, "diffraction_normalization": 2.0}))}
    scales = scale_settings(arrays)
    assert scales.intensity_scale == 3.0
    assert scales.diffraction_normalization == 2.0
    assert scales.source == "dataset metadata"


def test_train_rejects_invalid_channels(tmp_path: Path, tiny_dataset: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["train", str(tiny_dataset), "--out", str(tmp_path / "x.ckpt"), "--channels", "4,a"])
    assert code == 2
    assert "--channels '4,a' is invalid" in capsys.readouterr().err


def test_train_rejects_double_precision(tmp_path: Path, tiny_dataset: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["train", str(tiny_dataset), "--out", str(tmp_path / "x.ckpt"), "--precision", "64-true"])
    assert code == 2
    assert "--precision 64-true is invalid" in capsys.readouterr().err
    assert not (tmp_path / "x.ckpt").exists()
