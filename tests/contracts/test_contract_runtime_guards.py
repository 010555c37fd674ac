"""Guards of the runtime families at stage boundaries: modes and recording."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from contracts import ContractViolationError, GuardMode, guard_batch, guard_grouped, guard_recon, recording
from contracts.batch import make_valid_batch
from contracts.grouped import make_valid_grouped
from contracts.recon import make_valid_recon

torch = pytest.importorskip("torch")


def test_guard_grouped_raise_names_rule_and_stage():
    arrays = make_valid_grouped()
    arrays["nn_indices"] = arrays["nn_indices"].astype(np.float32)
    with pytest.raises(ContractViolationError, match=r"stage 'grouping'(.|\n)*GROUPED-007") as caught:
        guard_grouped(arrays, stage="grouping")
    assert [v.rule_id for v in caught.value.violations] == ["GROUPED-007"]


def test_guard_grouped_gridsize_forwarded():
    record = guard_grouped(make_valid_grouped(gridsize=2), stage="grouping", gridsize=1, mode=GuardMode.WARN)
    assert [v.rule_id for v in record.violations] == ["GROUPED-001"]


def test_guard_batch_clean_batch_record():
    record = guard_batch(make_valid_batch(), stage="network input", device="cpu")
    assert record.ok
    assert record.family == "BATCH"
    assert record.rules_checked == 8


def test_guard_batch_warn_mode_logs(caplog):
    tensors = make_valid_batch()
    tensors["X"] = tensors["X"].double()
    with caplog.at_level(logging.WARNING, logger="contracts.guards"):
        record = guard_batch(tensors, stage="network input", mode="warn")
    assert not record.ok
    assert len(caplog.records) == 1
    assert "BATCH-002" in caplog.records[0].getMessage()


def test_guard_batch_raise_on_wrong_device():
    with pytest.raises(ContractViolationError, match="BATCH-008.*device cpu; expected device cuda:1"):
        guard_batch(make_valid_batch(), stage="network input", device="cuda:1")


def test_guard_recon_off_checks_nothing():
    arrays = make_valid_recon()
    arrays["phase"] = arrays["phase"] + 10
    record = guard_recon(arrays, stage="stitched", mode=GuardMode.OFF)
    assert record.rules_checked == 0
    assert record.violations == ()


def test_guard_recon_raise_on_unwrapped_phase():
    arrays = make_valid_recon()
    arrays["phase"] = arrays["phase"] + np.float32(4.0)
    with pytest.raises(ContractViolationError, match="RECON-008"):
        guard_recon(arrays, stage="stitched")


def test_guard_recording_lists_runtime_stages():
    with recording() as records:
        guard_grouped(make_valid_grouped(), stage="grouped")
        guard_batch(make_valid_batch(), stage="batch", device="cpu")
        guard_recon(make_valid_recon(), stage="stitched")
    assert [(r.stage, r.family, r.ok) for r in records] == [
        ("grouped", "GROUPED", True),
        ("batch", "BATCH", True),
        ("stitched", "RECON", True),
    ]
    assert records[1].to_dict()["rules_checked"] == 8


def test_guard_runtime_rejects_unknown_mode():
    with pytest.raises(ValueError, match="'loud' is not a valid GuardMode"):
        guard_recon(make_valid_recon(), stage="x", mode="loud")
