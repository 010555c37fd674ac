"""The PRODUCT family: per-rule examples, profiles, bad HDF5 files and the real product file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from contracts import CATALOGUE, Severity, validate_file
from contracts.errors import InputError
from contracts.product import (
    DEPARTURE_RULE,
    PTYCHODUS,
    RULE_PROFILES,
    WRITTEN,
    check_product_file,
    check_product_layout,
    has_hdf5_signature,
    make_valid_product,
    valid_example_for,
    write_layout,
)
from contracts.product.reader import H5ArraySource
from harness.commands.validate import PRODUCT_PROFILES

PRODUCT_IDS = sorted(rule_id for rule_id in CATALOGUE if rule_id.startswith("PRODUCT-"))
RULE_CASES = [(rule_id, profile) for rule_id in PRODUCT_IDS for profile in RULE_PROFILES[rule_id]]
REPO_ROOT = Path(__file__).resolve().parents[2]
REAL_PRODUCT_CANDIDATES = (
    REPO_ROOT / "tests" / "data" / "metadata_250_truePos.hdf5",
    REPO_ROOT.parent / "shared" / "data" / "real" / "ptychi" / "metadata_250_truePos.hdf5",
)


def flagged(result, profile: str) -> list[str]:
    """Rule IDs flagged, leaving out the departure warnings every ptychodus file gets."""
    ids = {v.rule_id for v in result.violations}
    if profile == PTYCHODUS:
        ids.discard(DEPARTURE_RULE)
    return sorted(ids)


def write(tmp_path: Path, layout, name: str = "product.h5") -> Path:
    path = tmp_path / name
    write_layout(layout, path)
    return path


@pytest.fixture
def real_product() -> Path:
    for candidate in REAL_PRODUCT_CANDIDATES:
        if candidate.is_file():
            return candidate
    searched = ", ".join(str(path) for path in REAL_PRODUCT_CANDIDATES)
    pytest.skip(f"real product file metadata_250_truePos.hdf5 not found (searched {searched})")


# ---------------------------------------------------------------------------
# The catalogue: each rule's valid and violating example.


def test_product_every_rule_has_a_violator_profile():
    assert sorted(RULE_PROFILES) == PRODUCT_IDS
    assert all(RULE_PROFILES[rule_id] for rule_id in PRODUCT_IDS)


def test_product_profile_choices_match_cli():
    from contracts.product import PROFILES

    assert sorted(PRODUCT_PROFILES) == sorted(PROFILES)


@pytest.mark.parametrize("profile", [WRITTEN, PTYCHODUS])
def test_product_valid_example_passes(profile):
    result = check_product_layout(valid_example_for(profile))
    assert result.profile == profile
    assert [v for v in result.violations if v.is_error] == []
    assert flagged(result, profile) == []


@pytest.mark.parametrize("rule_id", PRODUCT_IDS)
def test_rule_product_catalogue_example_passes(rule_id):
    result = check_product_layout(CATALOGUE[rule_id].valid_example())
    assert result.violations == ()


@pytest.mark.parametrize(("rule_id", "profile"), RULE_CASES)
def test_rule_product_violation_flags_only_its_rule(rule_id, profile):
    layout = CATALOGUE[rule_id].violate(valid_example_for(profile), np.random.default_rng(0))
    result = check_product_layout(layout)
    # The departure rule's violator turns a written product into a ptychodus one.
    assert result.profile == (PTYCHODUS if rule_id == DEPARTURE_RULE else profile)
    assert flagged(result, profile) == [rule_id]
    mine = [v for v in result.violations if v.rule_id == rule_id]
    assert all(v.severity is CATALOGUE[rule_id].severity for v in mine)
    assert all(not v.check_error for v in mine)


@pytest.mark.parametrize(("rule_id", "profile"), RULE_CASES)
def test_rule_product_file_matches_memory(rule_id, profile, tmp_path):
    layout = CATALOGUE[rule_id].violate(valid_example_for(profile), np.random.default_rng(1))
    in_memory = check_product_layout(layout, source="x")
    report = validate_file(write(tmp_path, layout))
    assert report.family == "PRODUCT"
    assert report.profile == in_memory.profile
    assert [(v.rule_id, v.key, v.index, v.seen) for v in report.violations] == [
        (v.rule_id, v.key, v.index, v.seen) for v in in_memory.violations
    ]


def test_rule_product_departure_example_warns():
    rule = CATALOGUE[DEPARTURE_RULE]
    result = check_product_layout(rule.violating_example())
    assert result.profile == PTYCHODUS
    assert {v.rule_id for v in result.violations} == {DEPARTURE_RULE}
    assert all(v.severity is Severity.WARNING for v in result.violations)


# ---------------------------------------------------------------------------
# Profiles: detection, forcing, departures and mixed files.


def test_product_departures_name_exact_renames():
    result = check_product_layout(make_valid_product(PTYCHODUS, integer_attributes=True, n_epochs=0))
    fixes: dict[str, list[str]] = {}
    for violation in result.violations:
        assert violation.rule_id == DEPARTURE_RULE
        fixes.setdefault(violation.key, []).append(violation.fix)
    assert "for readers of the written contract, rename photon_energy_eV to probe_energy_eV" in fixes["/@photon_energy_eV"]
    assert "store np.float64(photon_energy_eV)" in fixes["/@photon_energy_eV"]
    assert (
        "for readers of the written contract, rename mass_attenuation_m2_per_kg to mass_attenuation_m2_kg"
        in fixes["/@mass_attenuation_m2_per_kg"]
    )
    assert fixes["opr_weights"] == ["for readers of the written contract, move it to probe.attrs['opr_weights']"]
    assert fixes["loss_epochs"] == ["store an empty int64 array: np.zeros(0, np.int64)"]
    assert fixes["/@detector_object_distance_m"] == ["store np.float64(detector_object_distance_m)"]
    assert "/@far_field" in fixes


def test_product_forced_ptychodus_names_renames():
    result = check_product_layout(make_valid_product(WRITTEN, probe_ndim=4), profile=PTYCHODUS)
    names = [v for v in result.violations if v.rule_id == "PRODUCT-002"]
    assert [v.key for v in names] == ["/@probe_energy_eV", "/@mass_attenuation_m2_kg"]
    assert names[0].fix == "rename attribute probe_energy_eV to photon_energy_eV"
    assert result.profile_reason == "forced by the caller"


def test_product_forced_written_fails():
    result = check_product_layout(make_valid_product(PTYCHODUS), profile=WRITTEN)
    ids = {v.rule_id for v in result.violations}
    assert {"PRODUCT-002", "PRODUCT-021"} <= ids
    assert DEPARTURE_RULE not in ids


def test_product_both_energy_names_is_mixed():
    layout = make_valid_product(WRITTEN).with_attribute("photon_energy_eV", np.float64(10000.0))
    (violation,) = check_product_layout(layout).violations
    assert violation.rule_id == "PRODUCT-002"
    assert "mixes the profiles" in violation.seen
    assert violation.fix == "keep one of photon_energy_eV and probe_energy_eV: remove photon_energy_eV"


def test_product_opr_attribute_in_ptychodus_mixed():
    layout = make_valid_product(PTYCHODUS, n_opr=2)
    weights = layout.datasets["opr_weights"].data
    layout = layout.without_dataset("opr_weights").with_dataset_attribute("probe", "opr_weights", weights)
    result = check_product_layout(layout)
    (violation,) = [v for v in result.violations if v.is_error]
    assert violation.rule_id == "PRODUCT-021"
    assert "mixes the profiles" in violation.seen


def test_product_profile_defaults_to_written():
    layout = make_valid_product(WRITTEN).without_attribute("mass_attenuation_m2_kg").without_attribute("probe_energy_eV")
    result = check_product_layout(layout)
    assert result.profile == WRITTEN
    assert "no profile-specific names" in result.profile_reason
    assert [(v.rule_id, v.key) for v in result.violations] == [("PRODUCT-003", "/@probe_energy_eV")]


def test_product_unknown_profile_rejected():
    with pytest.raises(ValueError, match="unknown product profile 'newest'; expected one of: written, ptychodus"):
        check_product_layout(make_valid_product(), profile="newest")


# ---------------------------------------------------------------------------
# Attributes: missing, wrong types, bytes and str.


def test_product_missing_attributes_one_violation_each():
    layout = make_valid_product().without_attribute("name").without_attribute("detector_object_distance_m")
    violations = check_product_layout(layout).violations
    assert [(v.rule_id, v.key, v.seen) for v in violations] == [
        ("PRODUCT-003", "/@name", "attribute missing"),
        ("PRODUCT-003", "/@detector_object_distance_m", "attribute missing"),
    ]


def test_product_fixed_and_variable_strings_read_same():
    variable = check_product_layout(make_valid_product(fixed_length_strings=False))
    fixed = check_product_layout(make_valid_product(fixed_length_strings=True))
    assert variable.violations == fixed.violations == ()


def test_product_bytes_string_attribute_decoded(tmp_path):
    path = write(tmp_path, make_valid_product())
    with h5py.File(path, "a") as h5_file:
        h5_file.attrs["name"] = np.bytes_("W250 scan")
        h5_file.attrs.create("comments", "café".encode(), dtype=h5py.string_dtype("utf-8", 16))
    with h5py.File(path, "r") as h5_file:
        assert isinstance(h5_file.attrs["name"], np.bytes_)
        assert h5_file.attrs["comments"] == "café".encode()
    assert check_product_file(path).violations == ()


def test_product_non_utf8_bytes_flagged():
    layout = make_valid_product().with_attribute("name", np.bytes_(b"\xff\xfe"))
    (violation,) = check_product_layout(layout).violations
    assert violation.rule_id == "PRODUCT-004"
    assert "not UTF-8" in violation.seen


def test_product_string_number_attribute_flagged():
    layout = make_valid_product().with_attribute("probe_energy_eV", "10000")
    (violation,) = check_product_layout(layout).violations
    assert (violation.rule_id, violation.key) == ("PRODUCT-005", "/@probe_energy_eV")
    assert violation.seen == "string '10000'"


def test_product_integer_attribute_profiles_differ():
    written = make_valid_product(WRITTEN).with_attribute("detector_object_distance_m", np.int64(2))
    assert [v.rule_id for v in check_product_layout(written).violations] == ["PRODUCT-005"]
    ptychodus = check_product_layout(make_valid_product(PTYCHODUS, integer_attributes=True))
    assert [v for v in ptychodus.violations if v.is_error] == []


def test_product_far_field_enum_accepted_int_flagged():
    layout = make_valid_product(PTYCHODUS)
    assert [v for v in check_product_layout(layout).violations if v.is_error] == []
    broken = check_product_layout(layout.with_attribute("far_field", np.int64(1)))
    (violation,) = [v for v in broken.violations if v.is_error]
    assert (violation.rule_id, violation.key) == ("PRODUCT-005", "/@far_field")


# ---------------------------------------------------------------------------
# Links and unreadable files.


def test_product_external_link_dangling_reported(tmp_path):
    layout = make_valid_product().without_dataset("probe").with_external_link("probe", "missing.h5", "/probe")
    (violation,) = check_product_file(write(tmp_path, layout)).violations
    assert violation.rule_id == "PRODUCT-001"
    assert violation.key == "probe"
    assert "'missing.h5'" in violation.seen
    assert "'/probe'" in violation.seen


def test_product_external_link_not_followed(tmp_path):
    target = tmp_path / "target.h5"
    with h5py.File(target, "w") as h5_file:
        h5_file["probe"] = np.full((3,), np.nan)
    layout = make_valid_product().with_external_link("extra", str(target), "/probe")
    (violation,) = check_product_file(write(tmp_path, layout)).violations
    assert violation.rule_id == "PRODUCT-001"
    assert str(target) in violation.seen


def test_product_dangling_soft_link_in_group_reported(tmp_path):
    path = write(tmp_path, make_valid_product())
    with h5py.File(path, "a") as h5_file:
        h5_file.create_group("extras")["old_probe"] = h5py.SoftLink("/nowhere")
    (violation,) = check_product_file(path).violations
    assert (violation.rule_id, violation.key) == ("PRODUCT-001", "extras/old_probe")
    assert "'/nowhere'" in violation.seen


def test_product_half_written_file_says_so(tmp_path):
    path = tmp_path / "half.h5"
    with h5py.File(path, "w") as h5_file:
        h5_file.attrs["name"] = "half"
        h5_file.attrs["detector_object_distance_m"] = 1.0
        h5_file.attrs["probe_energy_eV"] = 8000.0
        h5_file["probe_position_x_m"] = np.zeros(3)
    violations = check_product_file(path).violations
    assert [v.key for v in violations] == [
        "probe", "object", "object_layer_spacing_m", "probe_position_indexes", "probe_position_y_m", "loss_values",
    ]
    assert all(v.rule_id == "PRODUCT-007" for v in violations)
    assert all("looks half-written" in v.seen for v in violations)


def test_product_group_in_place_of_dataset_flagged(tmp_path):
    path = write(tmp_path, make_valid_product().without_dataset("object_layer_spacing_m"))
    with h5py.File(path, "a") as h5_file:
        h5_file.create_group("object_layer_spacing_m")
    (violation,) = check_product_file(path).violations
    assert (violation.rule_id, violation.key) == ("PRODUCT-007", "object_layer_spacing_m")
    assert violation.seen == "a group, not a dataset"
    assert violation.fix == "store object_layer_spacing_m as a dataset, not a group"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"PK\x03\x04 not hdf5 at all", "not a readable HDF5 file"),
    ],
    ids=["empty", "not-hdf5"],
)
def test_product_unreadable_file_is_input_error(tmp_path, content, message):
    path = tmp_path / "bad.h5"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        check_product_file(path)


def test_product_truncated_file_is_input_error(tmp_path):
    path = write(tmp_path, make_valid_product(n_positions=64, probe_px=32))
    data = path.read_bytes()
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(data[: len(data) // 2])
    assert has_hdf5_signature(truncated)
    with pytest.raises(InputError, match="truncated"):
        validate_file(truncated)


def test_product_missing_file_is_input_error(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        check_product_file(tmp_path / "absent.h5")


def test_product_signature_after_user_block_detected(tmp_path):
    path = tmp_path / "userblock.h5"
    layout = make_valid_product()
    with h5py.File(path, "w", userblock_size=512) as h5_file:
        for name, value in layout.attributes.items():
            h5_file.attrs[name] = value
    assert path.read_bytes()[:4] != b"\x89HDF"
    assert has_hdf5_signature(path)
    assert validate_file(path).family == "PRODUCT"


def test_product_npz_forced_as_product_is_input_error(tmp_path):
    path = tmp_path / "dataset.npz"
    np.savez(path, x=np.zeros(3))
    with pytest.raises(InputError, match="not a readable HDF5 file"):
        validate_file(path, contract="product")


# ---------------------------------------------------------------------------
# Values read in bounded chunks.


def test_product_chunked_reads_cover_every_value(tmp_path):
    array = (np.arange(2 * 3 * 40 * 50) + 1j).reshape(2, 3, 40, 50).astype(np.complex64)
    path = tmp_path / "chunks.h5"
    with h5py.File(path, "w") as h5_file:
        h5_file["probe"] = array
    with h5py.File(path, "r") as h5_file:
        source = H5ArraySource("probe", h5_file["probe"], str(path))
        for chunk_bytes in (8, 8 * 50, 8 * 50 * 7, 8 * 50 * 40 * 2, 10**9):
            flat = np.empty(array.size, array.dtype)
            sizes = []
            for start, values in source.chunks(chunk_bytes):
                flat[start : start + values.size] = values
                sizes.append(values.size)
            assert np.array_equal(flat, array.reshape(-1)), chunk_bytes
            assert max(sizes) * 8 <= max(chunk_bytes, 8 * 50), chunk_bytes


def test_product_nonfinite_probe_index_reported():
    layout = make_valid_product(probe_ndim=3)
    probe = layout.datasets["probe"].data.copy()
    probe[1, 4, 7] = complex(np.nan, 0.0)
    (violation,) = check_product_layout(layout.with_dataset("probe", probe)).violations
    assert violation.rule_id == "PRODUCT-010"
    assert violation.index == (1, 4, 7)


def test_product_index_range_opr_rows():
    layout = make_valid_product(WRITTEN, n_positions=6, probe_ndim=4, n_opr=2)
    weights = layout.datasets["probe"].attributes["opr_weights"][:4]
    layout = layout.with_dataset_attribute("probe", "opr_weights", weights)
    (violation,) = check_product_layout(layout).violations
    assert violation.rule_id == "PRODUCT-020"
    assert violation.index == (4,)
    assert "K = 4" in violation.expected


# ---------------------------------------------------------------------------
# The real product file and the command line.


def test_product_real_file_verdict(real_product):
    result = check_product_file(real_product)
    assert result.profile == WRITTEN
    assert [(v.rule_id, v.key) for v in result.violations] == [
        ("PRODUCT-007", "object_layer_spacing_m"),
        ("PRODUCT-011", "probe/@pixel_width_m"),
        ("PRODUCT-011", "probe/@pixel_height_m"),
    ]
    assert "object_layer_distance_m" in result.violations[0].fix
    assert result.violations[1].seen == "pixel_width_m = 0"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", "validate", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO_ROOT,
    )


def test_product_cli_real_file_json_names_profile(real_product):
    completed = run_cli("--json", str(real_product))
    assert completed.returncode == 1, completed.stderr
    (report,) = json.loads(completed.stdout)["files"]
    assert report["family"] == "PRODUCT"
    assert report["profile"] == WRITTEN
    assert report["errors"] == 3


def test_product_cli_profile_option_forces_profile(tmp_path):
    path = write(tmp_path, make_valid_product(PTYCHODUS))
    detected = run_cli("--json", str(path))
    assert detected.returncode == 0, detected.stderr
    assert json.loads(detected.stdout)["files"][0]["profile"] == PTYCHODUS
    forced = run_cli("--json", "--profile", "written", str(path))
    assert forced.returncode == 1, forced.stderr
    assert json.loads(forced.stdout)["files"][0]["profile"] == WRITTEN


def test_product_cli_truncated_file_exits_2(tmp_path):
    path = write(tmp_path, make_valid_product(n_positions=64, probe_px=32))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    completed = run_cli(str(path))
    assert completed.returncode == 2, completed.stderr
    assert "Traceback" not in completed.stderr
    assert "truncated" in completed.stdout
