"""Malformed and unusual input files: each gets its exact verdict from the CLI, never a traceback.

Every case builds its file in a temporary folder and runs ``ptycho-harness validate`` in a
subprocess with a limited address space and a timeout. A file that makes the reader
allocate its declared size, or hang, so fails the test instead of the machine.
"""

from __future__ import annotations

import bz2
import gzip
import os
import resource
import subprocess
import sys
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest
from contract_files import npy_bytes, raw_npy, save_npz, write_members

from contracts.dataset import make_valid_dataset
from contracts.product.layout import make_valid_product, write_layout

# The validating process may reserve at most this much address space.
ADDRESS_SPACE_LIMIT_BYTES = 2 * 2**30
TIMEOUT_S = 60


@dataclass(frozen=True)
class Case:
    """One corpus file: how to build it, the exit status and a text the output must contain."""

    name: str
    build: Callable[[Path], Path]
    exit_status: int
    expected: str


def dataset_with(**changes: object) -> dict[str, np.ndarray]:
    arrays = make_valid_dataset(n_positions=6, patch_px=8)
    for key, value in changes.items():
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value  # type: ignore[assignment]
    return arrays


def npz(arrays_factory: Callable[[], dict[str, np.ndarray]], compressed: bool = False) -> Callable[[Path], Path]:
    return lambda folder: save_npz(folder / "case.npz", arrays_factory(), compressed)


def raw_bytes(content: bytes, name: str = "case.npz") -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(content)
        return path

    return build


def members(content: Callable[[], dict[str, bytes]]) -> Callable[[Path], Path]:
    return lambda folder: write_members(folder / "case.npz", content())


def valid_members() -> dict[str, bytes]:
    return {f"{key}.npy": npy_bytes(value) for key, value in make_valid_dataset(n_positions=6, patch_px=8).items()}


def truncated(compressed: bool) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        path = save_npz(folder / "whole.npz", make_valid_dataset(n_positions=40, patch_px=16), compressed)
        data = path.read_bytes()
        cut = folder / "case.npz"
        cut.write_bytes(data[: len(data) // 2])
        return cut

    return build


def with_nan_at(index: tuple[int, int, int], transform: Callable[[np.ndarray], np.ndarray]) -> Callable[[], dict]:
    def arrays() -> dict[str, np.ndarray]:
        values = make_valid_dataset(n_positions=6, patch_px=8)
        diffraction = values["diffraction"].copy()
        diffraction[index] = np.nan
        values["diffraction"] = transform(diffraction)
        return values

    return arrays


def reversed_view(array: np.ndarray) -> np.ndarray:
    """Return the same values as a view with a negative stride on the pattern axis."""
    flipped = np.ascontiguousarray(array[::-1])[::-1]
    assert flipped.strides[0] < 0
    return flipped


def object_array() -> np.ndarray:
    notes = np.empty(2, dtype=object)
    notes[0], notes[1] = {"energy_keV": 8.8}, [1, 2]
    return notes


def product(change: Callable[[h5py.File], None] | None = None, **layout_changes) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        layout = make_valid_product()
        for name in layout_changes.get("drop", ()):
            layout = layout.without_attribute(name)
        for name, value in layout_changes.get("set", {}).items():
            layout = layout.with_attribute(name, value)
        path = folder / "case.h5"
        write_layout(layout, path)
        if change is not None:
            with h5py.File(path, "a") as handle:
                change(handle)
        return path

    return build


def dangling_link(handle: h5py.File) -> None:
    del handle["probe"]
    handle["probe"] = h5py.ExternalLink("missing.h5", "/probe")


def bytes_name(handle: h5py.File) -> None:
    handle.attrs["name"] = np.bytes_("W250 scan")


def cxi_patterns_only(folder: Path) -> Path:
    path = folder / "case.cxi"
    with h5py.File(path, "w") as handle:
        handle["cxi_version"] = 150
        handle["entry_1/data_1/data"] = np.ones((2, 8, 8), np.int32)
    return path


def huge_declared_shape() -> dict[str, bytes]:
    content = valid_members()
    content["diffraction.npy"] = raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000, 1000), }", b"\0" * 64)
    return content


def corrupt_header() -> dict[str, bytes]:
    content = valid_members()
    content["probeGuess.npy"] = raw_npy("{'descr': '<c8', 'fortran_order': False, 'shape': (8, 8), ", b"\0" * 512)
    return content


def header_missing_key() -> dict[str, bytes]:
    content = valid_members()
    content["xcoords.npy"] = raw_npy("{'descr': '<f8', 'shape': (6,), }", b"\0" * 48)
    return content


def unsupported_version() -> dict[str, bytes]:
    content = valid_members()
    content["ycoords.npy"] = raw_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (6,), }", b"\0" * 48, (9, 0))
    return content


def huge_header_length() -> dict[str, bytes]:
    content = valid_members()
    content["ycoords.npy"] = b"\x93NUMPY\x02\x00" + (2**31).to_bytes(4, "little") + b"{}"
    return content


def duplicate_key(folder: Path) -> Path:
    path = folder / "case.npz"
    content = valid_members()
    with zipfile.ZipFile(path, "w") as archive, warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Duplicate name", UserWarning)
        for name, data in content.items():
            archive.writestr(name, data)
        archive.writestr("xcoords.npy", content["xcoords.npy"])
    return path


def bare_npy(folder: Path) -> Path:
    path = folder / "case.npy"
    np.save(path, np.ones((2, 2, 8, 8), np.uint16))
    return path


def directory(folder: Path) -> Path:
    path = folder / "case.npz"
    path.mkdir()
    return path


def structured_with_object() -> np.ndarray:
    values = np.zeros(2, dtype=[("a", "f4"), ("b", "O")])
    values["b"] = [1, "x"]
    return values


CASES = [
    Case("zero-byte file", raw_bytes(b""), 2, "the file is empty"),
    Case("not a zip", raw_bytes(b"just some text\n" * 10), 2, "not a readable NPZ"),
    Case("truncated zip", truncated(False), 2, "truncated"),
    Case("truncated compressed zip", truncated(True), 2, "truncated"),
    Case("corrupt npy header", members(corrupt_header), 2, "header is corrupt"),
    Case("npy header without fortran_order", members(header_missing_key), 2, "expected a dict with keys descr"),
    Case("unsupported npy version", members(unsupported_version), 2, "unsupported .npy format version 9.0"),
    Case("npy header length of 2 GiB", members(huge_header_length), 2, "the header is corrupt"),
    Case("declared 1e12 elements in a tiny file", members(huge_declared_shape), 2, "declares shape (1000000, 1000, 1000)"),
    Case("two members for one key", duplicate_key, 2, "two members contain the array 'xcoords'"),
    Case("pickled object array", npz(lambda: dataset_with(notes=object_array())), 1, "DATASET-002"),
    Case("structured dtype with object field", npz(lambda: dataset_with(table=structured_with_object())), 1, "DATASET-002"),
    Case("NaN in diffraction", npz(with_nan_at((2, 3, 5), lambda a: a)), 1, "diffraction[2, 3, 5]"),
    Case("Inf in coordinates", npz(lambda: dataset_with(xcoords=np.array([np.inf, 5, 6, 7, 8, 9.0]))), 1, "DATASET-015"),
    Case("negative amplitudes", npz(lambda: dataset_with(diffraction=-np.ones((6, 8, 8), np.float32))), 1, "DATASET-006"),
    Case("intensities in place of amplitudes",
         npz(lambda: dataset_with(diffraction=np.full((6, 8, 8), 7, np.float32))), 1, "DATASET-008"),
    Case("empty arrays, n = 0",
         npz(lambda: dataset_with(diffraction=np.zeros((0, 8, 8), np.float32), xcoords=np.zeros(0), ycoords=np.zeros(0),
                                  Y=None, scan_index=None)), 1, "DATASET-003"),
    Case("mismatched lengths", npz(lambda: dataset_with(ycoords=np.full(5, 8.0))), 1, "DATASET-026"),
    Case("0-d coordinate", npz(lambda: dataset_with(xcoords=np.array(8.0))), 1, "DATASET-013"),
    Case("big-endian arrays accepted",
         npz(lambda: {k: v.astype(v.dtype.newbyteorder(">")) if v.dtype.kind in "fc" else v
                      for k, v in make_valid_dataset(n_positions=6, patch_px=8).items()}), 0, "1 clean"),
    Case("big-endian NaN read at its index", npz(with_nan_at((1, 2, 3), lambda a: a.astype(">f4"))), 1,
         "diffraction[1, 2, 3]"),
    Case("Fortran-ordered arrays accepted",
         npz(lambda: {k: np.asfortranarray(v) for k, v in make_valid_dataset(n_positions=6, patch_px=8).items()}), 0,
         "1 clean"),
    Case("Fortran-ordered NaN read at its index", npz(with_nan_at((4, 1, 6), np.asfortranarray)), 1,
         "diffraction[4, 1, 6]"),
    Case("Fortran-ordered compressed NaN read at its index", npz(with_nan_at((5, 7, 0), np.asfortranarray), True), 1,
         "diffraction[5, 7, 0]"),
    Case("negative strides saved from a reversed view", npz(with_nan_at((0, 4, 2), reversed_view)), 1,
         "diffraction[0, 4, 2]"),
    Case("compressed valid dataset", npz(lambda: make_valid_dataset(n_positions=6, patch_px=8), True), 0, "1 clean"),
    Case("extra non-array member skipped",
         members(lambda: {**valid_members(), "README.txt": b"notes"}), 0, "1 clean"),
    Case("file not found", lambda folder: folder / "absent.npz", 2, "file not found"),
    Case("directory", directory, 2, "is a directory"),
    Case("bare npy array", bare_npy, 2, "not an NPZ dataset: a bare .npy array (uint16, shape (2, 2, 8, 8))"),
    Case("MATLAB MAT-file", raw_bytes(b"MATLAB 5.0 MAT-file, Platform: GLNXA64" + b"\0" * 200, "case.mat"), 2,
         "MATLAB 5.0 MAT-file, which is not supported"),
    Case("bzip2-compressed NPZ", raw_bytes(bz2.compress(b"PK\x03\x04" + b"\0" * 100), "case.npz.bz2"), 2,
         "bzip2-compressed file"),
    Case("gzip-compressed NPZ", raw_bytes(gzip.compress(b"PK\x03\x04" + b"\0" * 100), "case.npz.gz"), 2,
         "gzip-compressed file"),
    Case("HDF5 product missing attributes", product(drop=("name", "probe_energy_eV")), 1, "PRODUCT-003"),
    Case("HDF5 attribute of the wrong type", product(set={"probe_energy_eV": "10000"}), 1, "PRODUCT-005"),
    Case("HDF5 bytes where str is expected", product(bytes_name), 0, "1 clean"),
    Case("HDF5 non-UTF-8 bytes attribute", product(set={"name": np.bytes_(b"\xff\xfe")}), 1, "PRODUCT-004"),
    Case("HDF5 dangling external link", product(dangling_link), 1, "PRODUCT-001"),
    Case("HDF5 truncated", lambda folder: _truncate(product()(folder)), 2, "truncated"),
    Case("CXI patterns without translations", cxi_patterns_only, 2, "a CXI file with diffraction patterns but no sample translations"),
]


def _truncate(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    return path


def _limit_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT_BYTES, ADDRESS_SPACE_LIMIT_BYTES))


def run_validate(path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "harness", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        preexec_fn=_limit_address_space,
        env=env,
    )


def test_corpus_has_at_least_thirty_cases():
    assert len(CASES) >= 30
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_corpus_file_gets_exact_verdict(case, tmp_path):
    path = case.build(tmp_path)
    result = run_validate(path)
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert result.returncode == case.exit_status, output
    assert case.expected in output, output
