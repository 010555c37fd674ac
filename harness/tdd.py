"""Red/green TDD evidence: run pytest, keep its log, classify the run, pair red with green.

A capture runs ``python -m pytest <args>`` as an argument list with the harness pytest
plugin recording outcomes, streams the output, and stores in
``<reports>/<run-id>/<focus>/``:

* ``pytest_<label>_red.log`` or ``pytest_<label>_green.log``: the full output;
* ``pytest_<label>_<kind>.outcomes.json``: the plugin's per-test records;
* ``evidence.json``: a list with one entry per capture (see ``EvidenceEntry``).

A red is valid only when tests were collected and at least one failed by an assertion
in its call phase, with no collection, import, fixture, teardown or non-assertion error
and no pytest usage or internal error. A green is valid when every selected test passed.
The verdict comes from the plugin's records and pytest's exit status, never from the log
text.

A red without a run ID starts a new run folder. A green joins the newest run folder that
contains a red of its focus and label. Evidence is never overwritten: repeating a red or
green of one label in one folder stores the next attempt as ``pytest_<label>_red_2.log``,
``_3`` and so on, and appends its entry to ``evidence.json``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from harness.manifest import STATUS_COMPLETE, STATUS_FAILED, GitState, Manifest, git_state, utc_now_iso
from harness.pytest_plugin import FAILURE_ASSERTION
from harness.pytest_runner import recording_environment, stream_command
from harness.runfolder import (
    InvalidNameError,
    RunFolder,
    create_run_folder,
    create_temp_file,
    list_run_folders,
    open_or_create_run_folder,
    open_run_folder,
    publish_new_file,
    validate_name,
)

logger = logging.getLogger(__name__)

KIND_RED = "red"
KIND_GREEN = "green"
KINDS = (KIND_RED, KIND_GREEN)
EVIDENCE_FILE_NAME = "evidence.json"
EVIDENCE_SCHEMA_VERSION = 1
MAX_ATTEMPTS = 1000

# Classifications. Only ASSERTION_FAILURE (red) and ALL_PASSED (green) are valid.
ASSERTION_FAILURE = "assertion_failure"
ALL_PASSED = "all_passed"
NO_FAILURE = "no_failure"
TEST_FAILURES = "test_failures"
NOT_ALL_PASSED = "not_all_passed"
NO_TESTS_COLLECTED = "no_tests_collected"
COLLECTION_ERROR = "collection_error"
IMPORT_ERROR = "import_error"
FIXTURE_ERROR = "fixture_error"
TEARDOWN_ERROR = "teardown_error"
NON_ASSERTION_EXCEPTION = "non_assertion_exception"
USAGE_ERROR = "usage_error"
INTERNAL_ERROR = "internal_error"
INTERRUPTED = "interrupted"
NO_OUTCOMES = "no_outcomes"

_IMPORT_ERROR_TYPES = frozenset({"ImportError", "ModuleNotFoundError"})
# pytest exit statuses (pytest.ExitCode), spelled out to keep this module light.
_EXIT_INTERRUPTED = 2
_EXIT_INTERNAL_ERROR = 3
_EXIT_USAGE_ERROR = 4
_EXIT_NO_TESTS_COLLECTED = 5


class EvidenceInputError(ValueError):
    """A capture that cannot start: an unknown run folder, no red for a green, a bad name."""


@dataclass(frozen=True)
class Classification:
    """The verdict on one pytest run as red or green evidence."""

    name: str
    valid: bool
    reason: str


@dataclass(frozen=True)
class EvidenceEntry:
    """One red or green capture, as stored in ``evidence.json``.

    Node-ID lists hold the selected tests (``collected``) and those whose overall
    outcome was ``passed``, ``failed`` (call phase), ``error`` (setup or teardown) or
    ``skipped`` (including xfail and xpass). Times are UTC ISO 8601.
    """

    kind: str
    focus: str
    label: str
    attempt: int
    run_id: str
    classification: str
    valid: bool
    reason: str
    exit_code: int | None
    command: list[str]
    pytest_args: list[str]
    selectors: list[str]
    keyword: str | None
    markexpr: str | None
    collected: list[str]
    passed: list[str]
    failed: list[str]
    errors: list[str]
    skipped: list[str]
    git_commit: str | None
    git_dirty: bool | None
    cwd: str
    started_at: str
    finished_at: str
    duration_s: float
    log_file: str
    outcomes_file: str | None
    schema_version: int = EVIDENCE_SCHEMA_VERSION
    failure_types: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> EvidenceEntry:
        known = {name for name in cls.__dataclass_fields__}
        return cls(**{key: value for key, value in document.items() if key in known})

    @property
    def git(self) -> GitState:
        return GitState(commit=self.git_commit, dirty=self.git_dirty)


# Classification.


def classify(kind: str, outcomes: Mapping[str, Any] | None, exit_code: int | None) -> Classification:
    """Classify a pytest run as red or green evidence from the plugin's ``outcomes``.

    ``outcomes`` is None when pytest ended before the plugin could write its file; the
    exit status alone then decides.
    """
    _check_kind(kind)
    if outcomes is None:
        return _classify_without_outcomes(exit_code)
    early = _classify_session_problems(outcomes, exit_code)
    if early is not None:
        return early
    tests: Mapping[str, Any] = outcomes.get("tests", {})
    problems = _classify_test_problems(tests)
    if problems is not None:
        return problems
    if kind == KIND_RED:
        return _classify_red(tests)
    return _classify_green(tests, outcomes.get("selected_nodeids", []))


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"invalid evidence kind {kind!r}: expected 'red' or 'green'")


def _classify_without_outcomes(exit_code: int | None) -> Classification:
    if exit_code == _EXIT_USAGE_ERROR:
        return Classification(
            USAGE_ERROR,
            False,
            "pytest stopped with a usage error (exit 4) before any test ran: an unknown "
            "option, or a conftest.py that failed to import; see the log",
        )
    if exit_code == _EXIT_INTERNAL_ERROR:
        return Classification(INTERNAL_ERROR, False, "pytest stopped with an internal error (exit 3)")
    if exit_code == _EXIT_INTERRUPTED or exit_code is None:
        return Classification(INTERRUPTED, False, "the pytest run was interrupted before it finished")
    return Classification(
        NO_OUTCOMES,
        False,
        f"pytest exited {exit_code} without writing outcome records; the ptycho_harness "
        "pytest plugin did not run (was it disabled with -p no:ptycho_harness?)",
    )


def _classify_session_problems(
    outcomes: Mapping[str, Any], exit_code: int | None
) -> Classification | None:
    if outcomes.get("internal_error"):
        return Classification(
            INTERNAL_ERROR, False, f"pytest hit an internal error: {outcomes['internal_error']}"
        )
    session_error = outcomes.get("session_error")
    if session_error:
        return Classification(
            USAGE_ERROR,
            False,
            f"pytest rejected the selection (exit {exit_code}): {session_error.get('message')}",
        )
    collection_errors = outcomes.get("collection_errors") or []
    if collection_errors:
        return _classify_collection_errors(collection_errors)
    if exit_code == _EXIT_USAGE_ERROR:
        return Classification(USAGE_ERROR, False, "pytest reported a usage error (exit 4); see the log")
    if outcomes.get("interrupted") or exit_code == _EXIT_INTERRUPTED:
        return Classification(INTERRUPTED, False, "the pytest run was interrupted before it finished")
    if not outcomes.get("selected"):
        collected = outcomes.get("collected", 0)
        detail = (
            f"{collected} collected, all deselected by -k/-m"
            if collected
            else "the selectors matched no test"
        )
        return Classification(NO_TESTS_COLLECTED, False, f"no tests were selected ({detail})")
    return None


def _classify_collection_errors(errors: Sequence[Mapping[str, Any]]) -> Classification:
    import_errors = [
        error
        for error in errors
        if _IMPORT_ERROR_TYPES & {error.get("exception_type"), *error.get("cause_types", [])}
    ]
    where = ", ".join(error.get("nodeid") or "<session>" for error in errors)
    if import_errors:
        causes = sorted({cause for e in import_errors for cause in e.get("cause_types", [])})
        return Classification(
            IMPORT_ERROR,
            False,
            f"a test module failed to import during collection ({', '.join(causes) or 'ImportError'}) "
            f"in {where}; fix the import so that the tests can be collected",
        )
    causes = sorted(
        {cause for e in errors for cause in e.get("cause_types", [])}
        | {str(e.get("exception_type")) for e in errors if not e.get("cause_types")}
    )
    return Classification(
        COLLECTION_ERROR,
        False,
        f"collection failed ({', '.join(causes)}) in {where}; a red needs collected tests "
        "that fail by an assertion",
    )


def _classify_test_problems(tests: Mapping[str, Any]) -> Classification | None:
    setup_errors = _failed_in_phase(tests, "setup")
    if setup_errors:
        return Classification(
            FIXTURE_ERROR,
            False,
            f"{len(setup_errors)} test(s) errored in setup, so a fixture failed "
            f"({_describe_failures(setup_errors)}); the test body never ran",
        )
    non_assertions = {
        nodeid: phase
        for nodeid, phase in _failed_in_phase(tests, "call").items()
        if phase.get("kind") != FAILURE_ASSERTION
    }
    if non_assertions:
        return Classification(
            NON_ASSERTION_EXCEPTION,
            False,
            f"{len(non_assertions)} test(s) failed with an exception that is not an "
            f"assertion ({_describe_failures(non_assertions)})",
        )
    teardown_errors = _failed_in_phase(tests, "teardown")
    if teardown_errors:
        return Classification(
            TEARDOWN_ERROR,
            False,
            f"{len(teardown_errors)} test(s) errored in teardown ({_describe_failures(teardown_errors)})",
        )
    return None


def _classify_red(tests: Mapping[str, Any]) -> Classification:
    failed = _failed_in_phase(tests, "call")
    if failed:
        return Classification(
            ASSERTION_FAILURE,
            True,
            f"{len(failed)} of {len(tests)} selected test(s) failed by an assertion",
        )
    return Classification(
        NO_FAILURE,
        False,
        "no selected test failed; a red needs at least one test that fails by an assertion",
    )


def _classify_green(tests: Mapping[str, Any], selected: Sequence[str]) -> Classification:
    failed = _failed_in_phase(tests, "call")
    if failed:
        return Classification(
            TEST_FAILURES,
            False,
            f"{len(failed)} of {len(tests)} selected test(s) failed by an assertion: {', '.join(failed)}",
        )
    not_passed = sorted(
        nodeid for nodeid in selected if tests.get(nodeid, {}).get("outcome") != "passed"
    )
    if not_passed:
        return Classification(
            NOT_ALL_PASSED,
            False,
            f"{len(not_passed)} selected test(s) did not pass (skipped, xfailed or not run): "
            f"{', '.join(not_passed)}",
        )
    return Classification(ALL_PASSED, True, f"all {len(selected)} selected test(s) passed")


def _failed_in_phase(tests: Mapping[str, Any], when: str) -> dict[str, dict[str, Any]]:
    failed = {}
    for nodeid, entry in tests.items():
        phase = entry.get("phases", {}).get(when)
        if phase is not None and phase.get("outcome") == "failed":
            failed[nodeid] = phase
    return failed


def _describe_failures(failures: Mapping[str, Mapping[str, Any]], limit: int = 3) -> str:
    parts = [
        f"{nodeid}: {phase.get('exception_type') or 'no exception'}"
        for nodeid, phase in list(failures.items())[:limit]
    ]
    if len(failures) > limit:
        parts.append(f"and {len(failures) - limit} more")
    return "; ".join(parts)


# Capture.


def run_tdd(
    kind: str,
    focus: str,
    pytest_args: Sequence[str],
    *,
    label: str | None = None,
    reports_root: Path = Path("reports"),
    run_id: str | None = None,
    cwd: Path | None = None,
    echo: IO[bytes] | None = None,
    python: str = sys.executable,
    create_missing: bool = False,
) -> EvidenceEntry:
    """Run pytest once as red or green evidence for ``focus`` and store the result.

    ``pytest_args`` go to pytest as an argument list. ``echo`` receives pytest's output
    as it arrives. The run folder is ``run_id`` when given, created under that name if it
    is missing and ``create_missing`` is set (as for an evidence plan). Otherwise a red
    creates a new one, and a green joins the newest folder that contains a red of the
    same focus and label.

    Raises:
        EvidenceInputError: an invalid name, an unknown run ID, or a green with no red.
    """
    _check_kind(kind)
    label = label if label is not None else focus
    try:
        validate_name(focus, "focus")
        validate_name(label, "label")
        if run_id is not None:
            validate_name(run_id, "run ID")
    except InvalidNameError as exc:
        raise EvidenceInputError(str(exc)) from exc
    cwd = Path(cwd) if cwd is not None else Path.cwd()
    run_folder, created = _resolve_run_folder(kind, focus, label, Path(reports_root), run_id, create_missing)
    command = [python, "-m", "pytest", *pytest_args]
    if not created:
        return _capture(kind, run_folder.subfolder(focus), label, command, list(pytest_args), cwd, echo)
    cli_command = ["ptycho-harness", "tdd", kind, "--focus", focus, "--label", label, "--", *pytest_args]
    with Manifest(run_folder, command=cli_command) as manifest:
        entry = _capture(kind, run_folder.subfolder(focus), label, command, list(pytest_args), cwd, echo)
        manifest.finish(STATUS_COMPLETE if entry.valid else STATUS_FAILED, evidence=entry.classification)
    return entry


def _resolve_run_folder(
    kind: str, focus: str, label: str, reports_root: Path, run_id: str | None, create_missing: bool = False
) -> tuple[RunFolder, bool]:
    if run_id is not None and create_missing:
        try:
            return open_or_create_run_folder(reports_root, run_id)
        except (InvalidNameError, FileExistsError) as exc:
            raise EvidenceInputError(str(exc)) from exc
    if run_id is not None:
        try:
            return open_run_folder(reports_root, run_id), False
        except FileNotFoundError as exc:
            raise EvidenceInputError(str(exc)) from exc
    if kind == KIND_RED:
        return create_run_folder(reports_root), True
    folder = find_latest_red_folder(reports_root, focus, label)
    if folder is None:
        raise EvidenceInputError(
            f"no red evidence for focus {focus!r} (label {label!r}) under {reports_root}; "
            f"run 'ptycho-harness tdd red --focus {focus}' first, or pass --run-id"
        )
    logger.info("green joins run folder %s, which contains the latest red of %s", folder.path, focus)
    return folder, False


def find_latest_red_folder(reports_root: Path, focus: str, label: str) -> RunFolder | None:
    """Return the newest run folder holding a red entry for ``focus`` and ``label``."""
    for folder in reversed(list_run_folders(reports_root)):
        entries = read_evidence(folder.path / focus)
        if any(e.kind == KIND_RED and e.label == label for e in entries):
            return folder
    return None


def read_evidence(focus_folder: Path) -> list[EvidenceEntry]:
    """Return the entries of ``focus_folder/evidence.json``; an empty list if it is missing."""
    path = focus_folder / EVIDENCE_FILE_NAME
    if not path.is_file():
        return []
    return [EvidenceEntry.from_dict(item) for item in json.loads(path.read_text(encoding="utf-8"))]


def _capture(
    kind: str,
    folder: RunFolder,
    label: str,
    command: list[str],
    pytest_args: list[str],
    cwd: Path,
    echo: IO[bytes] | None,
) -> EvidenceEntry:
    git = git_state(cwd)
    started_at = utc_now_iso()
    descriptor, temp_log = create_temp_file(folder.path, _log_name(label, kind, 1))
    with tempfile.TemporaryDirectory(prefix="ptycho-harness-outcomes-") as outcomes_dir:
        outcomes_path = Path(outcomes_dir) / "outcomes.json"
        exit_code: int | None = None
        try:
            with os.fdopen(descriptor, "wb") as log:
                exit_code = stream_command(command, log, cwd=cwd, env=recording_environment(outcomes_path), echo=echo)
        finally:
            # Also on KeyboardInterrupt or SIGTERM: publish the partial log and an interrupted entry.
            outcomes = _read_outcomes(outcomes_path)
            classification = classify(kind, outcomes, exit_code)
            if exit_code is None:
                classification = Classification(
                    INTERRUPTED, False, "the capture was interrupted before pytest finished"
                )
            attempt, log_name = _publish_log(folder, label, kind, temp_log)
            outcomes_file = None
            if outcomes is not None:
                outcomes_file = _outcomes_name(label, kind, attempt)
                folder.write_json(outcomes_file, outcomes)
            entry = _build_entry(
                kind=kind,
                folder=folder,
                label=label,
                attempt=attempt,
                classification=classification,
                exit_code=exit_code,
                command=command,
                pytest_args=pytest_args,
                outcomes=outcomes,
                git=git,
                cwd=cwd,
                started_at=started_at,
                log_file=log_name,
                outcomes_file=outcomes_file,
            )
            folder.append_json_entry(EVIDENCE_FILE_NAME, entry.to_dict())
    logger.info(
        "%s evidence for %s is %s: %s", kind, folder.focus, "valid" if entry.valid else "invalid", entry.reason
    )
    return entry


def _read_outcomes(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        logger.warning("could not read pytest outcome records %s: %s", path, exc)
        return None


def _log_name(label: str, kind: str, attempt: int) -> str:
    suffix = "" if attempt == 1 else f"_{attempt}"
    return f"pytest_{label}_{kind}{suffix}.log"


def _outcomes_name(label: str, kind: str, attempt: int) -> str:
    return _log_name(label, kind, attempt).removesuffix(".log") + ".outcomes.json"


def _publish_log(folder: RunFolder, label: str, kind: str, temp_log: Path) -> tuple[int, str]:
    for attempt in range(1, MAX_ATTEMPTS + 1):
        name = _log_name(label, kind, attempt)
        if (folder.path / _outcomes_name(label, kind, attempt)).exists():
            continue
        try:
            publish_new_file(temp_log, folder.path / name)
        except FileExistsError:
            continue
        if attempt > 1:
            logger.info("%s already contains %s evidence for %s; stored attempt %d", folder.path, kind, label, attempt)
        logger.info("wrote %s", folder.path / name)
        return attempt, name
    raise FileExistsError(
        f"{folder.path} already contains {MAX_ATTEMPTS} {kind} logs for label {label!r}; "
        "use another --label or a new run folder"
    )


def _build_entry(
    *,
    kind: str,
    folder: RunFolder,
    label: str,
    attempt: int,
    classification: Classification,
    exit_code: int | None,
    command: list[str],
    pytest_args: list[str],
    outcomes: Mapping[str, Any] | None,
    git: GitState,
    cwd: Path,
    started_at: str,
    log_file: str,
    outcomes_file: str | None,
) -> EvidenceEntry:
    outcomes = outcomes or {}
    tests: Mapping[str, Any] = outcomes.get("tests", {})
    by_outcome: dict[str, list[str]] = {"passed": [], "failed": [], "error": [], "skipped": []}
    for nodeid, test in tests.items():
        overall = test.get("outcome")
        bucket = "skipped" if overall in ("skipped", "xfailed", "xpassed", "not_run") else overall
        by_outcome.setdefault(bucket, []).append(nodeid)
    failure_types = {
        nodeid: phase.get("exception_type") or "no exception"
        for when in ("setup", "call", "teardown")
        for nodeid, phase in _failed_in_phase(tests, when).items()
    }
    selectors = outcomes.get("selectors", {})
    finished_at = utc_now_iso()
    return EvidenceEntry(
        kind=kind,
        focus=str(folder.focus),
        label=label,
        attempt=attempt,
        run_id=folder.run_id,
        classification=classification.name,
        valid=classification.valid,
        reason=classification.reason,
        exit_code=exit_code,
        command=command,
        pytest_args=pytest_args,
        selectors=list(selectors.get("args", [arg for arg in pytest_args if not arg.startswith("-")])),
        keyword=selectors.get("keyword"),
        markexpr=selectors.get("markexpr"),
        collected=list(outcomes.get("selected_nodeids", [])),
        passed=sorted(by_outcome["passed"]),
        failed=sorted(by_outcome["failed"]),
        errors=sorted(by_outcome["error"]),
        skipped=sorted(by_outcome["skipped"]),
        git_commit=git.commit,
        git_dirty=git.dirty,
        cwd=str(cwd),
        started_at=started_at,
        finished_at=finished_at,
        duration_s=round(_seconds_between(started_at, finished_at), 3),
        log_file=log_file,
        outcomes_file=outcomes_file,
        failure_types=failure_types,
    )


def _seconds_between(start_iso: str, end_iso: str) -> float:
    return (datetime.fromisoformat(end_iso) - datetime.fromisoformat(start_iso)).total_seconds()


# Status.


@dataclass(frozen=True)
class EvidencePair:
    """The latest red and green of one focus and label, and whether they agree."""

    focus: str
    label: str
    run_id: str
    folder: Path
    red: EvidenceEntry | None
    green: EvidenceEntry | None
    problems: tuple[str, ...]

    @property
    def consistent(self) -> bool:
        return not self.problems


def collect_pairs(reports_root: Path) -> list[EvidencePair]:
    """Return, per focus and label, the pair from the newest run folder that has evidence.

    In that folder the pair is the last red and the last green stored. The pair is
    consistent when both are valid, the green started after the red finished, and both
    selected the same node IDs.
    """
    latest: dict[tuple[str, str], tuple[RunFolder, Path, list[EvidenceEntry]]] = {}
    for run_folder in list_run_folders(reports_root):
        for focus_folder in sorted(p for p in run_folder.path.iterdir() if p.is_dir()):
            try:
                entries = read_evidence(focus_folder)
            except (OSError, ValueError, TypeError) as exc:
                logger.warning("skipping unreadable evidence in %s: %s", focus_folder, exc)
                continue
            for label in sorted({entry.label for entry in entries}):
                of_label = [entry for entry in entries if entry.label == label]
                latest[(focus_folder.name, label)] = (run_folder, focus_folder, of_label)
    pairs = []
    for (focus, label), (run_folder, focus_folder, entries) in sorted(latest.items()):
        red = _last_of_kind(entries, KIND_RED)
        green = _last_of_kind(entries, KIND_GREEN)
        pairs.append(
            EvidencePair(
                focus=focus,
                label=label,
                run_id=run_folder.run_id,
                folder=focus_folder,
                red=red,
                green=green,
                problems=tuple(pair_problems(red, green)),
            )
        )
    return pairs


def _last_of_kind(entries: Sequence[EvidenceEntry], kind: str) -> EvidenceEntry | None:
    of_kind = [entry for entry in entries if entry.kind == kind]
    return max(of_kind, key=lambda entry: entry.started_at) if of_kind else None


def pair_problems(red: EvidenceEntry | None, green: EvidenceEntry | None) -> list[str]:
    """List why ``red`` and ``green`` are not a consistent TDD pair; empty when they are."""
    problems = []
    if red is None:
        problems.append("no red run")
    elif not red.valid:
        problems.append(f"red is invalid ({red.classification})")
    if green is None:
        problems.append("no green run")
    elif not green.valid:
        problems.append(f"green is invalid ({green.classification})")
    if red is None or green is None:
        return problems
    if datetime.fromisoformat(green.started_at) < datetime.fromisoformat(red.finished_at):
        problems.append("green started before red finished")
    missing = sorted(set(red.collected) - set(green.collected))
    extra = sorted(set(green.collected) - set(red.collected))
    if missing:
        problems.append(f"green did not run {len(missing)} test(s) of the red: {', '.join(missing)}")
    if extra:
        problems.append(f"green ran {len(extra)} test(s) the red did not: {', '.join(extra)}")
    return problems


def format_pairs(pairs: Sequence[EvidencePair]) -> str:
    """Render pairs as the text that ``ptycho-harness tdd status`` prints."""
    if not pairs:
        return "no red/green evidence found"
    blocks = []
    for pair in pairs:
        lines = [f"{pair.focus} (label {pair.label}) in {pair.folder}"]
        lines.append(f"  red:   {_describe_entry(pair.red)}")
        lines.append(f"  green: {_describe_entry(pair.green)}")
        verdict = "yes" if pair.consistent else "no: " + "; ".join(pair.problems)
        lines.append(f"  consistent: {verdict}")
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def _describe_entry(entry: EvidenceEntry | None) -> str:
    if entry is None:
        return "none"
    validity = "valid" if entry.valid else "invalid"
    return (
        f"{validity} ({entry.classification}) at {entry.started_at}, git {entry.git.describe()}, "
        f"{len(entry.collected)} test(s), log {entry.log_file}"
    )
