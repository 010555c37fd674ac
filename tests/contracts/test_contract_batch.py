"""BATCH: torch tensors at the inference stage boundaries."""

from __future__ import annotations

import numpy as np
import pytest

from contracts import check_batch_tensors
from contracts.batch import make_valid_batch

torch = pytest.importorskip("torch")


def rule_ids(violations) -> list[str]:
    return sorted({v.rule_id for v in violations})


def test_batch_channels_last_fix_names_permute():
    tensors = make_valid_batch(gridsize=2)
    tensors["X"] = tensors["X"].permute(0, 2, 3, 1)
    (violation,) = check_batch_tensors(tensors)
    assert violation.rule_id == "BATCH-001"
    assert "channels last" in violation.seen
    assert violation.fix == "permute it: X = X.permute(0, 3, 1, 2).contiguous()"


def test_batch_reads_no_values_of_meta_tensors():
    tensors = {key: value.to("meta") if torch.is_tensor(value) else value for key, value in make_valid_batch().items()}
    assert check_batch_tensors(tensors, device="meta") == []


def test_batch_device_mismatch_names_move():
    violations = check_batch_tensors(make_valid_batch(), device="cuda")
    assert rule_ids(violations) == ["BATCH-008"]
    assert len(violations) == 4
    assert violations[0].fix == "move it: X = X.to('cuda')"


def test_batch_numpy_array_is_not_a_tensor():
    tensors = make_valid_batch()
    tensors["X"] = tensors["X"].numpy()
    (violation,) = check_batch_tensors(tensors)
    assert violation.rule_id == "BATCH-008"
    assert violation.seen == "device numpy"
    assert "torch.from_numpy(X)" in violation.fix


def test_batch_bfloat16_input_reported():
    tensors = make_valid_batch()
    tensors["X"] = tensors["X"].to(torch.bfloat16)
    (violation,) = check_batch_tensors(tensors)
    assert violation.rule_id == "BATCH-002"
    assert "bfloat16" in violation.seen


@pytest.mark.parametrize("patch_px", [64, 128, 256])
def test_batch_supported_sizes_pass(patch_px):
    assert check_batch_tensors(make_valid_batch(batch_size=1, patch_px=patch_px), device="cpu") == []


def test_batch_output_shape_must_match_input():
    tensors = make_valid_batch(gridsize=2)
    tensors["output"] = tensors["output"][:, :1]
    (violation,) = check_batch_tensors(tensors)
    assert violation.rule_id == "BATCH-007"
    assert "(B, 4, 64, 64)" in violation.expected


def test_batch_absent_output_skipped():
    tensors = make_valid_batch()
    del tensors["output"]
    assert check_batch_tensors(tensors) == []


def test_batch_reference_loader_positions_are_float64():
    """The reference loader keeps the stored coordinate dtype, which BATCH-004 rejects."""
    from reference_impl.data import collate_inference_batch

    sample = (np.ones((1, 64, 64), np.float32), np.float64(3.0), np.float64(4.0), 0)
    batch = collate_inference_batch([sample, sample])
    violations = check_batch_tensors({"X": batch.diffraction, "positions": batch.xcoords})
    assert rule_ids(violations) == ["BATCH-004"]
