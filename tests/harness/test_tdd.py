"""Red/green capture end to end on throwaway projects, classification, and pairing."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone

import pytest

from harness import tdd
from harness.runfolder import create_run_folder, list_run_folders
from harness.tdd import EvidenceInputError, collect_pairs, format_pairs, read_evidence, run_tdd

FAILING = "def test_sum():\n    assert 1 + 1 == 3\n"
PASSING = "def test_sum():\n    assert 1 + 1 == 2\n"


def capture(project, kind, *pytest_args, focus="sum", **kwargs):
    return run_tdd(
        kind,
        focus,
        list(pytest_args),
        reports_root=project.root / "reports",
        cwd=project.root,
        **kwargs,
    )


# End to end.


def test_red_valid_on_assertion_failure(sample_project):
    sample_project.write("test_sum.py", FAILING)
    echo = io.BytesIO()
    entry = capture(sample_project, "red", "test_sum.py", echo=echo)
    folder = sample_project.root / "reports" / entry.run_id / "sum"
    assert entry.valid, entry.reason
    assert entry.classification == tdd.ASSERTION_FAILURE
    assert entry.collected == ["test_sum.py::test_sum"]
    assert entry.failed == ["test_sum.py::test_sum"]
    assert entry.exit_code == 1
    assert entry.log_file == "pytest_sum_red.log"
    assert b"assert (1 + 1) == 3" in (folder / "pytest_sum_red.log").read_bytes()
    assert b"assert (1 + 1) == 3" in echo.getvalue()
    assert [e.kind for e in read_evidence(folder)] == ["red"]
    manifest = json.loads((folder.parent / "manifest.json").read_text())
    assert manifest["status"] == "complete"


@pytest.mark.parametrize(
    ("files", "args", "classification", "reason_part"),
    [
        ({"test_bad.py": "def test_x(:\n    pass\n"}, ["test_bad.py"], tdd.COLLECTION_ERROR, "SyntaxError"),
        ({"test_bad.py": "import not_a_module_xyz\n"}, ["test_bad.py"], tdd.IMPORT_ERROR, "ModuleNotFoundError"),
        (
            {"test_bad.py": "import pytest\n@pytest.fixture\ndef f():\n    raise OSError('x')\ndef test_x(f):\n    pass\n"},
            ["test_bad.py"],
            tdd.FIXTURE_ERROR,
            "OSError",
        ),
        ({"test_bad.py": "def helper():\n    pass\n"}, ["test_bad.py"], tdd.NO_TESTS_COLLECTED, "matched no test"),
        pytest.param(
            {"test_sum.py": FAILING}, ["test_sum.py", "-k", "nothing"], tdd.NO_TESTS_COLLECTED, "deselected",
            marks=pytest.mark.slow,
        ),
        ({"test_sum.py": FAILING}, ["test_sum.py::test_absent"], tdd.USAGE_ERROR, "test_absent"),
        pytest.param(
            {"test_sum.py": FAILING}, ["test_missing_file.py"], tdd.USAGE_ERROR, "not found", marks=pytest.mark.slow
        ),
        ({"test_bad.py": "def test_x():\n    {}['key']\n"}, ["test_bad.py"], tdd.NON_ASSERTION_EXCEPTION, "KeyError"),
        ({"test_sum.py": PASSING}, ["test_sum.py"], tdd.NO_FAILURE, "no selected test failed"),
        pytest.param(
            {"test_sum.py": FAILING}, ["test_sum.py", "--no-such-option"], tdd.USAGE_ERROR, "exit 4",
            marks=pytest.mark.slow,
        ),
    ],
    ids=[
        "syntax-error",
        "import-error",
        "fixture-error",
        "nothing-collected",
        "all-deselected",
        "wrong-selector",
        "missing-file",
        "non-assertion",
        "passing",
        "bad-option",
    ],
)
def test_red_invalid_names_reason(sample_project, files, args, classification, reason_part):
    for name, source in files.items():
        sample_project.write(name, source)
    entry = capture(sample_project, "red", *args)
    assert not entry.valid
    assert entry.classification == classification, entry.reason
    assert reason_part in entry.reason
    manifest = json.loads((sample_project.root / "reports" / entry.run_id / "manifest.json").read_text())
    assert manifest["status"] == "failed"


def test_green_joins_latest_red_folder(sample_project):
    sample_project.write("test_sum.py", FAILING)
    capture(sample_project, "red", "test_sum.py")
    later_red = capture(sample_project, "red", "test_sum.py")
    capture(sample_project, "red", "test_sum.py", focus="other")
    sample_project.write("test_sum.py", PASSING)
    green = capture(sample_project, "green", "test_sum.py")
    assert green.valid, green.reason
    assert green.classification == tdd.ALL_PASSED
    assert green.run_id == later_red.run_id
    assert green.log_file == "pytest_sum_green.log"
    assert len(list_run_folders(sample_project.root / "reports")) == 3


def test_green_invalid_when_test_fails(sample_project):
    sample_project.write("test_sum.py", FAILING)
    capture(sample_project, "red", "test_sum.py")
    green = capture(sample_project, "green", "test_sum.py")
    assert not green.valid
    assert green.classification == tdd.TEST_FAILURES


def test_green_without_red_is_input_error(sample_project):
    sample_project.write("test_sum.py", PASSING)
    with pytest.raises(EvidenceInputError, match="no red evidence for focus 'sum'"):
        capture(sample_project, "green", "test_sum.py")


def test_repeated_capture_gets_numbered_name(sample_project):
    sample_project.write("test_sum.py", FAILING)
    first = capture(sample_project, "red", "test_sum.py")
    second = capture(sample_project, "red", "test_sum.py", run_id=first.run_id)
    folder = sample_project.root / "reports" / first.run_id / "sum"
    assert second.log_file == "pytest_sum_red_2.log"
    assert second.attempt == 2
    assert (folder / "pytest_sum_red.log").is_file()
    assert [e.log_file for e in read_evidence(folder)] == ["pytest_sum_red.log", "pytest_sum_red_2.log"]


def test_capture_unknown_run_id_is_input_error(sample_project):
    with pytest.raises(EvidenceInputError, match="no run folder '2026-01-01T000000Z'"):
        capture(sample_project, "red", "test_sum.py", run_id="2026-01-01T000000Z")


@pytest.mark.parametrize(("option", "value"), [("focus", "../up"), ("label", "a/b"), ("run_id", "/abs")])
def test_capture_rejects_unsafe_names(sample_project, option, value):
    kwargs = {"focus": "sum", option: value}
    with pytest.raises(EvidenceInputError, match="invalid"):
        capture(sample_project, "red", "test_sum.py", **kwargs)
    assert not (sample_project.root / "reports").exists()


def test_status_pairs_red_with_green(sample_project):
    sample_project.write("test_sum.py", FAILING)
    red = capture(sample_project, "red", "test_sum.py")
    sample_project.write("test_sum.py", PASSING)
    capture(sample_project, "green", "test_sum.py")
    [pair] = collect_pairs(sample_project.root / "reports")
    assert pair.consistent, pair.problems
    assert pair.run_id == red.run_id
    text = format_pairs([pair])
    assert "consistent: yes" in text
    assert "pytest_sum_green.log" in text


# Pairing rules on stored entries.


def make_entry(kind: str, collected: list[str], started: datetime, valid: bool = True) -> tdd.EvidenceEntry:
    return tdd.EvidenceEntry(
        kind=kind,
        focus="sum",
        label="sum",
        attempt=1,
        run_id="2026-03-14T150926Z",
        classification=tdd.ASSERTION_FAILURE if kind == "red" else tdd.ALL_PASSED,
        valid=valid,
        reason="",
        exit_code=1 if kind == "red" else 0,
        command=[],
        pytest_args=[],
        selectors=[],
        keyword=None,
        markexpr=None,
        collected=collected,
        passed=[],
        failed=[],
        errors=[],
        skipped=[],
        git_commit=None,
        git_dirty=None,
        cwd="/",
        started_at=started.isoformat(),
        finished_at=(started + timedelta(seconds=1)).isoformat(),
        duration_s=1.0,
        log_file=f"pytest_sum_{kind}.log",
        outcomes_file=None,
    )


T0 = datetime(2026, 3, 14, 15, 9, 26, tzinfo=timezone.utc)


def test_pair_problems_different_tests():
    red = make_entry("red", ["t.py::a"], T0)
    green = make_entry("green", ["t.py::b"], T0 + timedelta(minutes=1))
    problems = tdd.pair_problems(red, green)
    assert any("did not run 1 test(s) of the red: t.py::a" in p for p in problems)
    assert any("ran 1 test(s) the red did not: t.py::b" in p for p in problems)


def test_pair_problems_green_before_red():
    red = make_entry("red", ["t.py::a"], T0)
    green = make_entry("green", ["t.py::a"], T0 - timedelta(minutes=1))
    assert tdd.pair_problems(red, green) == ["green started before red finished"]


def test_pair_problems_invalid_and_missing():
    red = make_entry("red", ["t.py::a"], T0, valid=False)
    assert tdd.pair_problems(red, None) == ["red is invalid (assertion_failure)", "no green run"]


def test_collect_pairs_uses_newest_folder(tmp_path):
    for offset, collected in ((0, ["t.py::old"]), (1, ["t.py::new"])):
        folder = create_run_folder(tmp_path, T0 + timedelta(seconds=offset)).subfolder("sum")
        start = T0 + timedelta(minutes=offset)
        folder.append_json_entry("evidence.json", make_entry("red", collected, start).to_dict())
    [pair] = collect_pairs(tmp_path)
    assert pair.red.collected == ["t.py::new"]
    assert pair.problems == ("no green run",)


# Classification of outcome records.


def outcomes_with(tests: dict, **overrides) -> dict:
    document = {
        "collected": len(tests),
        "selected": len(tests),
        "selected_nodeids": list(tests),
        "collection_errors": [],
        "session_error": None,
        "internal_error": None,
        "interrupted": False,
        "tests": tests,
    }
    document.update(overrides)
    return document


def call_failure(kind: str, exception_type: str) -> dict:
    return {
        "outcome": "failed",
        "phases": {
            "setup": {"outcome": "passed"},
            "call": {"outcome": "failed", "kind": kind, "exception_type": exception_type},
            "teardown": {"outcome": "passed"},
        },
    }


PASSED = {"outcome": "passed", "phases": {"setup": {"outcome": "passed"}, "call": {"outcome": "passed"}}}


def test_classify_missing_outcomes_by_exit_status():
    assert tdd.classify("red", None, 4).name == tdd.USAGE_ERROR
    assert tdd.classify("red", None, 3).name == tdd.INTERNAL_ERROR
    assert tdd.classify("red", None, 2).name == tdd.INTERRUPTED
    assert tdd.classify("red", None, 1).name == tdd.NO_OUTCOMES


def test_classify_internal_error_first():
    outcomes = outcomes_with({"t::a": call_failure("assertion", "AssertionError")}, internal_error="boom")
    assert tdd.classify("red", outcomes, 3).name == tdd.INTERNAL_ERROR


def test_classify_mixed_assertion_and_exception_is_invalid_red():
    outcomes = outcomes_with(
        {"t::a": call_failure("assertion", "AssertionError"), "t::b": call_failure("exception", "TypeError")}
    )
    verdict = tdd.classify("red", outcomes, 1)
    assert verdict.name == tdd.NON_ASSERTION_EXCEPTION
    assert "t::b: TypeError" in verdict.reason


def test_classify_teardown_error_is_invalid():
    test = call_failure("assertion", "AssertionError")
    test["phases"]["teardown"] = {"outcome": "failed", "exception_type": "OSError"}
    verdict = tdd.classify("red", outcomes_with({"t::a": test}), 1)
    assert verdict.name == tdd.TEARDOWN_ERROR


def test_classify_green_with_skip_is_invalid():
    skipped = {"outcome": "skipped", "phases": {"setup": {"outcome": "skipped"}}}
    verdict = tdd.classify("green", outcomes_with({"t::a": PASSED, "t::b": skipped}), 0)
    assert verdict.name == tdd.NOT_ALL_PASSED
    assert "t::b" in verdict.reason


def test_classify_green_all_passed_is_valid():
    verdict = tdd.classify("green", outcomes_with({"t::a": PASSED}), 0)
    assert verdict.valid
    assert verdict.name == tdd.ALL_PASSED


def test_classify_rejects_unknown_kind():
    with pytest.raises(ValueError, match="invalid evidence kind 'blue'"):
        tdd.classify("blue", None, 0)
