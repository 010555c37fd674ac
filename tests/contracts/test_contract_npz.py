"""Reading NPZ files: headers first, no unpickling, chunked values, plain input errors."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
from contract_files import npy_bytes, raw_npy, write_members

from contracts import InputError, validate_file
from contracts.arrays import compute_stats
from contracts.dataset import make_valid_dataset
from contracts.npz import NpzArchive

UNPICKLED: list[str] = []


def record_unpickle(tag: str) -> str:
    UNPICKLED.append(tag)
    return tag


class UnpickleMarker:
    """Records in UNPICKLED when it is unpickled, so a test can prove pickle never ran."""

    def __reduce__(self):
        return (record_unpickle, ("marker",))


def test_npz_zero_byte_file_is_input_error(tmp_path):
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty \(0 bytes\)"):
        validate_file(path)


def test_npz_missing_file_is_input_error(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        validate_file(tmp_path / "absent.npz")


def test_npz_directory_is_input_error(tmp_path):
    with pytest.raises(InputError, match="is a directory"):
        validate_file(tmp_path)


def test_npz_not_a_zip_is_input_error(tmp_path):
    path = tmp_path / "text.npz"
    path.write_text("diffraction,probeGuess\n1,2\n")
    with pytest.raises(InputError, match="not a readable NPZ"):
        validate_file(path)


@pytest.mark.parametrize("keep_fraction", [0.2, 0.5, 0.95])
def test_npz_truncated_zip_is_input_error(tmp_path, npz_writer, keep_fraction):
    data = npz_writer(make_valid_dataset()).read_bytes()
    path = tmp_path / "cut.npz"
    path.write_bytes(data[: int(len(data) * keep_fraction)])
    with pytest.raises(InputError, match="not a readable NPZ"):
        validate_file(path)


def test_npz_bad_magic_is_input_error(tmp_path):
    path = write_members(tmp_path / "magic.npz", {"diffraction.npy": b"NOTNUMPY" + bytes(100)})
    with pytest.raises(InputError, match=r"'diffraction.npy' is not a .npy array"):
        validate_file(path)


@pytest.mark.parametrize(
    "header",
    [
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3",
        "{'descr': '<f4', 'shape': (2,)}",
        "__import__('os').getcwd()",
    ],
    ids=["unterminated", "missing-key", "expression"],
)
def test_npz_corrupt_header_is_input_error(tmp_path, header):
    path = write_members(tmp_path / "header.npz", {"diffraction.npy": raw_npy(header, bytes(24))})
    with pytest.raises(InputError, match="header is corrupt"):
        validate_file(path)


def test_npz_invalid_descr_is_input_error(tmp_path):
    header = "{'descr': '<q9', 'fortran_order': False, 'shape': (2,)}"
    path = write_members(tmp_path / "descr.npz", {"xcoords.npy": raw_npy(header, bytes(16))})
    with pytest.raises(InputError, match="invalid descr"):
        validate_file(path)


def test_npz_negative_shape_is_input_error(tmp_path):
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (-2,)}"
    path = write_members(tmp_path / "shape.npz", {"xcoords.npy": raw_npy(header, bytes(16))})
    with pytest.raises(InputError, match=r"invalid shape \(-2,\)"):
        validate_file(path)


def test_npz_unknown_version_is_input_error(tmp_path):
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)}"
    path = write_members(tmp_path / "version.npz", {"xcoords.npy": raw_npy(header, bytes(16), (9, 0))})
    with pytest.raises(InputError, match=r"unsupported .npy format version 9.0"):
        validate_file(path)


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED], ids=["stored", "deflated"])
def test_npz_huge_declared_shape_input_error(tmp_path, compression):
    # 1e12 float32 elements (4 TB) declared, 64 bytes stored.
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000, 1000)}"
    path = write_members(
        tmp_path / "huge.npz", {"diffraction.npy": raw_npy(header, bytes(64))}, compression
    )
    with pytest.raises(InputError, match=r"declares shape \(1000000, 1000, 1000\).*holds only 64 data bytes"):
        validate_file(path)


def test_npz_version_2_and_3_headers_read(tmp_path):
    dataset = make_valid_dataset(n_positions=3, patch_px=8)
    members = {}
    for key, array in dataset.items():
        members[f"{key}.npy"] = npy_bytes(array)
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }"
    members["xcoords.npy"] = raw_npy(header.ljust(60), dataset["xcoords"].tobytes(), (2, 0))
    members["ycoords.npy"] = raw_npy(header.ljust(60).encode("utf8"), dataset["ycoords"].tobytes(), (3, 0))
    report = validate_file(write_members(tmp_path / "versions.npz", members))
    assert report.violations == ()


@pytest.mark.parametrize("compressed", [False, True], ids=["savez", "savez_compressed"])
def test_npz_object_array_flagged_never_unpickled(npz_writer, compressed):
    arrays = make_valid_dataset()
    marker = np.empty(1, dtype=object)
    marker[0] = UnpickleMarker()
    arrays["notes"] = marker
    UNPICKLED.clear()
    report = validate_file(npz_writer(arrays, compressed=compressed))
    assert [(v.rule_id, v.key) for v in report.violations] == [("DATASET-002", "notes")]
    assert UNPICKLED == []


def test_npz_object_array_in_required_key_not_read(npz_writer):
    arrays = make_valid_dataset()
    probe = np.empty(1, dtype=object)
    probe[0] = UnpickleMarker()
    arrays["probeGuess"] = probe
    UNPICKLED.clear()
    report = validate_file(npz_writer(arrays))
    # The object dtype is reported once; shape and dtype rules leave that key alone.
    assert [(v.rule_id, v.key) for v in report.errors] == [("DATASET-002", "probeGuess")]
    assert UNPICKLED == []


@pytest.mark.parametrize("compressed", [False, True], ids=["savez", "savez_compressed"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_npz_nonfinite_diffraction_flagged_with_index(npz_writer, compressed, bad):
    arrays = make_valid_dataset(n_positions=5, patch_px=8)
    arrays["diffraction"][4, 1, 2] = bad
    report = validate_file(npz_writer(arrays, compressed=compressed))
    assert [(v.rule_id, v.index) for v in report.violations] == [("DATASET-005", (4, 1, 2))]


@pytest.mark.parametrize("compressed", [False, True], ids=["savez", "savez_compressed"])
def test_npz_negative_diffraction_flagged_with_index(npz_writer, compressed):
    arrays = make_valid_dataset(n_positions=5, patch_px=8)
    arrays["diffraction"][3, 7, 0] = -0.25
    report = validate_file(npz_writer(arrays, compressed=compressed))
    assert [(v.rule_id, v.index) for v in report.violations] == [("DATASET-006", (3, 7, 0))]
    assert "min -0.25" in report.violations[0].seen


@pytest.mark.parametrize("compressed", [False, True], ids=["savez", "savez_compressed"])
def test_npz_big_endian_and_fortran_valid_data_accepted(npz_writer, compressed):
    arrays = make_valid_dataset()
    arrays["diffraction"] = np.asfortranarray(arrays["diffraction"].astype(">f4"))
    arrays["probeGuess"] = np.asfortranarray(arrays["probeGuess"].astype(">c8"))
    arrays["objectGuess"] = np.asfortranarray(arrays["objectGuess"])
    arrays["xcoords"] = arrays["xcoords"].astype(">f8")
    arrays["ycoords"] = arrays["ycoords"].astype(">f8")
    report = validate_file(npz_writer(arrays, compressed=compressed))
    assert report.ok
    assert report.violations == ()


@pytest.mark.parametrize("compressed", [False, True], ids=["savez", "savez_compressed"])
def test_npz_fortran_index_points_at_bad_element(npz_writer, compressed):
    arrays = make_valid_dataset(n_positions=4, patch_px=8)
    diffraction = np.asfortranarray(arrays["diffraction"].astype(">f4"))
    diffraction[1, 6, 3] = np.nan
    arrays["diffraction"] = diffraction
    report = validate_file(npz_writer(arrays, compressed=compressed))
    assert [(v.rule_id, v.index) for v in report.violations] == [("DATASET-005", (1, 6, 3))]


@pytest.mark.parametrize("compressed", [False, True], ids=["savez", "savez_compressed"])
def test_npz_chunked_stats_equal_whole_array(npz_writer, compressed):
    rng = np.random.default_rng(3)
    values = rng.normal(size=(7, 9, 11)).astype(">f4")
    values[5, 2, 1] = np.nan
    path = npz_writer({"diffraction": values}, compressed=compressed)
    with NpzArchive(path) as archive:
        small = compute_stats(archive.source("diffraction"), chunk_bytes=40)
        whole = compute_stats(archive.source("diffraction"))
    assert small == whole
    finite = values[np.isfinite(values)]
    assert small.min == float(finite.min())
    assert small.max == float(finite.max())
    assert small.negative_count == int((finite < 0).sum())
    assert small.first_nonfinite == (5, 2, 1)


def test_npz_load_reads_values_not_bytes(npz_writer):
    values = np.asfortranarray(np.arange(24, dtype=">i4").reshape(2, 3, 4))
    path = npz_writer({"scan_index": values}, compressed=True)
    with NpzArchive(path) as archive:
        loaded = archive.source("scan_index").load()
    np.testing.assert_array_equal(loaded, values)


def test_npz_members_read_from_headers_only(npz_writer):
    path = npz_writer(make_valid_dataset(n_positions=6, patch_px=8))
    with NpzArchive(path) as archive:
        member = archive.members["diffraction"]
    assert member.header.shape == (6, 8, 8)
    assert member.header.dtype == np.float32
    assert member.compressed is False
    assert member.payload_offset is not None


def test_npz_non_npy_member_skipped(tmp_path):
    members = {f"{key}.npy": npy_bytes(array) for key, array in make_valid_dataset().items()}
    members["README.txt"] = b"notes"
    report = validate_file(write_members(tmp_path / "extra.npz", members))
    assert report.violations == ()


def test_npz_real_reconstruction_lists_expected_violations(real_reconstruction):
    report = validate_file(real_reconstruction)
    assert [(v.rule_id, v.key) for v in report.errors] == [
        ("DATASET-001", "diffraction"),
        ("DATASET-010", "probeGuess"),
        ("DATASET-018", "objectGuess"),
    ]
    assert report.warnings == ()
