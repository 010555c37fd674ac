"""End-to-end tests of ``ptycho-harness run``, each in a subprocess as a user would run it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

RUN1084 = Path(__file__).resolve().parents[1] / "data" / "Run1084_recon3_postPC.npz"


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


def only_run_folder(reports: Path) -> Path:
    folders = [path for path in reports.iterdir() if path.is_dir()]
    assert len(folders) == 1, f"expected one run folder, found {folders}"
    return folders[0]


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    workdir = tmp_path_factory.mktemp("default-run")
    result = run_cli("run", "--reports", str(workdir / "reports"), cwd=workdir)
    return result, workdir / "reports"


def test_run_default_dataset_exits_zero(default_run):
    result, _ = default_run
    assert result.returncode == 0, result.stderr
    assert "PASSED" in result.stdout.splitlines()[-1]


def test_run_default_writes_complete_folder(default_run):
    result, reports = default_run
    folder = only_run_folder(reports)
    expected = {
        "manifest.json",
        "contracts.json",
        "inference.json",
        "quality.json",
        "stitched_object.npz",
        "amplitude.png",
        "phase.png",
        "benchmark.json",
        "bench.log",
        "properties.json",
        "properties.log",
        "summary.md",
    }
    missing = expected - {path.name for path in folder.iterdir()}
    assert not missing, f"run folder lacks {sorted(missing)}; stderr:\n{result.stderr}"


def test_run_manifest_records_completion(default_run):
    _, reports = default_run
    manifest = json.loads((only_run_folder(reports) / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["command"]
    assert manifest["started_at"] <= manifest["finished_at"]
    assert "torch" in manifest["environment"]["packages"]


def test_run_benchmark_json_is_pytest_benchmark_format(default_run):
    _, reports = default_run
    data = json.loads((only_run_folder(reports) / "benchmark.json").read_text())
    assert data["benchmarks"], "benchmark.json lists no benchmarks"
    assert "machine_info" in data
    assert all("stats" in bench and bench["stats"]["rounds"] >= 1 for bench in data["benchmarks"])


def test_run_reconstruction_beats_trivial_guess(default_run):
    _, reports = default_run
    quality = json.loads((only_run_folder(reports) / "quality.json").read_text())
    assert quality["amplitude_error"] < quality["trivial_amplitude_error"]
    assert quality["phase_error_rad"] < quality["trivial_phase_error_rad"]


def test_run_stitched_object_is_complex64(default_run):
    _, reports = default_run
    with np.load(only_run_folder(reports) / "stitched_object.npz", allow_pickle=False) as data:
        assert data["obj"].dtype == np.complex64
        assert np.isfinite(data["obj"]).all()


def test_run_contracts_list_input_guard_stage(default_run):
    _, reports = default_run
    contracts = json.loads((only_run_folder(reports) / "contracts.json").read_text())
    assert contracts["file"]["violations"] == [] or all(
        v["severity"] == "warning" for v in contracts["file"]["violations"]
    )
    assert "dataset input" in [stage["stage"] for stage in contracts["stages"]]


def test_run_summary_starts_with_verdict(default_run):
    _, reports = default_run
    summary = (only_run_folder(reports) / "summary.md").read_text()
    assert summary.splitlines()[0].endswith("PASSED")
    assert "amplitude error" in summary


def test_run_invalid_dataset_fails_without_inference(tmp_path):
    result = run_cli("run", str(RUN1084), "--no-bench", "--reports", str(tmp_path / "reports"), cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    folder = only_run_folder(tmp_path / "reports")
    contracts = json.loads((folder / "contracts.json").read_text())
    assert "DATASET" in {v["rule_id"].split("-")[0] for v in contracts["file"]["violations"]}
    assert not (folder / "stitched_object.npz").exists()
    assert json.loads((folder / "manifest.json").read_text())["status"] == "failed"


def test_run_missing_dataset_is_input_error(tmp_path):
    result = run_cli("run", str(tmp_path / "absent.npz"), "--reports", str(tmp_path / "reports"), cwd=tmp_path)
    assert result.returncode == 2
    assert "dataset not found" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "reports").exists()


def test_run_unreadable_dataset_is_input_error(tmp_path):
    not_npz = tmp_path / "notes.npz"
    not_npz.write_text("these are notes, not an NPZ archive\n")
    result = run_cli("run", str(not_npz), "--reports", str(tmp_path / "reports"), cwd=tmp_path)
    assert result.returncode == 2
    assert "cannot read dataset" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "reports").exists()


def test_run_folder_renders_as_report(default_run, tmp_path):
    _, reports = default_run
    result = run_cli("report", str(only_run_folder(reports)), "--out", str(tmp_path / "report"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    html = (tmp_path / "report" / "report.html").read_text()
    assert "PASSED" in html
    assert "dataset input" in html
    assert "data:image/png;base64," in html
