"""Contract guards at stage boundaries and the recorder of guard runs."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from contracts import ContractViolationError, GuardMode, guard_dataset, recording
from contracts.dataset import make_valid_dataset


def broken_dataset() -> dict[str, np.ndarray]:
    arrays = make_valid_dataset(n_positions=4, patch_px=8)
    arrays["diffraction"][1, 2, 3] = np.nan
    arrays["probeGuess"] = arrays["probeGuess"].astype(np.complex128)
    return arrays


def test_guard_raise_mode_lists_every_violation():
    with pytest.raises(ContractViolationError, match=r"DATASET-005.*\n.*DATASET-010") as caught:
        guard_dataset(broken_dataset(), stage="loaded")
    error = caught.value
    assert error.stage == "loaded"
    assert [v.rule_id for v in error.violations] == ["DATASET-005", "DATASET-010"]
    assert "expected dtype complex64" in str(error)
    assert "fix: convert it: probeGuess = probeGuess.astype(np.complex64)" in str(error)


def test_guard_raise_mode_passes_clean_data():
    record = guard_dataset(make_valid_dataset(), stage="loaded")
    assert record.ok
    assert record.violations == ()
    assert record.rules_checked == 26


def test_guard_raise_mode_ignores_warnings():
    arrays = make_valid_dataset()
    del arrays["objectGuess"]
    record = guard_dataset(arrays, stage="loaded", mode=GuardMode.RAISE)
    assert [v.rule_id for v in record.violations] == ["DATASET-016"]


def test_guard_warn_mode_logs_and_returns(caplog):
    with caplog.at_level(logging.WARNING, logger="contracts.guards"):
        record = guard_dataset(broken_dataset(), stage="batch", mode=GuardMode.WARN)
    assert not record.ok
    assert len(caplog.records) == 2
    assert "DATASET-005" in caplog.records[0].getMessage()


def test_guard_off_mode_checks_nothing():
    record = guard_dataset(broken_dataset(), stage="batch", mode="off")
    assert record.mode is GuardMode.OFF
    assert record.rules_checked == 0
    assert record.violations == ()


def test_guard_recording_collects_each_stage():
    with recording() as records:
        guard_dataset(make_valid_dataset(), stage="loaded")
        guard_dataset(broken_dataset(), stage="converted", mode=GuardMode.WARN)
        with pytest.raises(ContractViolationError, match="stage 'final'"):
            guard_dataset(broken_dataset(), stage="final")
    assert [(r.stage, r.ok) for r in records] == [("loaded", True), ("converted", False), ("final", False)]
    assert records[1].to_dict()["violations"][0]["rule_id"] == "DATASET-005"


def test_guard_recording_nested_blocks_keep_their_own():
    with recording() as outer:
        guard_dataset(make_valid_dataset(), stage="outer")
        with recording() as inner:
            guard_dataset(make_valid_dataset(), stage="inner")
        guard_dataset(make_valid_dataset(), stage="after")
    assert [r.stage for r in inner] == ["inner"]
    assert [r.stage for r in outer] == ["outer", "after"]


def test_guard_outside_recording_keeps_nothing():
    guard_dataset(make_valid_dataset(), stage="alone")
    with recording() as records:
        pass
    assert records == []


def test_guard_rejects_unknown_mode():
    with pytest.raises(ValueError, match="'loud' is not a valid GuardMode"):
        guard_dataset(make_valid_dataset(), stage="x", mode="loud")
