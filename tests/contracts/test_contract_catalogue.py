"""The rule catalogue: spec and code in step, and every rule's own examples."""

from __future__ import annotations

import re
from importlib.resources import files

import numpy as np
import pytest

from contracts import CATALOGUE, Severity, check_dataset_arrays, validate_file
from contracts.dataset import make_valid_dataset
from contracts.rules import Rule, register

RULE_ROW = re.compile(r"^\|\s*([A-Z]+-\d{3})\s*\|\s*(error|warning)\s*\|", re.MULTILINE)
SECTION_HEADING = re.compile(r"^###\s+(\d+\.\d+)\s", re.MULTILINE)
ANY_ID = re.compile(r"\b[A-Z]+-\d{3}\b")
DATASET_IDS = sorted(rule_id for rule_id in CATALOGUE if rule_id.startswith("DATASET-"))


def spec_text() -> str:
    return files("contracts").joinpath("specs/data_contracts.md").read_text(encoding="utf-8")


def spec_rows() -> dict[str, tuple[str, str]]:
    """Map each rule ID in a spec table row to (severity, section)."""
    text = spec_text()
    headings = [(m.start(), m.group(1)) for m in SECTION_HEADING.finditer(text)]
    rows = {}
    for match in RULE_ROW.finditer(text):
        section = [number for start, number in headings if start < match.start()][-1]
        assert match.group(1) not in rows, f"{match.group(1)} has two rows in the spec"
        rows[match.group(1)] = (match.group(2), section)
    return rows


def error_ids(violations) -> list[str]:
    return sorted(v.rule_id for v in violations if v.severity is Severity.ERROR)


def test_catalogue_spec_ids_match_code_both_ways():
    spec_ids = set(spec_rows())
    code_ids = set(CATALOGUE)
    assert sorted(spec_ids - code_ids) == [], "rule IDs in the spec without a check in code"
    assert sorted(code_ids - spec_ids) == [], "rule IDs in code missing from the spec"


def test_catalogue_spec_mentions_no_unknown_id():
    mentioned = set(ANY_ID.findall(spec_text()))
    assert sorted(mentioned - set(CATALOGUE)) == []


def test_catalogue_severity_and_section_match_spec():
    rows = spec_rows()
    for rule_id, rule in CATALOGUE.items():
        assert rows[rule_id] == (rule.severity.value, rule.section), rule_id


def test_catalogue_ids_follow_family_pattern():
    for rule_id, rule in CATALOGUE.items():
        assert re.fullmatch(rf"{rule.family}-\d{{3}}", rule_id), rule_id
        assert rule.id == rule_id


def test_catalogue_register_rejects_duplicate_id():
    rule = CATALOGUE["DATASET-001"]
    with pytest.raises(ValueError, match="DATASET-001 is registered twice"):
        register([rule])


def test_catalogue_rules_are_frozen():
    rule = CATALOGUE["DATASET-001"]
    with pytest.raises(AttributeError, match="cannot assign"):
        rule.severity = Severity.WARNING  # type: ignore[misc]


@pytest.mark.parametrize("rule_id", DATASET_IDS)
def test_rule_valid_example_passes_every_rule(rule_id):
    rule: Rule = CATALOGUE[rule_id]
    assert check_dataset_arrays(rule.valid_example()) == []


@pytest.mark.parametrize("rule_id", DATASET_IDS)
def test_rule_violating_example_flags_only_its_rule(rule_id):
    rule = CATALOGUE[rule_id]
    violations = check_dataset_arrays(rule.violating_example())
    flagged = sorted({v.rule_id for v in violations})
    assert flagged == [rule_id]
    assert all(v.severity is rule.severity for v in violations)
    assert all(not v.check_error for v in violations)


@pytest.mark.parametrize("compressed", [False, True], ids=["savez", "savez_compressed"])
@pytest.mark.parametrize("rule_id", DATASET_IDS)
def test_rule_violating_example_file_matches_memory(rule_id, compressed, npz_writer):
    arrays = CATALOGUE[rule_id].violating_example()
    in_memory = check_dataset_arrays(arrays, source="x")
    report = validate_file(npz_writer(arrays, compressed=compressed), contract="dataset")
    seen = [(v.rule_id, v.key, v.index, v.seen) for v in report.violations]
    assert seen == [(v.rule_id, v.key, v.index, v.seen) for v in in_memory]


def test_dataset_missing_keys_one_violation_each():
    arrays = make_valid_dataset()
    for key in ("diffraction", "probeGuess", "xcoords", "ycoords"):
        del arrays[key]
    violations = check_dataset_arrays(arrays)
    assert [(v.rule_id, v.key) for v in violations] == [
        ("DATASET-001", "diffraction"),
        ("DATASET-001", "probeGuess"),
        ("DATASET-001", "xcoords"),
        ("DATASET-001", "ycoords"),
    ]


def test_dataset_reports_every_violation_not_first():
    arrays = make_valid_dataset()
    arrays["diffraction"] = arrays["diffraction"].astype(np.float64)
    arrays["probeGuess"] = arrays["probeGuess"].astype(np.complex128)
    arrays["Y"] = arrays["Y"][..., None]
    arrays["scan_index"] = arrays["scan_index"].astype(np.float32)
    assert error_ids(check_dataset_arrays(arrays)) == [
        "DATASET-004", "DATASET-010", "DATASET-021", "DATASET-025",
    ]


def test_dataset_nonfinite_reports_count_and_first_index():
    arrays = make_valid_dataset(n_positions=4, patch_px=8)
    arrays["diffraction"][2, 3, 5] = np.nan
    arrays["diffraction"][3, 0, 0] = np.inf
    (violation,) = check_dataset_arrays(arrays)
    assert violation.rule_id == "DATASET-005"
    assert violation.index == (2, 3, 5)
    assert violation.seen.startswith("2 of 256 values")


def test_dataset_uint16_counts_flagged_as_intensity():
    arrays = make_valid_dataset(n_positions=3, patch_px=8)
    arrays["diffraction"] = np.full((3, 8, 8), 40, dtype=np.uint16)
    assert error_ids(check_dataset_arrays(arrays)) == ["DATASET-004", "DATASET-007", "DATASET-008"]


def test_dataset_hwn_axis_order_fix_names_transpose():
    arrays = make_valid_dataset(n_positions=5, patch_px=8)
    arrays["diffraction"] = np.ascontiguousarray(np.transpose(arrays["diffraction"], (1, 2, 0)))
    frame = [v for v in check_dataset_arrays(arrays) if v.rule_id == "DATASET-012"]
    assert len(frame) == 2
    assert "np.transpose(diffraction, (2, 0, 1))" in frame[0].fix


def test_dataset_crashing_check_reported_and_run_continues(monkeypatch):
    def explode(view):
        raise ZeroDivisionError("boom")

    rule = CATALOGUE["DATASET-007"]
    monkeypatch.setitem(CATALOGUE, "DATASET-007", rule.__class__(**{**rule.__dict__, "check": explode}))
    arrays = make_valid_dataset()
    arrays["probeGuess"] = arrays["probeGuess"].astype(np.complex128)
    violations = check_dataset_arrays(arrays)
    assert [(v.rule_id, v.check_error) for v in violations] == [
        ("DATASET-007", True),
        ("DATASET-010", False),
    ]
    assert "ZeroDivisionError: boom" in violations[0].seen


def test_dataset_accepts_big_endian_and_fortran_arrays():
    arrays = make_valid_dataset()
    arrays["diffraction"] = np.asfortranarray(arrays["diffraction"].astype(">f4"))
    arrays["probeGuess"] = arrays["probeGuess"].astype(">c8")
    arrays["xcoords"] = arrays["xcoords"].astype(">f8")
    assert check_dataset_arrays(arrays) == []


def test_dataset_extra_unicode_metadata_allowed():
    arrays = make_valid_dataset()
    arrays["metadata_json"] = np.array('{"energy_keV": 8.8}')
    arrays["comment"] = np.array(["a", "bc"])
    assert check_dataset_arrays(arrays) == []
