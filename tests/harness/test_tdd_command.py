"""``ptycho-harness tdd`` and ``bench`` as a user runs them: exit status and output."""

from __future__ import annotations

import json
import subprocess
import sys

FAILING = "def test_sum():\n    assert 1 + 1 == 3\n"
PASSING = "def test_sum():\n    assert 1 + 1 == 2\n"


def harness(project, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_tdd_red_green_status_exit_codes(sample_project):
    sample_project.write("test_sum.py", FAILING)
    red = harness(sample_project, "tdd", "red", "--focus", "sum", "--", "test_sum.py", "-q")
    assert red.returncode == 0, red.stdout + red.stderr
    assert "assert (1 + 1) == 3" in red.stdout
    assert "valid red (assertion_failure)" in red.stdout

    status_before = harness(sample_project, "tdd", "status")
    assert status_before.returncode == 1, status_before.stderr
    assert "no green run" in status_before.stdout

    sample_project.write("test_sum.py", PASSING)
    green = harness(sample_project, "tdd", "green", "--focus", "sum", "--", "test_sum.py")
    assert green.returncode == 0, green.stdout + green.stderr
    assert "valid green (all_passed)" in green.stdout

    status = harness(sample_project, "tdd", "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "consistent: yes" in status.stdout
    assert "1 of 1 pair(s) consistent" in status.stdout


def test_tdd_invalid_red_exits_one(sample_project):
    sample_project.write("test_bad.py", "import not_a_module_xyz\n")
    result = harness(sample_project, "tdd", "red", "--focus", "sum", "--", "test_bad.py")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "INVALID red (import_error)" in result.stdout


def test_tdd_unsafe_focus_is_usage_error(sample_project):
    result = harness(sample_project, "tdd", "red", "--focus", "../escape", "--", "test_sum.py")
    assert result.returncode == 2
    assert "invalid focus '../escape'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (sample_project.root / "reports").exists()


def test_tdd_red_without_selectors_is_usage_error(sample_project):
    sample_project.write("test_sum.py", FAILING)
    result = harness(sample_project, "tdd", "red", "--focus", "sum")
    assert result.returncode == 2
    assert "no test selectors given" in result.stderr
    assert not (sample_project.root / "reports").exists()


def test_tdd_green_without_red_is_usage_error(sample_project):
    result = harness(sample_project, "tdd", "green", "--focus", "sum", "--", "test_sum.py")
    assert result.returncode == 2
    assert "no red evidence for focus 'sum'" in result.stderr
    assert "Traceback" not in result.stderr


def test_tdd_status_missing_reports_is_usage_error(sample_project):
    result = harness(sample_project, "tdd", "status", "--reports", "absent")
    assert result.returncode == 2
    assert "reports folder absent not found" in result.stderr


def test_tdd_status_json_lists_pairs(sample_project):
    sample_project.write("test_sum.py", FAILING)
    harness(sample_project, "tdd", "red", "--focus", "sum", "--label", "first", "--", "test_sum.py")
    result = harness(sample_project, "tdd", "status", "--json")
    [pair] = json.loads(result.stdout)
    assert pair["focus"] == "sum"
    assert pair["label"] == "first"
    assert pair["red"]["log_file"] == "pytest_first_red.log"
    assert pair["consistent"] is False
