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
    # NOTE: judged DATASET (missing keys), not RAW, because RAW detection looks only for the pattern
    # keys diff3d and diffraction. This file stores int32 counts under 'reciprocal'.
    "real/pppc/test235_truncated.npz": Verdict(1, "DATASET", ("DATASET-001", "DATASET-016")),
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
        assert verdict.message in stderr
        return
    (report,) = document["files"]
    assert report["family"] == verdict.family
    assert sorted({v["rule_id"] for v in report["violations"]}) == sorted(verdict.rule_ids)


def test_real_data_ptychodus_pixel_sizes_zero():
    _, document, _ = validate_json(REAL_DATA / "real/ptychi/metadata_250_truePos.hdf5")
    seen = {v["key"]: v["seen"] for v in document["files"][0]["violations"] if v["rule_id"] == "PRODUCT-011"}
    assert seen == {"probe/@pixel_width_m": "pixel_width_m = 0", "probe/@pixel_height_m": "pixel_height_m = 0"}


@pytest.mark.xfail(strict=True, reason="RAW detection looks only for the pattern keys diff3d and diffraction")
def test_real_data_pppc_counts_judged_raw():
    _, document, _ = validate_json(REAL_DATA / "real/pppc/test235_truncated.npz")
    assert document["files"][0]["family"] == "RAW"
