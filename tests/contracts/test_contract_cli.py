"""``ptycho-harness validate`` run as a user runs it: in a subprocess, checking exit status."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from contracts.dataset import make_valid_dataset
from harness.commands.validate import CONTRACT_NAMES


def harness_command() -> list[str]:
    script = Path(sys.executable).with_name("ptycho-harness")
    if script.is_file():
        return [str(script)]
    found = shutil.which("ptycho-harness")
    return [found] if found else [sys.executable, "-m", "harness"]


def run_validate(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = harness_command() + ["validate", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def describe(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


@pytest.fixture
def clean_file(npz_writer) -> Path:
    return npz_writer(make_valid_dataset())


@pytest.fixture
def broken_file(npz_writer) -> Path:
    arrays = make_valid_dataset()
    arrays["diffraction"] = arrays["diffraction"].astype(np.float64)
    return npz_writer(arrays, compressed=True)


def test_cli_validate_clean_file_exits_0(clean_file):
    result = run_validate(clean_file)
    assert result.returncode == 0, describe(result)
    assert f"PASS {clean_file}" in result.stdout
    assert "1 file checked: 1 clean, 0 with errors, 0 unreadable" in result.stdout


def test_cli_validate_violation_exits_1(clean_file, broken_file):
    result = run_validate(clean_file, broken_file, "--contract", "dataset")
    assert result.returncode == 1, describe(result)
    assert f"FAIL {broken_file}" in result.stdout
    assert "DATASET-004" in result.stdout
    assert "diffraction.astype(np.float32)" in result.stdout


def test_cli_validate_warning_only_exits_0(npz_writer):
    arrays = make_valid_dataset()
    del arrays["objectGuess"]
    result = run_validate(npz_writer(arrays))
    assert result.returncode == 0, describe(result)
    assert "DATASET-016" in result.stdout


def test_cli_validate_unreadable_exits_2_and_checks_others(tmp_path, clean_file, broken_file):
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    result = run_validate(empty, clean_file, broken_file, tmp_path / "absent.npz")
    assert result.returncode == 2, describe(result)
    assert "Traceback" not in result.stderr
    assert f"{empty}: the file is empty" in result.stdout
    assert "absent.npz: file not found" in result.stdout
    assert result.stderr.count("\n") == 1
    assert "2 of 4 files could not be read" in result.stderr
    assert "the file is empty" not in result.stderr
    assert f"PASS {clean_file}" in result.stdout
    assert f"FAIL {broken_file}" in result.stdout


def test_cli_validate_json_lists_reports_and_summary(clean_file, broken_file):
    result = run_validate("--json", clean_file, broken_file)
    assert result.returncode == 1, describe(result)
    document = json.loads(result.stdout)
    assert [entry["ok"] for entry in document["files"]] == [True, False]
    assert document["files"][1]["violations"][0]["rule_id"] == "DATASET-004"
    assert document["summary"]["exit_status"] == 1
    assert document["summary"]["errors"] == 1


def test_cli_validate_markdown_table(broken_file):
    result = run_validate("--markdown", broken_file)
    assert result.returncode == 1, describe(result)
    assert "| rule | severity | key | seen | expected | fix |" in result.stdout
    assert "| DATASET-004 | error | diffraction |" in result.stdout


def test_cli_validate_unknown_contract_exits_2(clean_file):
    result = run_validate("--contract", "nonsense", clean_file)
    assert result.returncode == 2, describe(result)
    assert "invalid choice: 'nonsense'" in result.stderr


def test_cli_validate_real_reconstruction_exits_1(real_reconstruction):
    result = run_validate(real_reconstruction)
    assert result.returncode == 1, describe(result)
    for expected in ("DATASET-001", "diffraction", "DATASET-010", "DATASET-018", "dtype complex128"):
        assert expected in result.stdout


def test_cli_validate_does_not_import_torch(clean_file):
    script = (
        "import sys\n"
        "from harness.cli import main\n"
        f"status = main(['validate', {str(clean_file)!r}])\n"
        "assert 'torch' not in sys.modules, 'validate imported torch'\n"
        "sys.exit(status)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, describe(result)


def test_cli_contract_names_match_contracts_package():
    from contracts.validate import CONTRACTS

    assert sorted(CONTRACT_NAMES) == sorted(CONTRACTS)
