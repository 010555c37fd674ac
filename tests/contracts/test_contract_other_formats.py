"""Formats without a contract: each is an input error whose message and fix match the spec's section 1.3."""

from __future__ import annotations

import bz2
import gzip
import inspect
import io
import lzma
import re
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

import h5py
import numpy as np
import pytest
from convert_files import write_cxi
from test_convert_product import write_cxi_product, write_npz_product

import contracts.validate
from contracts import validate_file
from contracts.convert import cxi
from contracts.dataset import make_valid_dataset
from contracts.errors import InputError


def spec_section_1_3() -> str:
    text = files("contracts").joinpath("specs/data_contracts.md").read_text(encoding="utf-8")
    start = text.index("### 1.3 How files are read")
    return text[start : text.index("### 1.4", start)]


def npz_bytes() -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **make_valid_dataset(n_positions=2, patch_px=8))
    return buffer.getvalue()


def write_bytes(name: str, content: Callable[[], bytes]) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(content())
        return path

    return build


def write_npy(folder: Path) -> Path:
    path = folder / "patterns.npy"
    np.save(path, np.zeros((2, 2, 16, 16), dtype=np.uint16))
    return path


def write_named_near_field_cxi(folder: Path) -> Path:
    path = folder / "near.cxi"
    with h5py.File(path, "w") as handle:
        handle["cxi_version"] = 150
        handle["entry_1/instrument_1/detector_1/data"] = np.ones((2, 8, 8), np.int32)
        handle["entry_1/experiment_description"] = "near-field holography scan"
    return path


def write_cxi_patterns_only(folder: Path) -> Path:
    path = folder / "patterns.cxi"
    with h5py.File(path, "w") as handle:
        handle["cxi_version"] = 160
        handle["entry_1/instrument_1/detector_1/data"] = np.ones((2, 8, 8), np.int32)
    return path


# (input, builder, phrase of the message, phrase of the fix); each phrase is also in the spec table.
FORMATS = [
    ("bare .npy", write_npy, "not an NPZ dataset: a bare .npy array", "np.savez(OUT, diffraction=..."),
    (
        "MAT-file",
        write_bytes("scan.mat", lambda: b"MATLAB 5.0 MAT-file, Platform: GLNXA64".ljust(128, b" ")),
        "MAT-file, which is not supported",
        "scipy.io.loadmat",
    ),
    (
        "bzip2",
        write_bytes("scan.npz.bz2", lambda: bz2.compress(npz_bytes())),
        "a bzip2-compressed file; validate reads uncompressed NPZ and HDF5 files",
        "`ptycho-harness convert IN OUT`",
    ),
    ("gzip", write_bytes("scan.npz.gz", lambda: gzip.compress(npz_bytes())), "a gzip-compressed file", "gunzip -k IN"),
    ("xz", write_bytes("scan.npz.xz", lambda: lzma.compress(npz_bytes())), "a xz-compressed file", "xz -dk IN"),
    ("near-field CXI", write_named_near_field_cxi, "near-field", "near-field data cannot be converted"),
    (
        "far-field CXI",
        lambda folder: write_cxi(folder / "scan.cxi"),
        "a CXI file, not a product file or NPZ dataset",
        "`ptycho-harness convert IN OUT --from cxi`",
    ),
    (
        "CXI patterns only",
        write_cxi_patterns_only,
        "a CXI file with diffraction patterns but no sample translations",
        "entry_1/sample_1/geometry_1/translation",
    ),
    (
        "CXI product",
        lambda folder: write_cxi_product(folder / "product.cxi")[0],
        "a CXI product",
        "`ptycho-harness convert IN OUT --from product`",
    ),
    (
        "NPZ product",
        lambda folder: write_npz_product(folder / "product.npz")[0],
        "a Ptychodus NPZ product",
        "`ptycho-harness convert IN OUT --from product`",
    ),
]


@pytest.mark.parametrize(("name", "build", "message", "fix"), FORMATS, ids=[row[0] for row in FORMATS])
def test_other_format_rejected_with_fix(tmp_path, name, build, message, fix):
    path = build(tmp_path)
    with pytest.raises(InputError, match=re.escape(message)) as raised:
        validate_file(path)
    assert fix in str(raised.value)


@pytest.mark.parametrize(("name", "build", "message", "fix"), FORMATS, ids=[row[0] for row in FORMATS])
def test_other_format_listed_in_spec(name, build, message, fix):
    section = spec_section_1_3()
    assert message in section, name
    assert fix in section, name


def test_other_format_npz_product_checked_when_contract_forced(tmp_path):
    path, _ = write_npz_product(tmp_path / "product.npz")
    report = validate_file(path, contract="dataset")
    assert report.family == "DATASET"
    assert not report.ok


def test_validate_uses_public_cxi_names():
    source = inspect.getsource(contracts.validate)
    assert re.findall(r"cxi\._\w+", source) == []


def test_cxi_geometry_verdict_three_outcomes(tmp_path):
    geometry = {
        "wavelength_m": 1e-10,
        "detector_distance_m": 2.0,
        "detector_pixel_size_x_m": 1e-4,
        "detector_pixel_size_y_m": 1e-4,
    }
    # The far-field window is 1e-10 * 2 / 1e-4 = 2 um, so a step of 0.2 um is far-field and 1.5 um is not.
    near = cxi.geometry_verdict(tmp_path, np.array([[0.0, 0.0], [1.5e-6, 0.0]]), geometry)
    far = cxi.geometry_verdict(tmp_path, np.array([[0.0, 0.0], [2e-7, 0.0]]), geometry)
    unknown = cxi.geometry_verdict(tmp_path, np.array([[0.0, 0.0], [2e-7, 0.0]]), {**geometry, "wavelength_m": None})
    assert near.near_field is True
    assert "0.75 of the far-field window" in near.message
    assert far.near_field is False
    assert "0.10 of the far-field window" in far.message
    assert unknown.near_field is None
    assert "the near-field check did not run" in unknown.message
