"""Evidence plans: parsing with clear errors, red/green through a plan, the artifact check."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.plan import PlanError, check_plan, load_plan

RUN_ID = "2026-03-14T150926Z"
FAILING = "def test_sum():\n    assert 1 + 1 == 3\n"
PASSING = "def test_sum():\n    assert 1 + 1 == 2\n"
VALID_PLAN = f"""
focus = "sum"
selectors = ["test_sum.py"]
run_folder = "reports/{RUN_ID}/sum"
artifacts = ["red_log", "green_log", "evidence", "notes"]
"""


def write_plan(folder: Path, text: str, name: str = "plan.toml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def harness(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_load_plan_reads_all_keys(tmp_path):
    path = write_plan(tmp_path, VALID_PLAN + 'label = "first"\npytest_args = ["-q"]\n')
    plan = load_plan(path)
    assert plan.focus == "sum"
    assert plan.label == "first"
    assert plan.selectors == ("test_sum.py",)
    assert plan.pytest_arguments == ["test_sum.py", "-q"]
    assert plan.reports_root == Path("reports")
    assert plan.run_id == RUN_ID
    assert plan.run_folder == Path("reports") / RUN_ID / "sum"
    assert plan.artifacts == ("red_log", "green_log", "evidence", "notes")


def test_load_plan_label_defaults_to_focus(tmp_path):
    assert load_plan(write_plan(tmp_path, VALID_PLAN)).label == "sum"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (VALID_PLAN.replace('focus = "sum"\n', ""), "key 'focus' is missing"),
        (VALID_PLAN.replace("selectors", "selector"), "unknown key.*selector"),
        (VALID_PLAN.replace('["test_sum.py"]', "[]"), "'selectors' is empty"),
        (VALID_PLAN.replace('["test_sum.py"]', '"test_sum.py"'), "'selectors' is a string, expected a list"),
        (VALID_PLAN.replace('focus = "sum"', "focus = 3"), "'focus' is an integer, expected a string"),
        (VALID_PLAN.replace(f"{RUN_ID}/sum", f"{RUN_ID}/other"), "ends in 'other', expected the focus 'sum'"),
        (VALID_PLAN.replace(RUN_ID, "yesterday"), "run ID 'yesterday', expected the form"),
        (VALID_PLAN.replace('"notes"]', '"notes", "video"]'), "unknown artifact.*'video'"),
        ("focus = ", "not valid TOML"),
        (VALID_PLAN.replace('focus = "sum"', 'focus = "../up"'), "key 'focus': invalid focus"),
    ],
)
def test_load_plan_rejects_malformed(tmp_path, text, message):
    path = write_plan(tmp_path, text)
    with pytest.raises(PlanError, match=message):
        load_plan(path)


def test_load_plan_missing_file_is_plan_error(tmp_path):
    with pytest.raises(PlanError, match="not found; check the path"):
        load_plan(tmp_path / "absent.toml")


def test_check_plan_empty_folder_lists_all_missing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    statuses = check_plan(load_plan(write_plan(tmp_path, VALID_PLAN)))
    assert [status.artifact for status in statuses] == ["red_log", "green_log", "evidence", "notes"]
    assert not any(status.exists for status in statuses)
    assert not any(status.valid for status in statuses)
    assert "tdd red --plan" in statuses[0].detail


def test_plan_red_green_check_cycle(sample_project):
    root = sample_project.root
    write_plan(root, VALID_PLAN)
    sample_project.write("test_sum.py", FAILING)
    red = harness(root, "tdd", "red", "--plan", "plan.toml")
    assert red.returncode == 0, red.stdout + red.stderr
    assert (root / "reports" / RUN_ID / "sum" / "pytest_sum_red.log").is_file()
    assert (root / "reports" / RUN_ID / "manifest.json").is_file()

    partial = harness(root, "tdd", "check", "plan.toml")
    assert partial.returncode == 1, partial.stdout + partial.stderr
    assert "red_log    ok" in partial.stdout
    assert "green_log  MISSING" in partial.stdout

    sample_project.write("test_sum.py", PASSING)
    green = harness(root, "tdd", "green", "--plan", "plan.toml")
    assert green.returncode == 0, green.stdout + green.stderr
    (root / "reports" / RUN_ID / "sum" / "notes.md").write_text("The sum was off by one.\n")

    complete = harness(root, "tdd", "check", "plan.toml")
    assert complete.returncode == 0, complete.stdout + complete.stderr
    assert "ok: all 4 artifact(s) present and valid" in complete.stdout


def test_plan_check_flags_red_with_other_selectors(sample_project, monkeypatch):
    from harness.tdd import run_tdd

    root = sample_project.root
    sample_project.write("test_sum.py", FAILING)
    sample_project.write("test_other.py", FAILING)
    plan = load_plan(write_plan(root, VALID_PLAN.replace('"red_log", "green_log", "evidence", "notes"', '"red_log"')))
    run_tdd("red", "sum", ["test_other.py"], reports_root=root / "reports", run_id=RUN_ID, cwd=root, create_missing=True)
    monkeypatch.chdir(root)
    [status] = check_plan(plan)
    assert status.exists
    assert not status.valid
    assert "but the plan selects ['test_sum.py']" in status.detail


def test_plan_check_flags_invalid_red_and_empty_notes(sample_project):
    root = sample_project.root
    write_plan(root, VALID_PLAN.replace('"green_log", "evidence", ', ""))
    sample_project.write("test_sum.py", PASSING)
    red = harness(root, "tdd", "red", "--plan", "plan.toml")
    assert red.returncode == 1, red.stdout + red.stderr
    (root / "reports" / RUN_ID / "sum" / "notes.md").write_text("  \n")
    result = harness(root, "tdd", "check", "plan.toml")
    assert result.returncode == 1
    assert "red_log  INVALID" in result.stdout
    assert "the latest red is invalid (no_failure" in result.stdout
    assert "notes    INVALID  notes.md: empty" in result.stdout


def test_tdd_check_malformed_plan_exits_two(tmp_path):
    write_plan(tmp_path, "focus = 'sum'\n")
    result = harness(tmp_path, "tdd", "check", "plan.toml")
    assert result.returncode == 2
    assert "key 'selectors' is missing; add it" in result.stderr
    assert "Traceback" not in result.stderr


def test_tdd_red_plan_conflicting_focus_exits_two(tmp_path):
    write_plan(tmp_path, VALID_PLAN)
    result = harness(tmp_path, "tdd", "red", "--plan", "plan.toml", "--focus", "other")
    assert result.returncode == 2
    assert "--focus cannot be combined with --plan" in result.stderr


def test_tdd_red_without_focus_or_plan_exits_two(tmp_path):
    result = harness(tmp_path, "tdd", "red", "--", "test_sum.py")
    assert result.returncode == 2
    assert "--focus is required unless --plan" in result.stderr


def test_tdd_plan_writes_loadable_plan(tmp_path):
    result = harness(tmp_path, "tdd", "plan", "new.toml", "--focus", "offsets", "--", "tests/test_x.py::test_y")
    assert result.returncode == 0, result.stderr
    plan = load_plan(tmp_path / "new.toml")
    assert plan.focus == "offsets"
    assert plan.selectors == ("tests/test_x.py::test_y",)
    again = harness(tmp_path, "tdd", "plan", "new.toml", "--focus", "offsets", "--", "x")
    assert again.returncode == 2
    assert "already exists" in again.stderr
