"""``convert --from product``: a Ptychodus product becomes probe, object and pixel positions for simulate."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest
from convert_files import write_cxi
from test_contract_cli import describe, harness_command

from contracts.convert import ConversionError, ConvertOptions, convert_file, detect_format
from contracts.product import PTYCHODUS, WRITTEN, make_valid_product, write_layout

REPO_ROOT = Path(__file__).resolve().parents[2]
OLD_PRODUCT = REPO_ROOT / "tests" / "data" / "metadata_250_truePos.hdf5"
PIXEL_M = 8e-9  # the pixel size make_valid_product stores for probe and object


def write_product(folder: Path, profile: str = WRITTEN, **options) -> Path:
    path = folder / f"product-{profile}.h5"
    write_layout(make_valid_product(profile, **options), path)
    return path


def read_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def run_harness(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(harness_command() + [str(arg) for arg in args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("profile", "options", "first_probe"),
    [
        (WRITTEN, {"probe_ndim": 3}, (0,)),
        (WRITTEN, {"probe_ndim": 2, "seed": 2}, ()),
        (WRITTEN, {"probe_ndim": 4, "n_layers": 2}, (0, 0)),
        (PTYCHODUS, {}, (0, 0)),
    ],
    ids=["written-modes", "written-2d", "written-opr-layers", "ptychodus"],
)
def test_product_import_keeps_first_components(tmp_path, profile, options, first_probe):
    layout = make_valid_product(profile, **options)
    source = tmp_path / "product.h5"
    write_layout(layout, source)
    result = convert_file(source, tmp_path / "out.npz", ConvertOptions(source_format="product"))
    arrays = read_npz(tmp_path / "out.npz")

    probe = layout.datasets["probe"].data[first_probe]
    obj = layout.datasets["object"].data
    obj = obj if obj.ndim == 2 else obj[0]
    assert arrays["probeGuess"].dtype == np.complex64
    assert arrays["objectGuess"].dtype == np.complex64
    np.testing.assert_array_equal(arrays["probeGuess"], probe.astype(np.complex64))
    np.testing.assert_array_equal(arrays["objectGuess"], obj.astype(np.complex64))
    assert "diffraction" not in arrays
    assert result.ready_for_simulation
    assert not result.ok


def test_product_import_positions_in_object_pixels(tmp_path):
    layout = make_valid_product(WRITTEN, n_positions=7, probe_px=16)
    source = tmp_path / "product.h5"
    write_layout(layout, source)
    convert_file(source, tmp_path / "out.npz")
    arrays = read_npz(tmp_path / "out.npz")

    # The object is 48 x 48 pixels centred on (0, 0) m, so its corner pixel is at -24 px.
    expected_x = layout.datasets["probe_position_x_m"].data / PIXEL_M + 24
    expected_y = layout.datasets["probe_position_y_m"].data / PIXEL_M + 24
    np.testing.assert_allclose(arrays["xcoords"], expected_x)
    np.testing.assert_allclose(arrays["ycoords"], expected_y)
    assert arrays["xcoords"].dtype == np.float64


def test_product_import_pads_object_for_outlying_patches(tmp_path):
    layout = make_valid_product(WRITTEN, n_positions=4, probe_px=16)
    far_x = layout.datasets["probe_position_x_m"].data.copy()
    far_x[0] = 30 * PIXEL_M  # patch centre at column 54 of a 48-column object
    source = tmp_path / "product.h5"
    write_layout(layout.with_dataset("probe_position_x_m", far_x), source)
    result = convert_file(source, tmp_path / "out.npz")
    arrays = read_npz(tmp_path / "out.npz")

    # Column 54 + 8 half-patch - 48 = 14 overhang, plus the 8 px margin.
    assert arrays["objectGuess"].shape == (48, 48 + 22)
    np.testing.assert_array_equal(arrays["objectGuess"][:, 48:], np.ones((48, 22), dtype=np.complex64))
    assert any("padded with ones" in change for change in result.changes)
    assert result.ready_for_simulation


def test_product_import_metadata_lists_changes(tmp_path):
    source = write_product(tmp_path)
    result = convert_file(source, tmp_path / "out.npz")
    metadata = json.loads(str(read_npz(tmp_path / "out.npz")["metadata_json"]))
    assert metadata["source_format"] == "product"
    assert metadata["changes"] == list(result.changes)
    assert metadata["object_pixel_size_m"] == [PIXEL_M, PIXEL_M]
    assert "probe: kept the first of 2 modes, (2, 16, 16) -> (16, 16)" in result.changes


def test_product_detect_format_by_root_names(tmp_path):
    assert detect_format(write_product(tmp_path)) == "product"
    assert detect_format(write_cxi(tmp_path / "scan.cxi")) == "cxi"


def test_product_old_zero_pixel_size_rejected(tmp_path):
    with pytest.raises(ConversionError, match=r"the probe pixel_height_m is 0;.*--pixel-size-m 8e-09"):
        convert_file(OLD_PRODUCT, tmp_path / "out.npz")
    assert not (tmp_path / "out.npz").exists()


def test_product_old_file_with_pixel_size_converts(tmp_path):
    result = convert_file(OLD_PRODUCT, tmp_path / "out.npz", ConvertOptions(pixel_size_m=8e-9))
    arrays = read_npz(tmp_path / "out.npz")
    assert arrays["probeGuess"].shape == (256, 256)
    assert arrays["xcoords"].shape == (961,)
    assert result.ready_for_simulation
    assert [v.rule_id for v in result.report.errors] == ["DATASET-001"]


def test_product_unequal_pixel_sizes_rejected(tmp_path):
    layout = make_valid_product(WRITTEN)
    layout = layout.with_dataset_attribute("probe", "pixel_width_m", 2 * PIXEL_M)
    source = tmp_path / "product.h5"
    write_layout(layout, source)
    with pytest.raises(ConversionError, match="probe pixel width 1.6e-08 m differs from object pixel width 8e-09 m"):
        convert_file(source, tmp_path / "out.npz")


def test_product_patch_size_option_rejected(tmp_path):
    with pytest.raises(ConversionError, match="--patch-size applies to CXI input only"):
        convert_file(write_product(tmp_path), tmp_path / "out.npz", ConvertOptions(patch_size_px=64))


def test_product_external_link_rejected(tmp_path):
    layout = make_valid_product(WRITTEN).without_dataset("object").with_external_link("object", "other.h5", "/object")
    source = tmp_path / "product.h5"
    write_layout(layout, source)
    with pytest.raises(ConversionError, match="'object' is stored as ExternalLink, not as a dataset in the file"):
        convert_file(source, tmp_path / "out.npz", ConvertOptions(source_format="product"))


def test_product_missing_dataset_rejected(tmp_path):
    source = tmp_path / "probe-only.h5"
    with h5py.File(source, "w") as handle:
        handle["probe"] = np.ones((4, 4), dtype=np.complex64)
    with pytest.raises(ConversionError, match="dataset 'object' missing"):
        convert_file(source, tmp_path / "out.npz", ConvertOptions(source_format="product"))


def test_cli_convert_product_names_simulate_exits_0(tmp_path):
    output = tmp_path / "out.npz"
    result = run_harness("convert", write_product(tmp_path, PTYCHODUS), output, "--from", "product")
    assert result.returncode == 0, describe(result)
    last = result.stdout.rstrip().splitlines()[-1]
    assert "not a canonical dataset yet" in last
    assert f"ptycho-harness simulate {output} DATA.npz --nphotons" in last
    assert output.is_file()


def test_cli_convert_product_json_exit_status(tmp_path):
    result = run_harness("convert", write_product(tmp_path), tmp_path / "out.npz", "--json")
    document = json.loads(result.stdout)
    assert result.returncode == 0, describe(result)
    assert document["exit_status"] == 0
    assert document["ready_for_simulation"] is True
    assert document["simulate_command"].startswith("ptycho-harness simulate ")


def test_cli_convert_old_product_exits_2(tmp_path):
    result = run_harness("convert", OLD_PRODUCT, tmp_path / "out.npz")
    assert result.returncode == 2, describe(result)
    assert "--pixel-size-m" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_convert_product_then_simulate_validates(tmp_path):
    converted = tmp_path / "product.npz"
    dataset = tmp_path / "dataset.npz"
    assert run_harness("convert", write_product(tmp_path), converted).returncode == 0
    simulated = run_harness("simulate", converted, dataset, "--nphotons", "1e5", "--seed", "3")
    assert simulated.returncode == 0, describe(simulated)
    validated = run_harness("validate", dataset)
    assert validated.returncode == 0, describe(validated)


# ---------------------------------------------------------------------------
# Files as Ptychodus's NPZ and CXI writers lay them out.


def write_npz_product(path: Path, seed: int = 0) -> tuple[Path, dict[str, np.ndarray]]:
    """Write the keys of Ptychodus's NPZ product writer, with values from a valid product."""
    layout = make_valid_product(WRITTEN, seed=seed, probe_ndim=3)
    data = {name: dataset.data for name, dataset in layout.datasets.items()}
    arrays = {
        "name": np.array("scan-7"),
        "comments": np.array(""),
        "detector_object_distance_m": np.array(2.0),
        "probe_energy_eV": np.array(10000.0),
        "probe_photon_count": np.array(1e9),
        "exposure_time_s": np.array(0.1),
        "mass_attenuation_m2_kg": np.array(0.0),
        "probe_position_indexes": data["probe_position_indexes"],
        "probe_position_x_m": data["probe_position_x_m"],
        "probe_position_y_m": data["probe_position_y_m"],
        "probe": data["probe"],
        "probe_pixel_width_m": np.array(PIXEL_M),
        "probe_pixel_height_m": np.array(PIXEL_M),
        "object": data["object"],
        "object_center_x_m": np.array(0.0),
        "object_center_y_m": np.array(0.0),
        "object_pixel_width_m": np.array(PIXEL_M),
        "object_pixel_height_m": np.array(PIXEL_M),
        "object_layer_spacing_m": np.zeros(0),
        "loss_epochs": np.arange(3),
        "loss_values": np.array([0.3, 0.2, 0.1]),
    }
    np.savez(path, **arrays)
    return path, arrays


def write_cxi_product(path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    """Write a CXI product as Ptychodus's CXI product writer lays it out: images, translations, extras."""
    layout = make_valid_product(PTYCHODUS)
    probe = layout.datasets["probe"].data
    obj = layout.datasets["object"].data
    x_m = layout.datasets["probe_position_x_m"].data
    y_m = layout.datasets["probe_position_y_m"].data
    with h5py.File(path, "w") as handle:
        handle["cxi_version"] = 160
        handle["entry_1/sample_1/geometry_1/translation"] = np.stack([x_m, y_m, np.zeros_like(x_m)], axis=1)
        handle["entry_1/data_1/translation"] = h5py.SoftLink("/entry_1/sample_1/geometry_1/translation")
        handle["entry_1/instrument_1/source_1/energy"] = 10000 * 1.602176634e-19
        handle["entry_1/instrument_1/detector_1/distance"] = 2.0
        handle["entry_1/image_1/data"] = probe
        handle["entry_1/image_2/data"] = obj
        handle["entry_1/instrument_1/source_1/illumination"] = h5py.SoftLink("/entry_1/image_1/data")
        handle["entry_1/process_1/program"] = "Ptychodus"
        for name in ("probe_pixel_width_m", "probe_pixel_height_m", "object_pixel_width_m", "object_pixel_height_m"):
            handle[f"entry_1/ptychodus/{name}"] = PIXEL_M
        handle["entry_1/ptychodus/object_center_x_m"] = 0.0
        handle["entry_1/ptychodus/object_center_y_m"] = 0.0
    return path, {"probe": probe, "object": obj, "x_m": x_m, "y_m": y_m}


def validate_json(path: Path) -> tuple[subprocess.CompletedProcess[str], dict]:
    result = run_harness("validate", "--json", path)
    return result, json.loads(result.stdout)


def test_npz_product_validate_names_convert_command(tmp_path):
    path, _ = write_npz_product(tmp_path / "product.npz")
    result, document = validate_json(path)
    assert result.returncode == 2, describe(result)
    (entry,) = document["unreadable"]
    assert "a Ptychodus NPZ product" in entry["error"]
    assert "21 of the 21 keys" in entry["error"]
    assert "`ptycho-harness convert IN OUT --from product`" in entry["error"]
    assert "Traceback" not in result.stderr


def test_npz_product_converts_like_hdf5(tmp_path):
    path, arrays = write_npz_product(tmp_path / "product.npz")
    result = convert_file(path, tmp_path / "out.npz")
    converted = read_npz(tmp_path / "out.npz")
    assert result.source_format == "product"
    assert result.ready_for_simulation
    np.testing.assert_array_equal(converted["probeGuess"], arrays["probe"][0].astype(np.complex64))
    np.testing.assert_allclose(converted["xcoords"], arrays["probe_position_x_m"] / PIXEL_M + 24)


def test_npz_product_zero_pixel_size_rejected(tmp_path):
    path, arrays = write_npz_product(tmp_path / "product.npz")
    arrays["probe_pixel_width_m"] = np.array(0.0)
    np.savez(path, **arrays)
    with pytest.raises(ConversionError, match=r"the probe pixel_width_m is 0;.*--pixel-size-m"):
        convert_file(path, tmp_path / "out.npz")


def test_cxi_product_validate_names_convert_command(tmp_path):
    path, _ = write_cxi_product(tmp_path / "product.cxi")
    result, document = validate_json(path)
    assert result.returncode == 2, describe(result)
    (entry,) = document["unreadable"]
    assert "a CXI product" in entry["error"]
    assert "--from product" in entry["error"]


def test_cxi_product_converts_first_components(tmp_path):
    path, values = write_cxi_product(tmp_path / "product.cxi")
    result = convert_file(path, tmp_path / "out.npz")
    converted = read_npz(tmp_path / "out.npz")
    assert result.source_format == "product"
    assert result.ready_for_simulation
    np.testing.assert_array_equal(converted["probeGuess"], values["probe"][0, 0])
    np.testing.assert_allclose(converted["ycoords"], values["y_m"] / PIXEL_M + 24)


def test_cxi_patterns_without_translations_answered(tmp_path):
    path = tmp_path / "diffraction.cxi"
    with h5py.File(path, "w") as handle:
        handle["cxi_version"] = 160
        handle["entry_1/instrument_1/detector_1/data"] = np.zeros((3, 64, 64), dtype=np.uint16)
        handle["entry_1/data_1/data"] = h5py.SoftLink("/entry_1/instrument_1/detector_1/data")
    result, document = validate_json(path)
    assert result.returncode == 2, describe(result)
    (entry,) = document["unreadable"]
    assert "patterns but no sample translations" in entry["error"]
    assert "entry_1/sample_1/geometry_1/translation" in entry["error"]


def test_cxi_far_field_scan_states_geometry_verdict(tmp_path):
    result, document = validate_json(write_cxi(tmp_path / "scan.cxi"))
    assert result.returncode == 2, describe(result)
    (entry,) = document["unreadable"]
    assert "far-field geometry: the median nearest-neighbour scan step" in entry["error"]
    assert "`ptycho-harness convert IN OUT --from cxi`" in entry["error"]

