"""Real files from the field: each gets the verdict its provenance predicts, from the CLI.

The files sit outside the repository, in ``../shared/data`` next to it; the tests skip
when that folder is absent.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
REAL_DATA = REPO_ROOT.parent / "shared" / "data"


@dataclass(frozen=True)
class Verdict:
    """The expected verdict on one file: exit status, family (None when unreadable) and a message or rule IDs."""

    exit_status: int
    family: str | None
    rule_ids: tuple[str, ...] = ()
    message: str = ""


VERDICTS = {
    "real/pppc/20191008_39_diff_sample.npy": Verdict(2, None, message="not an NPZ dataset: a bare .npy array (uint16, shape (2, 2, 256, 256))"),
    "real/cdtools/gold_balls.mat": Verdict(2, None, message="MATLAB 5.0 MAT-file, which is not supported"),
    "real/cdtools/PETRAIII_P25_Near_Field_Ptycho.cxi": Verdict(2, None, message="near-field geometry"),
    "real/ptychi/metadata_250_truePos.hdf5": Verdict(1, "PRODUCT", ("PRODUCT-007", "PRODUCT-011")),
    "real/ptychi/metadata_250_nominalPos.hdf5": Verdict(1, "PRODUCT", ("PRODUCT-007", "PRODUCT-011")),
    "real/ptychopinn/Run1084_recon3_postPC.npz": Verdict(1, "DATASET", ("DATASET-001", "DATASET-010", "DATASET-018")),
    "real/pppc/test235_truncated.npz": Verdict(1, "RAW", ("RAW-006", "RAW-007", "RAW-008", "RAW-009")),
    "real/tike/siemens-star-small.npz.bz2": Verdict(2, None, message="bzip2-compressed file"),
    "real/ptychonn/optimized_route.npz": Verdict(1, "DATASET", ("DATASET-001", "DATASET-016")),
    "ptychopinn-fixtures/c1_bigF.npz": Verdict(1, "DATASET", ("DATASET-001", "DATASET-016")),
    "ptychopinn-fixtures/c4_bigT_probe.npz": Verdict(1, "DATASET", ("DATASET-001", "DATASET-016")),
}

pytestmark = pytest.mark.skipif(not REAL_DATA.is_dir(), reason=f"real data folder {REAL_DATA} not found")


def validate_json(path: Path) -> tuple[int, dict, str]:
    result = subprocess.run(
        [sys.executable, "-m", "harness", "validate", "--json", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, json.loads(result.stdout), result.stderr


def test_real_data_every_file_has_a_verdict():
    files = sorted(
        str(path.relative_to(REAL_DATA))
        for path in REAL_DATA.rglob("*")
        if path.is_file() and path.name not in ("README.md", "SHA256SUMS")
    )
    assert files == sorted(VERDICTS)


@pytest.mark.parametrize("relative", sorted(VERDICTS))
def test_real_data_file_verdict(relative):
    verdict = VERDICTS[relative]
    status, document, stderr = validate_json(REAL_DATA / relative)
    assert status == verdict.exit_status, stderr
    if verdict.family is None:
        (entry,) = document["unreadable"]
        assert verdict.message in entry["error"]
        assert verdict.message not in stderr
        assert "1 of 1 files could not be read" in stderr
        return
    (report,) = document["files"]
    assert report["family"] == verdict.family
    assert sorted({v["rule_id"] for v in report["violations"]}) == sorted(verdict.rule_ids)


def test_real_data_ptychodus_pixel_sizes_zero():
    _, document, _ = validate_json(REAL_DATA / "real/ptychi/metadata_250_truePos.hdf5")
    seen = {v["key"]: v["seen"] for v in document["files"][0]["violations"] if v["rule_id"] == "PRODUCT-011"}
    assert seen == {"probe/@pixel_width_m": "pixel_width_m = 0", "probe/@pixel_height_m": "pixel_height_m = 0"}


def test_real_data_pppc_counts_fixes_name_conversions():
    _, document, _ = validate_json(REAL_DATA / "real/pppc/test235_truncated.npz")
    (report,) = document["files"]
    assert report["family"] == "RAW"
    by_rule = {v["rule_id"]: v for v in report["violations"]}
    assert by_rule["RAW-007"]["key"] == "reciprocal"
    assert "arrays.pop('reciprocal')" in by_rule["RAW-007"]["fix"]
    assert "np.sqrt(np.clip(" in by_rule["RAW-007"]["fix"]
    assert "(N/2)**2 = 65536" in by_rule["RAW-007"]["fix"]
    assert by_rule["RAW-008"]["key"] == "position"
    assert "pixel_size_m" in by_rule["RAW-008"]["fix"]
    assert "which this file does not store" in by_rule["RAW-008"]["fix"]
    assert by_rule["RAW-009"]["seen"] == "frames of 512 x 512 pixels"
    assert "reciprocal[:, 128:384, 128:384]" in by_rule["RAW-009"]["fix"]
    assert "reciprocal.reshape(20, 256, 2, 256, 2).sum(axis=(2, 4))" in by_rule["RAW-009"]["fix"]
