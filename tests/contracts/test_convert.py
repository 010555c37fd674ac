"""``contracts.convert``: legacy, tike and CXI imports, precision accounting and output safety."""

from __future__ import annotations

import bz2
import json
import os
from pathlib import Path

import numpy as np
import pytest
from contract_files import save_npz
from convert_files import DETECTOR_PIXEL_M, DISTANCE_M, WAVELENGTH_M, WINDOW_M, legacy_arrays, tike_arrays, write_cxi

from contracts.convert import ConversionError, ConvertOptions, convert_file, detect_format
from contracts.convert.cxi import median_nearest_neighbour_step
from contracts.validate import validate_file

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_REAL = REPO_ROOT.parent / "shared" / "data" / "real"
REAL_TIKE = SHARED_REAL / "tike" / "siemens-star-small.npz.bz2"
REAL_NEAR_FIELD = SHARED_REAL / "cdtools" / "PETRAIII_P25_Near_Field_Ptycho.cxi"


def max_relative_error(values: np.ndarray, narrow: type) -> float:
    widened = values.astype(narrow).astype(values.dtype)
    magnitude = np.abs(values)
    nonzero = magnitude > 0
    return float(np.max(np.abs(values - widened)[nonzero] / magnitude[nonzero]))


def load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def metadata(path: Path) -> dict:
    return json.loads(str(load(path)["metadata_json"]))


def warning_ids(result) -> list[str]:
    return [v.rule_id for v in result.report.warnings]


@pytest.fixture
def legacy_file(tmp_path: Path) -> Path:
    return save_npz(tmp_path / "legacy.npz", legacy_arrays())


# ---------------------------------------------------------------------------
# Legacy NPZ.


def test_convert_legacy_validates_clean(legacy_file, tmp_path):
    output = tmp_path / "canonical.npz"
    result = convert_file(legacy_file, output)
    assert result.source_format == "legacy"
    assert result.ok
    assert result.report.violations == ()
    assert validate_file(output).family == "DATASET"
    assert validate_file(output).violations == ()


def test_convert_legacy_values_follow_each_conversion(legacy_file, tmp_path):
    source = legacy_arrays()
    result = convert_file(legacy_file, tmp_path / "canonical.npz")
    converted = load(result.output)

    counts = np.transpose(source["diff3d"], (2, 0, 1)).astype(np.float64)
    factor = np.sqrt((8 / 2) ** 2 / np.mean(np.sum(counts, axis=(1, 2))))
    assert result.diffraction_normalization == pytest.approx(factor, rel=1e-12)
    np.testing.assert_array_equal(converted["diffraction"], (np.sqrt(counts) * factor).astype(np.float32))
    assert np.mean(np.sum(np.square(converted["diffraction"].astype(np.float64)), axis=(1, 2))) == pytest.approx(16)
    np.testing.assert_array_equal(converted["probeGuess"], source["probeGuess"].astype(np.complex64))
    np.testing.assert_array_equal(converted["Y"], source["Y"][..., 0].astype(np.complex64))
    np.testing.assert_array_equal(converted["xcoords"], source["xcoords"])
    np.testing.assert_array_equal(converted["scan_index"], np.arange(6))
    assert "diff3d" not in converted


def test_convert_legacy_lists_every_change(legacy_file, tmp_path):
    result = convert_file(legacy_file, tmp_path / "canonical.npz")
    text = "\n".join(result.changes)
    for expected in (
        "diff3d: renamed to diffraction",
        "(H, W, n) (8, 8, 6) -> (n, H, W) (6, 8, 8)",
        "treated as photon counts because its dtype is uint16",
        "Y: dropped the channel axis",
        "scan_index: added as 0..5",
        "probeGuess: cast complex128 -> complex64",
        "objectGuess: cast complex128 -> complex64",
    ):
        assert expected in text
    assert metadata(result.output)["changes"] == list(result.changes)


def test_convert_precision_loss_matches_computed_error(legacy_file, tmp_path):
    source = legacy_arrays()
    result = convert_file(legacy_file, tmp_path / "canonical.npz")
    losses = {loss.key: loss for loss in result.precision_losses}
    assert sorted(losses) == ["Y", "diffraction", "objectGuess", "probeGuess"]
    for key in ("probeGuess", "objectGuess"):
        assert losses[key].from_dtype == "complex128"
        assert losses[key].to_dtype == "complex64"
        expected = max_relative_error(source[key], np.complex64)
        assert expected > 0
        assert losses[key].max_relative_error == pytest.approx(expected, rel=1e-12)
    assert losses["Y"].max_relative_error == pytest.approx(max_relative_error(source["Y"], np.complex64), rel=1e-12)
    recorded = {entry["key"]: entry for entry in metadata(result.output)["precision_losses"]}
    assert recorded["probeGuess"]["max_relative_error"] == losses["probeGuess"].max_relative_error


def test_convert_float64_amplitudes_loss_and_values_kept(tmp_path):
    arrays = legacy_arrays()
    amplitudes = np.random.default_rng(3).uniform(0, 2, (6, 8, 8))
    arrays["diff3d"] = np.ascontiguousarray(np.transpose(amplitudes, (1, 2, 0)))
    result = convert_file(save_npz(tmp_path / "in.npz", arrays), tmp_path / "out.npz")
    (loss,) = [loss for loss in result.precision_losses if loss.key == "diffraction"]
    assert loss.from_dtype == "float64"
    assert loss.max_relative_error == pytest.approx(max_relative_error(amplitudes, np.float32), rel=1e-12)
    assert result.diffraction_normalization is None
    np.testing.assert_array_equal(load(result.output)["diffraction"], amplitudes.astype(np.float32))


def test_convert_negative_counts_clipped_and_listed(tmp_path):
    arrays = legacy_arrays()
    arrays["diff3d"] = arrays["diff3d"].astype(np.int32)
    arrays["diff3d"][0, 0, :3] = -4
    result = convert_file(save_npz(tmp_path / "in.npz", arrays), tmp_path / "out.npz")
    assert result.ok
    assert any("clipped 3 negative counts" in change for change in result.changes)


def test_convert_legacy_metadata_kept_as_source_metadata(tmp_path):
    arrays = legacy_arrays()
    arrays["metadata_json"] = np.array('{"beamline": "2-ID-D"}')
    result = convert_file(save_npz(tmp_path / "in.npz", arrays), tmp_path / "out.npz")
    recorded = metadata(result.output)
    assert recorded["source_metadata"] == {"beamline": "2-ID-D"}
    assert recorded["producer"] == "ptycho-harness convert"
    assert recorded["source_file"] == "in.npz"


def test_convert_result_still_violating_is_written(tmp_path):
    arrays = legacy_arrays()
    arrays["xcoords"] = arrays["xcoords"][:-1]
    result = convert_file(save_npz(tmp_path / "in.npz", arrays), tmp_path / "out.npz")
    assert not result.ok
    assert [v.rule_id for v in result.report.errors] == ["DATASET-026"]
    assert result.output.is_file()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: {k: v for k, v in a.items() if k != "diff3d"}, "no diffraction patterns"),
        (lambda a: {**a, "diff3d": a["diff3d"][..., None]}, r"expected 3-D patterns"),
        (lambda a: {**a, "diffraction": a["diff3d"]}, "both 'diff3d' and 'diffraction'"),
    ],
    ids=["no-patterns", "4-D", "both-keys"],
)
def test_convert_legacy_rejected_layouts(change, message, tmp_path):
    source = save_npz(tmp_path / "in.npz", change(legacy_arrays()))
    with pytest.raises(ConversionError, match=message):
        convert_file(source, tmp_path / "out.npz")
    assert not (tmp_path / "out.npz").exists()


def test_convert_rejects_object_array_without_loading(tmp_path):
    arrays = legacy_arrays()
    notes = np.empty(1, dtype=object)
    notes[0] = {"a": 1}
    source = save_npz(tmp_path / "in.npz", {**arrays, "notes": notes})
    with pytest.raises(ConversionError, match="'notes' has an object dtype"):
        convert_file(source, tmp_path / "out.npz")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (ConvertOptions(pixel_size_m=1e-8), "--pixel-size-m applies to CXI input only"),
        (ConvertOptions(patch_size_px=64), "--patch-size applies to CXI input only"),
    ],
)
def test_convert_legacy_rejects_cxi_options(legacy_file, tmp_path, options, message):
    with pytest.raises(ConversionError, match=message):
        convert_file(legacy_file, tmp_path / "out.npz", options)


def test_convert_unreadable_input_is_conversion_error(tmp_path):
    source = tmp_path / "broken.npz"
    source.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ConversionError, match="not a readable NPZ"):
        convert_file(source, tmp_path / "out.npz")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ConversionError, match="not an NPZ, bzip2-compressed NPZ or CXI"):
        convert_file(text, tmp_path / "out.npz")
    with pytest.raises(ConversionError, match="file not found"):
        convert_file(tmp_path / "absent.npz", tmp_path / "out.npz")


# ---------------------------------------------------------------------------
# Output safety.


def test_convert_rejects_output_equal_to_input(legacy_file):
    before = legacy_file.read_bytes()
    with pytest.raises(ConversionError, match="is the input file"):
        convert_file(legacy_file, legacy_file, ConvertOptions(force=True))
    assert legacy_file.read_bytes() == before


def test_convert_rejects_symlink_to_input(legacy_file, tmp_path):
    link = tmp_path / "link.npz"
    link.symlink_to(legacy_file)
    before = legacy_file.read_bytes()
    with pytest.raises(ConversionError, match="is the input file"):
        convert_file(legacy_file, link, ConvertOptions(force=True))
    with pytest.raises(ConversionError, match="is the input file"):
        convert_file(link, legacy_file, ConvertOptions(force=True))
    assert legacy_file.read_bytes() == before
    assert link.is_symlink()


def test_convert_rejects_other_spelling_of_input(legacy_file, tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    before = legacy_file.read_bytes()
    for spelling in (Path("../legacy.npz"), tmp_path / "sub" / ".." / "legacy.npz", Path(f"..//./{legacy_file.name}")):
        with pytest.raises(ConversionError, match="is the input file"):
            convert_file(legacy_file, spelling, ConvertOptions(force=True))
    assert legacy_file.read_bytes() == before


def test_convert_rejects_existing_output_without_force(legacy_file, tmp_path):
    output = tmp_path / "out.npz"
    output.write_bytes(b"keep me")
    with pytest.raises(ConversionError, match="already exists; choose another path or pass --force"):
        convert_file(legacy_file, output)
    assert output.read_bytes() == b"keep me"
    assert convert_file(legacy_file, output, ConvertOptions(force=True)).ok


def test_convert_failed_conversion_leaves_output_untouched(tmp_path):
    output = tmp_path / "out.npz"
    output.write_bytes(b"keep me")
    source = save_npz(tmp_path / "in.npz", {"probeGuess": np.ones((4, 4), np.complex64)})
    with pytest.raises(ConversionError, match="no diffraction patterns"):
        convert_file(source, output, ConvertOptions(force=True))
    assert output.read_bytes() == b"keep me"


def test_convert_failed_write_leaves_output_untouched(legacy_file, tmp_path, monkeypatch):
    output = tmp_path / "out.npz"
    output.write_bytes(b"keep me")
    written = []

    def write_some(stream, array, allow_pickle):
        if written:
            raise OSError(28, "No space left on device")
        written.append(array.shape)
        stream.write(b"partial")

    monkeypatch.setattr(np.lib.format, "write_array", write_some)
    with pytest.raises(ConversionError, match="No space left on device.*unchanged"):
        convert_file(legacy_file, output, ConvertOptions(force=True))
    assert output.read_bytes() == b"keep me"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["legacy.npz", "out.npz"]


def test_convert_output_bytes_reproducible(legacy_file, tmp_path):
    first = convert_file(legacy_file, tmp_path / "first.npz").output.read_bytes()
    second = convert_file(legacy_file, tmp_path / "second.npz").output.read_bytes()
    assert first == second


# ---------------------------------------------------------------------------
# tike NPZ.


def test_convert_tike_synthetic_validates_clean(tmp_path):
    arrays = tike_arrays()
    source = save_npz(tmp_path / "scan.npz", arrays)
    assert detect_format(source) == "tike"
    result = convert_file(source, tmp_path / "out.npz")
    assert result.source_format == "tike"
    assert result.report.errors == ()
    assert warning_ids(result) == ["DATASET-016"]

    converted = load(result.output)
    centred = np.fft.fftshift(arrays["data"][0].astype(np.float64), axes=(-2, -1))
    expected = (np.sqrt(centred) * result.diffraction_normalization).astype(np.float32)
    np.testing.assert_array_equal(converted["diffraction"], expected)
    np.testing.assert_array_equal(converted["probeGuess"], arrays["probe"].reshape(16, 16))
    scan = arrays["scan"][0].astype(np.float64)
    np.testing.assert_allclose(converted["xcoords"] - converted["xcoords"].min(), scan[:, 1] - scan[:, 1].min())
    np.testing.assert_allclose(converted["ycoords"] - converted["ycoords"].min(), scan[:, 0] - scan[:, 0].min())
    assert converted["xcoords"].min() == pytest.approx(8 + 8)
    rows, cols = metadata(result.output)["object_canvas_px"]
    assert converted["ycoords"].max() + 8 <= rows
    assert converted["xcoords"].max() + 8 <= cols


def test_convert_tike_bz2_compressed_input(tmp_path):
    plain = save_npz(tmp_path / "scan.npz", tike_arrays())
    compressed = tmp_path / "scan.npz.bz2"
    compressed.write_bytes(bz2.compress(plain.read_bytes()))
    result = convert_file(compressed, tmp_path / "out.npz")
    assert result.source_format == "tike"
    assert result.report.errors == ()
    np.testing.assert_array_equal(
        load(result.output)["diffraction"], load(convert_file(plain, tmp_path / "plain_out.npz").output)["diffraction"]
    )


def test_convert_tike_rejects_probe_modes(tmp_path):
    arrays = tike_arrays()
    arrays["probe"] = np.repeat(arrays["probe"], 3, axis=3)
    with pytest.raises(ConversionError, match=r"probe: shape \(1, 1, 1, 3, 16, 16\).*one probe"):
        convert_file(save_npz(tmp_path / "scan.npz", arrays), tmp_path / "out.npz")


def test_convert_tike_real_siemens_star_validates_clean(tmp_path):
    if not REAL_TIKE.is_file():
        pytest.skip(f"real tike scan not found at {REAL_TIKE}")
    result = convert_file(REAL_TIKE, tmp_path / "star.npz")
    assert result.report.errors == ()
    assert warning_ids(result) == ["DATASET-016"]
    converted = load(result.output)
    assert converted["diffraction"].shape == (516, 128, 128)
    energy = np.square(converted["diffraction"].astype(np.float64))
    assert np.mean(np.sum(energy, axis=(1, 2))) == pytest.approx(64**2, rel=1e-6)
    mean_pattern = energy.mean(axis=0)
    # After fftshift the bright low frequencies sit in the middle of the frame.
    assert mean_pattern[32:96, 32:96].sum() > 0.9 * mean_pattern.sum()
    assert converted["xcoords"].min() == pytest.approx(64 + 8)
    assert converted["ycoords"].min() == pytest.approx(64 + 8)
    assert not any(path.suffix == ".npz" and path.name != "star.npz" for path in tmp_path.iterdir())


# ---------------------------------------------------------------------------
# CXI.


def test_convert_cxi_far_field_validates_clean(tmp_path):
    source = write_cxi(tmp_path / "scan.cxi")
    assert detect_format(source) == "cxi"
    result = convert_file(source, tmp_path / "out.npz")
    assert result.report.errors == ()
    assert warning_ids(result) == ["DATASET-016"]
    converted = load(result.output)
    assert converted["diffraction"].shape == (16, 64, 64)
    assert converted["probeGuess"].shape == (64, 64)

    pixel_m = WAVELENGTH_M * DISTANCE_M / (64 * DETECTOR_PIXEL_M)
    recorded = metadata(result.output)
    assert recorded["object_pixel_size_m"] == pytest.approx([pixel_m, pixel_m], rel=1e-6)
    assert recorded["wavelength_m"] == pytest.approx(WAVELENGTH_M, rel=1e-6)
    step_px = 0.05 * WINDOW_M / pixel_m
    columns = np.sort(np.unique(np.round(converted["xcoords"], 6)))
    np.testing.assert_allclose(np.diff(columns), step_px, rtol=1e-5)
    assert "cropped the 72x72 detector about its centre to rows 4..67" in "\n".join(result.changes)


def test_convert_cxi_pixel_size_and_patch_size_options(tmp_path):
    source = write_cxi(tmp_path / "scan.cxi", detector_px=130)
    result = convert_file(source, tmp_path / "out.npz", ConvertOptions(pixel_size_m=1e-7, patch_size_px=64))
    converted = load(result.output)
    assert converted["diffraction"].shape == (16, 64, 64)
    step_px = 0.05 * WINDOW_M / 1e-7
    np.testing.assert_allclose(np.diff(np.sort(np.unique(np.round(converted["xcoords"], 6)))), step_px, rtol=1e-5)
    default = convert_file(source, tmp_path / "default.npz")
    assert load(default.output)["diffraction"].shape == (16, 128, 128)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (ConvertOptions(patch_size_px=128), "--patch-size 128 exceeds the 72x72 detector"),
        (ConvertOptions(patch_size_px=100), r"--patch-size 100 is invalid; expected one of \[64, 128, 256\]"),
        (ConvertOptions(pixel_size_m=-1.0), "--pixel-size-m -1.0 is invalid"),
    ],
)
def test_convert_cxi_rejects_bad_options(tmp_path, options, message):
    with pytest.raises(ConversionError, match=message):
        convert_file(write_cxi(tmp_path / "scan.cxi"), tmp_path / "out.npz", options)


def test_convert_cxi_near_field_geometry_rejected(tmp_path):
    source = write_cxi(tmp_path / "near.cxi", step_m=0.7 * WINDOW_M)
    with pytest.raises(ConversionError, match=r"near-field geometry: .* is 0\.70 of the far-field window"):
        convert_file(source, tmp_path / "out.npz")
    assert not (tmp_path / "out.npz").exists()


def test_convert_cxi_near_field_marker_rejected(tmp_path):
    source = write_cxi(tmp_path / "marked.cxi", attributes={"experiment": "Near-field holography"})
    with pytest.raises(ConversionError, match="near-field ptychography .*'Near-field holography'"):
        convert_file(source, tmp_path / "out.npz")


def test_convert_cxi_real_near_field_rejected(tmp_path):
    if not REAL_NEAR_FIELD.is_file():
        pytest.skip(f"real near-field CXI not found at {REAL_NEAR_FIELD}")
    with pytest.raises(ConversionError, match=r"near-field geometry: .* is 0\.60 of the far-field window"):
        convert_file(REAL_NEAR_FIELD, tmp_path / "out.npz")
    assert not (tmp_path / "out.npz").exists()


def test_convert_cxi_missing_geometry_needs_pixel_size(tmp_path):
    import h5py

    source = write_cxi(tmp_path / "scan.cxi")
    with h5py.File(source, "a") as handle:
        del handle["entry_1/instrument_1/source_1/energy"]
    with pytest.raises(ConversionError, match="energy or wavelength missing; pass --pixel-size-m"):
        convert_file(source, tmp_path / "out.npz")
    assert convert_file(source, tmp_path / "out.npz", ConvertOptions(pixel_size_m=5e-8)).report.errors == ()


def test_median_nearest_neighbour_step_on_grid():
    grid = np.stack(np.meshgrid(np.arange(5) * 2.0, np.arange(7) * 3.0), axis=-1).reshape(-1, 2)
    assert median_nearest_neighbour_step(grid, block=4) == pytest.approx(2.0)


def test_convert_output_path_not_left_as_temp(legacy_file, tmp_path):
    convert_file(legacy_file, tmp_path / "out.npz")
    assert sorted(os.listdir(tmp_path)) == ["legacy.npz", "out.npz"]


def test_legacy_counts_under_other_key_point_to_validate(tmp_path):
    source = tmp_path / "measured.npz"
    np.savez(source, reciprocal=np.ones((3, 16, 16), dtype=np.int32), position=np.full((3, 2), 1e-7))
    with pytest.raises(ConversionError, match=r"'reciprocal' looks like photon counts.*RAW-007 to RAW-009"):
        convert_file(source, tmp_path / "out.npz")
