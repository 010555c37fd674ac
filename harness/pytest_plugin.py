"""A pytest plugin that records test outcomes as data, for red/green evidence.

It stays inert unless ``--harness-evidence PATH`` is given or the
``PTYCHO_HARNESS_EVIDENCE`` environment variable is set. When active, it writes one JSON
file at the end of the session. The file records each test's outcome per phase (setup,
call, teardown) and the exception type behind every failure, with whether it was an
assertion. It also records collection errors with the exception that caused them, a
usage or internal error raised inside the session, the number of tests collected and
selected, and the session's exit status.
``PATH`` is a ``.json`` file, or a folder that receives ``outcomes.json``.

The red/green classifier reads this file; it never parses pytest's terminal output.
Importing this module must stay cheap (it loads in every pytest run of the
environment), so it imports nothing beyond pytest and the standard library.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Generator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

logger = logging.getLogger(__name__)

EVIDENCE_ENV_VAR = "PTYCHO_HARNESS_EVIDENCE"
OUTCOMES_FILE_NAME = "outcomes.json"
OUTCOMES_SCHEMA_VERSION = 1
RECORDER_PLUGIN_NAME = "ptycho_harness_recorder"

# Failure kinds stored per failed phase.
FAILURE_ASSERTION = "assertion"
FAILURE_EXCEPTION = "exception"
FAILURE_NO_EXCEPTION = "no_exception"

# The report attribute that carries the failure details from the process that ran the
# test (an xdist worker, or this process) to the process that records it.
_REPORT_ATTRIBUTE = "harness_failure"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ptycho-harness", "ptycho-harness evidence")
    group.addoption(
        "--harness-evidence",
        metavar="PATH",
        default=None,
        help=(
            "record per-test outcomes as JSON into PATH (a .json file, or a folder that "
            f"receives {OUTCOMES_FILE_NAME}); also enabled by the {EVIDENCE_ENV_VAR} "
            "environment variable"
        ),
    )


def pytest_configure(config: pytest.Config) -> None:
    target = config.getoption("--harness-evidence") or os.environ.get(EVIDENCE_ENV_VAR)
    if not target:
        return
    # Every xdist worker receives the same option and environment, so only the controller
    # writes the file. Workers still annotate their reports.
    is_worker = hasattr(config, "workerinput")
    recorder = OutcomeRecorder(resolve_outcomes_path(Path(target)), write=not is_worker)
    config.pluginmanager.register(recorder, RECORDER_PLUGIN_NAME)


def resolve_outcomes_path(target: Path) -> Path:
    """Return the JSON file for ``target``: itself if it ends in .json, else a file inside it."""
    if target.suffix == ".json":
        return target
    return target / OUTCOMES_FILE_NAME


def describe_exception(exc: BaseException | None) -> dict[str, Any]:
    """Describe a failure's exception: its type, its cause chain and its failure kind.

    The kind is ``assertion`` for an ``AssertionError`` (a failed ``assert``), for
    ``pytest.fail`` and a failed ``pytest.raises`` (both raise pytest's ``Failed``), and
    for an exception group whose members are all assertions (as Hypothesis raises when
    it finds several distinct failures). Any other exception is ``exception``.

    NOTE: pytest-timeout also ends a timed-out test through ``pytest.fail``, so a
    timeout counts as an assertion here.
    """
    if exc is None:
        return {"exception_type": None, "cause_types": [], "kind": FAILURE_NO_EXCEPTION}
    return {
        "exception_type": _qualified_type_name(exc),
        "cause_types": [_qualified_type_name(cause) for cause in _cause_chain(exc)],
        "kind": FAILURE_ASSERTION if _is_assertion(exc) else FAILURE_EXCEPTION,
    }


def _qualified_type_name(exc: BaseException) -> str:
    exc_type = type(exc)
    if exc_type.__module__ == "builtins":
        return exc_type.__qualname__
    return f"{exc_type.__module__}.{exc_type.__qualname__}"


def _cause_chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current = exc.__cause__ or exc.__context__
    while current is not None and current not in chain and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _is_assertion(exc: BaseException) -> bool:
    if isinstance(exc, (AssertionError, pytest.fail.Exception)):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return all(_is_assertion(member) for member in exc.exceptions)
    return False


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


class OutcomeRecorder:
    """Collect outcomes during a session and write them to ``path`` when it ends."""

    def __init__(self, path: Path, *, write: bool = True) -> None:
        self.path = path
        self.write = write
        self.started_at = _now_iso()
        self.tests: dict[str, dict[str, Any]] = {}
        self.collection_errors: list[dict[str, Any]] = []
        self.session_error: dict[str, Any] | None = None
        self.internal_error: str | None = None
        self.interrupted = False
        self.collected = 0
        self.selected = 0
        self.deselected = 0
        self.selected_nodeids: list[str] = []

    # Tests: annotate the report where the test ran, record it where reports arrive.

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if report.failed:
            exc = call.excinfo.value if call.excinfo is not None else None
            setattr(report, _REPORT_ATTRIBUTE, describe_exception(exc))
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        entry = self.tests.setdefault(report.nodeid, {"phases": {}})
        phase: dict[str, Any] = {
            "outcome": report.outcome,
            "duration_s": round(float(report.duration), 6),
        }
        if hasattr(report, "wasxfail"):
            phase["xfail"] = True
        failure = getattr(report, _REPORT_ATTRIBUTE, None)
        if report.failed:
            phase.update(failure or describe_exception(None))
        entry["phases"][report.when] = phase

    # Collection.

    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(
        self, collector: pytest.Collector
    ) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
        report = yield
        if report.failed:
            # pytest keeps the CallInfo on the report until collect_one_node pops it.
            call = report.__dict__.get("call")
            exc = call.excinfo.value if call is not None and call.excinfo else None
            setattr(report, _REPORT_ATTRIBUTE, describe_exception(exc))
        return report

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if not report.failed:
            return
        error = {"nodeid": report.nodeid}
        error.update(getattr(report, _REPORT_ATTRIBUTE, None) or describe_exception(None))
        self.collection_errors.append(error)

    @pytest.hookimpl(wrapper=True)
    def pytest_collection(self, session: pytest.Session) -> Generator[None, object, object]:
        try:
            return (yield)
        except pytest.UsageError as exc:
            # A selector that names no file or test ends the session here.
            self.session_error = {"exception_type": "UsageError", "message": str(exc)}
            raise

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.deselected += len(items)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.selected_nodeids = [item.nodeid for item in session.items]
        self.selected = len(self.selected_nodeids)
        self.collected = self.selected + self.deselected

    # Session end.

    def pytest_keyboard_interrupt(self) -> None:
        self.interrupted = True

    def pytest_internalerror(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        self.internal_error = f"{excinfo.typename}: {excinfo.value}"

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if not self.write:
            return
        outcomes = self.as_dict(session, int(session.exitstatus))
        write_json_atomically(self.path, outcomes)

    def as_dict(self, session: pytest.Session, exit_status: int) -> dict[str, Any]:
        """Return the recorded session as the JSON document ``outcomes.json`` holds."""
        config = session.config
        for entry in self.tests.values():
            entry["outcome"] = _overall_outcome(entry["phases"])
        return {
            "schema_version": OUTCOMES_SCHEMA_VERSION,
            "pytest_version": pytest.__version__,
            "invocation_args": list(config.invocation_params.args),
            "invocation_dir": str(config.invocation_params.dir),
            "rootdir": str(config.rootpath),
            "selectors": {
                "args": list(config.getoption("file_or_dir") or []),
                "keyword": config.getoption("keyword") or None,
                "markexpr": config.getoption("markexpr") or None,
            },
            "started_at": self.started_at,
            "finished_at": _now_iso(),
            "collected": self.collected,
            "selected": self.selected,
            "deselected": self.deselected,
            "selected_nodeids": self.selected_nodeids,
            "collection_errors": self.collection_errors,
            "session_error": self.session_error,
            "internal_error": self.internal_error,
            "interrupted": self.interrupted,
            "exit_status": exit_status,
            "tests": self.tests,
        }


def _overall_outcome(phases: dict[str, dict[str, Any]]) -> str:
    """Return one outcome per test: ``error`` when setup or teardown failed, else the call's."""
    for when in ("setup", "teardown"):
        if phases.get(when, {}).get("outcome") == "failed":
            return "error"
    call = phases.get("call")
    if call is None:
        setup = phases.get("setup", {})
        return "skipped" if setup.get("outcome") == "skipped" else "not_run"
    if call.get("xfail"):
        return "xfailed" if call["outcome"] == "skipped" else "xpassed"
    return str(call["outcome"])


def write_json_atomically(path: Path, document: Any) -> None:
    """Write ``document`` to ``path`` through a temporary file in the same folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            json.dump(document, stream, indent=2, sort_keys=True)
            stream.write("\n")
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
