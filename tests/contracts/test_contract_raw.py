"""The RAW family: each rule's examples, the conversions its fixes name, and family detection."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from convert_files import legacy_arrays

from contracts import CATALOGUE, Severity, check_dataset_arrays, validate_file
from contracts.dataset import make_valid_dataset
from contracts.raw import check_raw_arrays, is_hwn_order

RAW_IDS = sorted(rule_id for rule_id in CATALOGUE if rule_id.startswith("RAW-"))


def test_raw_catalogue_has_nine_rules():
    assert RAW_IDS == [f"RAW-{number:03d}" for number in range(1, 10)]
    severities = [CATALOGUE[rule_id].severity for rule_id in RAW_IDS]
    assert severities == [Severity.ERROR] * 5 + [Severity.WARNING] + [Severity.ERROR] * 3


@pytest.mark.parametrize("rule_id", RAW_IDS)
def test_raw_rule_valid_example_passes_every_raw_rule(rule_id):
    assert check_raw_arrays(CATALOGUE[rule_id].valid_example()) == []


@pytest.mark.parametrize("rule_id", RAW_IDS)
def test_raw_rule_violating_example_flags_only_its_rule(rule_id):
    rule = CATALOGUE[rule_id]
    violations = check_raw_arrays(rule.violating_example())
    assert sorted({v.rule_id for v in violations}) == [rule_id]
    assert all(v.severity is rule.severity for v in violations)
    assert all(not v.check_error for v in violations)


@pytest.mark.parametrize("compressed", [False, True], ids=["savez", "savez_compressed"])
@pytest.mark.parametrize("rule_id", RAW_IDS)
def test_raw_rule_violating_example_file_matches_memory(rule_id, compressed, npz_writer):
    arrays = CATALOGUE[rule_id].violating_example()
    in_memory = check_raw_arrays(arrays, source="x")
    report = validate_file(npz_writer(arrays, compressed=compressed), contract="raw")
    assert report.family == "RAW"
    assert [(v.rule_id, v.key, v.seen, v.fix) for v in report.violations] == [
        (v.rule_id, v.key, v.seen, v.fix) for v in in_memory
    ]


def test_raw_legacy_dataset_reports_every_trait():
    violations = check_raw_arrays(legacy_arrays())
    assert [(v.rule_id, v.key) for v in violations] == [
        ("RAW-001", "diff3d"),
        ("RAW-002", "diff3d"),
        ("RAW-003", "diff3d"),
        ("RAW-004", "probeGuess"),
        ("RAW-004", "objectGuess"),
        ("RAW-004", "Y"),
        ("RAW-005", "Y"),
        ("RAW-006", "scan_index"),
    ]


def test_raw_every_fix_names_convert_command():
    for violation in check_raw_arrays(legacy_arrays()):
        assert "ptycho-harness convert IN OUT" in violation.fix, violation.rule_id


def test_raw_integer_fix_states_computed_factor():
    arrays = make_valid_dataset(n_positions=4, patch_px=8)
    counts = np.zeros((4, 8, 8), dtype=np.uint16)
    counts[:, 4, 4] = [100, 200, 300, 400]
    arrays["diffraction"] = counts
    (violation,) = check_raw_arrays(arrays)
    # Mean counts per pattern 250, target (8/2)^2 = 16, so f = sqrt(16 / 250).
    expected_factor = np.sqrt(16 / 250)
    assert violation.rule_id == "RAW-002"
    assert f"f = {expected_factor:.6g}" in violation.fix
    assert "np.sqrt(np.clip(diffraction, 0, None)" in violation.fix
    assert "(N/2)**2 = 16" in violation.fix


def test_raw_axis_order_fix_names_transpose():
    violations = [v for v in check_raw_arrays(legacy_arrays()) if v.rule_id == "RAW-003"]
    assert len(violations) == 1
    assert "np.transpose(diff3d, (2, 0, 1))" in violations[0].fix
    assert violations[0].expected == "(n, H, W) = (6, 8, 8)"


def test_raw_channel_and_scan_index_fixes_exact():
    by_rule = {v.rule_id: v for v in check_raw_arrays(legacy_arrays(n_positions=6))}
    assert "Y = Y[..., 0]" in by_rule["RAW-005"].fix
    assert "np.arange(6, dtype=np.int64)" in by_rule["RAW-006"].fix


def test_raw_both_pattern_keys_flagged_as_duplicate():
    arrays = make_valid_dataset()
    arrays["diff3d"] = arrays["diffraction"]
    (violation,) = check_raw_arrays(arrays)
    assert violation.rule_id == "RAW-001"
    assert "both 'diff3d' and 'diffraction'" in violation.seen


@pytest.mark.parametrize(
    ("shape", "probe_shape", "expected"),
    [
        ((8, 8, 5), (8, 8), True),
        ((5, 8, 8), (8, 8), False),
        ((8, 8, 8), (8, 8), False),
        ((8, 6, 5), (8, 6), True),
        ((8, 8, 5), None, True),
        ((5, 8, 8), None, False),
        ((8, 8), (8, 8), False),
    ],
)
def test_raw_is_hwn_order_cases(shape, probe_shape, expected):
    assert is_hwn_order(shape, probe_shape) is expected


@pytest.mark.parametrize(
    "change",
    [
        lambda a: {("diff3d" if k == "diffraction" else k): v for k, v in a.items()},
        lambda a: {**a, "diffraction": np.rint(a["diffraction"] * 100).astype(np.uint16)},
        lambda a: {**a, "diffraction": np.ascontiguousarray(np.transpose(a["diffraction"], (1, 2, 0)))},
    ],
    ids=["diff3d", "uint16", "hwn"],
)
def test_validate_detects_raw_family_by_content(change, npz_writer):
    arrays = change(make_valid_dataset(n_positions=5, patch_px=8))
    report = validate_file(npz_writer(arrays))
    assert report.family == "RAW"
    assert not report.ok


@pytest.mark.parametrize(
    "change",
    [
        lambda a: {**a, "probeGuess": a["probeGuess"].astype(np.complex128)},
        lambda a: {**a, "Y": a["Y"][..., None]},
        lambda a: {**a, "diffraction": a["diffraction"].astype(np.float64)},
        lambda a: {k: v for k, v in a.items() if k != "scan_index"},
    ],
    ids=["complex128", "4d-Y", "float64", "no-scan-index"],
)
def test_validate_keeps_broken_canonical_as_dataset(change, npz_writer):
    arrays = change(make_valid_dataset(n_positions=5, patch_px=8))
    report = validate_file(npz_writer(arrays))
    assert report.family == "DATASET"
    assert [v.rule_id for v in report.errors] == [v.rule_id for v in check_dataset_arrays(arrays) if v.is_error]


def measured_arrays(frame_px: int = 16, n_positions: int = 5) -> dict[str, np.ndarray]:
    """Arrays as a measuring instrument saves them: counts under 'reciprocal', positions in metres."""
    counts = np.zeros((n_positions, frame_px, frame_px), dtype=np.int32)
    counts[:, frame_px // 2, frame_px // 2] = 400
    positions_px = np.stack([np.arange(n_positions) * 3.0, np.arange(n_positions) * 2.0], axis=1)
    return {"reciprocal": counts, "position": positions_px * 1e-8}


def test_raw_unknown_counts_key_fix_states_factor():
    by_rule = {v.rule_id: v for v in check_raw_arrays(measured_arrays())}
    assert sorted(by_rule) == ["RAW-006", "RAW-007", "RAW-008"]
    violation = by_rule["RAW-007"]
    # 400 counts per pattern, target (16/2)^2 = 64, so f = sqrt(64 / 400) = 0.4.
    assert violation.key == "reciprocal"
    assert "f = 0.4," in violation.fix
    assert "arrays['diffraction'] = (np.sqrt(np.clip(arrays.pop('reciprocal'), 0, None)" in violation.fix
    assert "np.arange(5, dtype=np.int64)" in by_rule["RAW-006"].fix


def test_raw_unknown_counts_key_ignored_with_diffraction():
    arrays = make_valid_dataset(n_positions=4, patch_px=8)
    arrays["dark"] = np.zeros((4, 8, 8), dtype=np.uint16)
    assert check_raw_arrays(arrays) == []


def test_raw_float_stack_under_unknown_key_not_counts():
    arrays = measured_arrays()
    arrays["reciprocal"] = arrays["reciprocal"].astype(np.float32)
    assert sorted({v.rule_id for v in check_raw_arrays(arrays)}) == ["RAW-008"]


def test_raw_metre_positions_fix_needs_pixel_size():
    (violation,) = [v for v in check_raw_arrays(measured_arrays()) if v.rule_id == "RAW-008"]
    assert violation.key == "position"
    assert "which this file does not store" in violation.fix
    assert "xcoords = position[:, 0] / pixel_size_m" in violation.fix
    assert "16/2 - min + 8" in violation.fix


@pytest.mark.parametrize(
    "positions",
    [np.arange(10.0).reshape(5, 2), np.zeros((5, 2)), np.full((5, 2), 2e-3)],
    ids=["pixels", "all-zero", "millimetres"],
)
def test_raw_positions_not_metres_ignored(positions):
    arrays = measured_arrays()
    arrays["position"] = positions
    assert "RAW-008" not in {v.rule_id for v in check_raw_arrays(arrays)}


def test_raw_metre_positions_ignored_with_xcoords():
    arrays = make_valid_dataset(n_positions=4, patch_px=8)
    arrays["position"] = np.full((4, 2), 1e-7)
    assert check_raw_arrays(arrays) == []


def test_raw_large_frames_fix_names_crop_and_bin():
    (violation,) = [v for v in check_raw_arrays(measured_arrays(frame_px=512, n_positions=2)) if v.rule_id == "RAW-009"]
    assert violation.seen == "frames of 512 x 512 pixels"
    assert "reciprocal[:, 128:384, 128:384]" in violation.fix
    assert "reciprocal.reshape(2, 256, 2, 256, 2).sum(axis=(2, 4))" in violation.fix


def test_raw_odd_large_frames_fix_crops_only():
    arrays = make_valid_dataset(n_positions=2, patch_px=8)
    arrays["diffraction"] = np.zeros((2, 300, 300), dtype=np.float32)
    (violation,) = check_raw_arrays(arrays)
    assert violation.rule_id == "RAW-009"
    assert "diffraction[:, 22:278, 22:278]" in violation.fix
    assert "reshape" not in violation.fix


def test_validate_detects_raw_family_for_unknown_counts_key(npz_writer):
    report = validate_file(npz_writer(measured_arrays()))
    assert report.family == "RAW"
    assert [v.rule_id for v in report.errors] == ["RAW-007", "RAW-008"]


def test_validate_keeps_positions_only_file_as_dataset(npz_writer):
    arrays = {"position": np.full((5, 2), 1e-7)}
    assert validate_file(npz_writer(arrays)).family == "DATASET"


def test_validate_contract_raw_forces_raw_rules(npz_writer):
    report = validate_file(npz_writer(make_valid_dataset()), contract="raw")
    assert report.family == "RAW"
    assert report.rules_checked == len(RAW_IDS)
    assert report.violations == ()


def test_contracts_import_no_torch():
    script = (
        "import sys\n"
        "import contracts, contracts.raw, contracts.convert, contracts.convert.cxi\n"
        "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('torch'))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
