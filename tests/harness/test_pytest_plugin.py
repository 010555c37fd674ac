"""The evidence plugin: what it records per phase, for collection and for the session."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from harness.pytest_plugin import EVIDENCE_ENV_VAR, describe_exception, resolve_outcomes_path

MIXED_TESTS = """
    import pytest

    @pytest.fixture
    def broken():
        raise RuntimeError("fixture broke")

    def test_assertion():
        assert 1 + 1 == 3

    def test_value_error():
        raise ValueError("not an assertion")

    def test_fixture(broken):
        pass

    def test_pytest_fail():
        pytest.fail("explicit")

    def test_passes():
        pass

    @pytest.mark.xfail(strict=True)
    def test_strict_xpass():
        pass
"""


def run_pytest(project, *args: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_plugin_records_phases_and_exception_kinds(sample_project):
    sample_project.write("test_mixed.py", MIXED_TESTS)
    result = run_pytest(sample_project, "--harness-evidence", "out", "test_mixed.py")
    outcomes = json.loads((sample_project.root / "out" / "outcomes.json").read_text())
    tests = outcomes["tests"]
    assert outcomes["exit_status"] == result.returncode == 1
    assert outcomes["collected"] == outcomes["selected"] == 6
    assert tests["test_mixed.py::test_assertion"]["phases"]["call"]["kind"] == "assertion"
    assert tests["test_mixed.py::test_assertion"]["phases"]["call"]["exception_type"] == "AssertionError"
    assert tests["test_mixed.py::test_value_error"]["phases"]["call"]["kind"] == "exception"
    assert tests["test_mixed.py::test_value_error"]["phases"]["call"]["exception_type"] == "ValueError"
    assert tests["test_mixed.py::test_fixture"]["outcome"] == "error"
    assert tests["test_mixed.py::test_fixture"]["phases"]["setup"]["exception_type"] == "RuntimeError"
    assert "call" not in tests["test_mixed.py::test_fixture"]["phases"]
    assert tests["test_mixed.py::test_pytest_fail"]["phases"]["call"]["kind"] == "assertion"
    assert tests["test_mixed.py::test_passes"]["outcome"] == "passed"
    assert tests["test_mixed.py::test_strict_xpass"]["phases"]["call"]["kind"] == "no_exception"


def test_plugin_records_import_error_cause(sample_project):
    sample_project.write("test_broken_import.py", "import module_that_does_not_exist\n")
    run_pytest(sample_project, "--harness-evidence", "outcomes.json", "test_broken_import.py")
    outcomes = json.loads((sample_project.root / "outcomes.json").read_text())
    [error] = outcomes["collection_errors"]
    assert error["nodeid"] == "test_broken_import.py"
    assert error["cause_types"] == ["ModuleNotFoundError"]
    assert outcomes["exit_status"] == 2


def test_plugin_records_missing_selector_as_session_error(sample_project):
    sample_project.write("test_one.py", "def test_one():\n    pass\n")
    result = run_pytest(sample_project, "--harness-evidence", "o.json", "test_one.py::test_absent")
    outcomes = json.loads((sample_project.root / "o.json").read_text())
    assert result.returncode == 4
    assert outcomes["session_error"]["exception_type"] == "UsageError"
    assert "test_absent" in outcomes["session_error"]["message"]


def test_plugin_enabled_by_environment_variable(sample_project, tmp_path):
    sample_project.write("test_one.py", "def test_one():\n    pass\n")
    target = tmp_path / "from-env.json"
    env = {**_clean_environment(), EVIDENCE_ENV_VAR: str(target)}
    run_pytest(sample_project, "test_one.py", "-k", "one", env=env)
    outcomes = json.loads(target.read_text())
    assert outcomes["selected_nodeids"] == ["test_one.py::test_one"]
    assert outcomes["selectors"] == {"args": ["test_one.py"], "keyword": "one", "markexpr": None}


def test_plugin_inert_without_option(sample_project):
    sample_project.write("test_one.py", "def test_one():\n    pass\n")
    result = run_pytest(sample_project, "test_one.py", env=_clean_environment())
    assert result.returncode == 0, result.stdout
    assert sorted(p.name for p in sample_project.root.iterdir() if p.suffix == ".json") == []


def test_describe_exception_group_of_assertions_is_assertion():
    group = ExceptionGroup("several", [AssertionError("a"), AssertionError("b")])
    assert describe_exception(group)["kind"] == "assertion"


def test_describe_exception_mixed_group_is_exception():
    group = ExceptionGroup("several", [AssertionError("a"), KeyError("b")])
    assert describe_exception(group)["kind"] == "exception"


def test_describe_exception_records_cause_chain():
    try:
        try:
            raise KeyError("inner")
        except KeyError as inner:
            raise RuntimeError("outer") from inner
    except RuntimeError as exc:
        described = describe_exception(exc)
    assert described["exception_type"] == "RuntimeError"
    assert described["cause_types"] == ["KeyError"]


@pytest.mark.parametrize(("target", "expected"), [("a/b.json", "a/b.json"), ("a/b", "a/b/outcomes.json")])
def test_resolve_outcomes_path_file_or_folder(tmp_path, target, expected):
    assert resolve_outcomes_path(tmp_path / target) == tmp_path / expected


def _clean_environment() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key != EVIDENCE_ENV_VAR}
