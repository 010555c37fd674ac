"""Property-based tests of the RAW rules, with strategies from the contracts package."""

from __future__ import annotations

import tempfile
from pathlib import Path

from contract_files import save_npz
from hypothesis import given
from hypothesis import strategies as st

from contracts import CATALOGUE, validate_file
from contracts.raw import check_raw_arrays
from contracts.strategies import valid_datasets, violating_datasets

RAW_IDS = sorted(rule_id for rule_id in CATALOGUE if rule_id.startswith("RAW-"))
# Rules whose trait alone makes validate judge a file as RAW; the others describe broken
# canonical files, which stay DATASET.
DETECTED_IDS = ("RAW-001", "RAW-002", "RAW-003", "RAW-007")


@given(dataset=valid_datasets(all_keys=True))
def test_raw_canonical_data_passes_every_raw_rule(dataset):
    assert check_raw_arrays(dataset) == []


@given(data=st.data(), rule_id=st.sampled_from(RAW_IDS))
def test_raw_violation_flagged_by_exactly_its_rule(data, rule_id):
    dataset = data.draw(violating_datasets(rule_id))
    flagged = sorted({v.rule_id for v in check_raw_arrays(dataset)})
    assert flagged == [rule_id]


@given(data=st.data(), rule_id=st.sampled_from(RAW_IDS), compressed=st.booleans())
def test_raw_family_detected_only_for_raw_traits(data, rule_id, compressed):
    dataset = data.draw(violating_datasets(rule_id))
    with tempfile.TemporaryDirectory() as folder:
        report = validate_file(save_npz(Path(folder) / "drawn.npz", dataset, compressed))
    expected = "RAW" if rule_id in DETECTED_IDS else "DATASET"
    assert report.family == expected
