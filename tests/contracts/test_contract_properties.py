"""Property-based tests of the DATASET rules, with strategies from the contracts package."""

from __future__ import annotations

import tempfile
from pathlib import Path

from contract_files import save_npz
from hypothesis import given
from hypothesis import strategies as st

from contracts import CATALOGUE, check_dataset_arrays, validate_file
from contracts.strategies import valid_datasets, violating_datasets

DATASET_IDS = sorted(rule_id for rule_id in CATALOGUE if rule_id.startswith("DATASET-"))


@given(dataset=valid_datasets())
def test_dataset_valid_data_passes_every_rule(dataset):
    assert check_dataset_arrays(dataset) == []


@given(data=st.data(), rule_id=st.sampled_from(DATASET_IDS))
def test_dataset_violation_flagged_by_exactly_its_rule(data, rule_id):
    dataset = data.draw(violating_datasets(rule_id))
    flagged = sorted({v.rule_id for v in check_dataset_arrays(dataset)})
    assert flagged == [rule_id]


@given(data=st.data(), rule_id=st.sampled_from(DATASET_IDS), compressed=st.booleans())
def test_dataset_file_and_memory_checks_agree(data, rule_id, compressed):
    dataset = data.draw(violating_datasets(rule_id))
    with tempfile.TemporaryDirectory() as folder:
        path = save_npz(Path(folder) / "drawn.npz", dataset, compressed)
        from_file = validate_file(path).violations
    in_memory = check_dataset_arrays(dataset)
    assert [(v.rule_id, v.key, v.index) for v in from_file] == [(v.rule_id, v.key, v.index) for v in in_memory]
