"""The CI gate: contracts, tests, red/green consistency and the benchmark comparison.

``run_gate`` runs the four checks in that order into one new run folder and writes
``gate.json``, ``gate.md`` (the summary a person reads), ``junit.xml`` (one test case per
check), ``contracts.json``, ``tests.log`` and, with a baseline, ``benchmark.json``,
``bench.log`` and the comparison. A check that cannot run is a failed check, never a
crash of the gate. The benchmarks run after the tests, serially in one process, also when
the tests run on pytest-xdist.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import IO, Any

from harness.compare import Thresholds
from harness.manifest import STATUS_COMPLETE, STATUS_FAILED, Manifest
from harness.pytest_runner import recording_environment, run_logged
from harness.runfolder import RunFolder, create_run_folder

logger = logging.getLogger(__name__)

PASSED = "passed"
FAILED = "failed"
SKIPPED = "skipped"
GATE_JSON_NAME = "gate.json"
GATE_MD_NAME = "gate.md"
JUNIT_NAME = "junit.xml"
TESTS_LOG_NAME = "tests.log"
CONTRACTS_JSON_NAME = "contracts.json"
STEP_SUMMARY_ENV_VAR = "GITHUB_STEP_SUMMARY"
CHECK_CONTRACTS = "contracts"
CHECK_TESTS = "tests"
CHECK_RED_GREEN = "red/green"
CHECK_BENCHMARKS = "benchmarks"


class GateInputError(ValueError):
    """An option of the gate that cannot be used: a missing baseline or dataset."""


@dataclass(frozen=True)
class GateOptions:
    """Options of one gate run; None means the default."""

    reports_root: Path = Path("reports")
    baseline: str | None = None
    junit_xml: Path | None = None
    pytest_args: tuple[str, ...] = ()
    dataset: Path | None = None
    bench_suite: Path | None = None
    bench_selection: str | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    strict: bool = False
    timer: str = "cpu"
    cwd: Path | None = None
    command: tuple[str, ...] = ("ptycho-harness", "gate")


@dataclass(frozen=True)
class GateCheck:
    """The outcome of one gate check; ``status`` is passed, failed or skipped."""

    name: str
    status: str
    detail: str
    duration_s: float
    output: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GateResult:
    """Every check of one gate run and the run folder it wrote."""

    folder: RunFolder
    checks: tuple[GateCheck, ...]
    junit_path: Path
    summary_path: Path

    @property
    def passed(self) -> bool:
        return all(check.status != FAILED for check in self.checks)

    def verdict(self) -> str:
        """Return the one-line verdict, for example ``gate PASSED: contracts passed, ...``."""
        parts = ", ".join(f"{check.name} {check.status}" for check in self.checks)
        return f"gate {'PASSED' if self.passed else 'FAILED'}: {parts}"


def run_gate(options: GateOptions, echo: IO[bytes] | None = None) -> GateResult:
    """Run the gate's checks into a new run folder and write its reports.

    Raises:
        GateInputError: the baseline or the dataset named in ``options`` does not exist.
    """
    baseline_path = _resolve_baseline(options)
    dataset = _resolve_dataset(options)
    folder = create_run_folder(options.reports_root)
    logger.info("gate run folder: %s", folder.path)
    checks: list[GateCheck] = []
    with Manifest(folder, command=list(options.command)) as manifest:
        steps: list[tuple[str, Callable[[], GateCheck]]] = [
            (CHECK_CONTRACTS, lambda: check_contracts(folder, dataset)),
            (CHECK_TESTS, lambda: check_tests(folder, options, echo)),
            (CHECK_RED_GREEN, lambda: check_red_green(options.reports_root)),
            (CHECK_BENCHMARKS, lambda: check_benchmarks(folder, options, baseline_path, echo)),
        ]
        for name, step in steps:
            checks.append(_run_check(name, step))
        result = _write_reports(folder, options, tuple(checks))
        manifest.finish(STATUS_COMPLETE if result.passed else STATUS_FAILED, verdict=result.verdict())
    return result


def _resolve_baseline(options: GateOptions) -> Path | None:
    if options.baseline is None:
        return None
    from harness.compare import CompareInputError, resolve_baseline

    try:
        return resolve_baseline(options.baseline, options.reports_root)
    except CompareInputError as exc:
        raise GateInputError(str(exc)) from None


def _resolve_dataset(options: GateOptions) -> Path | None:
    if options.dataset is not None:
        if not Path(options.dataset).is_file():
            raise GateInputError(f"dataset {options.dataset} not found; check the --dataset path")
        return Path(options.dataset)
    return None


def _run_check(name: str, step: Callable[[], GateCheck]) -> GateCheck:
    started = time.perf_counter()
    try:
        check = step()
    except Exception as exc:  # a check that crashes is a failed check, and the gate goes on
        logger.exception("gate check %s crashed", name)
        check = GateCheck(name, FAILED, f"the check could not run: {type(exc).__name__}: {exc}", 0.0)
    duration = round(time.perf_counter() - started, 3)
    logger.info("gate check %s %s: %s", name, check.status, check.detail)
    return GateCheck(check.name, check.status, check.detail, duration, check.output, check.data)


# The checks.


def check_contracts(folder: RunFolder, dataset: Path | None) -> GateCheck:
    """Validate the dataset (default: the one the default adapter ships) against its contract."""
    from contracts.errors import InputError
    from contracts.validate import validate_file

    if dataset is None:
        from harness.adapter import load_adapter

        dataset = load_adapter().default_dataset()
        if dataset is None:
            return GateCheck(CHECK_CONTRACTS, FAILED, "the default adapter ships no dataset; pass --dataset", 0.0)
    try:
        report = validate_file(dataset)
    except InputError as exc:
        folder.write_json(CONTRACTS_JSON_NAME, {"file": None, "input_error": str(exc), "stages": []})
        return GateCheck(CHECK_CONTRACTS, FAILED, f"dataset {dataset} could not be read: {exc}", 0.0)
    document = report.to_dict()
    folder.write_json(CONTRACTS_JSON_NAME, {"file": document, "stages": []})
    detail = (
        f"{document.get('rules_checked')} rules of family {report.family} checked on {Path(dataset).name}: "
        f"{document.get('errors', len(report.errors))} errors, {document.get('warnings', 0)} warnings"
    )
    return GateCheck(CHECK_CONTRACTS, PASSED if report.ok else FAILED, detail, 0.0, data={"dataset": str(dataset)})


def default_pytest_args(cwd: Path) -> list[str]:
    """Return the project's tests/ folder if there is one, else the shipped benchmark suite as tests."""
    if (cwd / "tests").is_dir():
        return ["tests"]
    suite = Path(str(resources.files("harness") / "suites"))
    return ["-c", str(suite / "pytest.ini"), "--rootdir", str(suite), "--benchmark-disable", str(suite)]


def check_tests(folder: RunFolder, options: GateOptions, echo: IO[bytes] | None) -> GateCheck:
    """Run pytest on the gate's pytest arguments and keep its log as tests.log."""
    cwd = Path(options.cwd) if options.cwd is not None else Path.cwd()
    args = list(options.pytest_args) or default_pytest_args(cwd)
    command = [sys.executable, "-m", "pytest", *args]
    with tempfile.TemporaryDirectory(prefix="ptycho-harness-gate-") as temp:
        outcomes_path = Path(temp) / "outcomes.json"
        env = recording_environment(outcomes_path)
        exit_code = run_logged(command, folder, TESTS_LOG_NAME, cwd=cwd, env=env, echo=echo)
        outcomes = _read_json(outcomes_path)
    counts = _count_outcomes(outcomes)
    summary = ", ".join(f"{count} {name}" for name, count in counts.items() if count) or "no tests ran"
    if _requests_xdist(args):
        summary += (
            "; the tests ran on pytest-xdist workers, where pytest-benchmark disables benchmark "
            "fixtures, so the benchmarks check runs the suite serially instead"
        )
    tail = _log_tail(folder.path / TESTS_LOG_NAME)
    data = {"command": command, "exit_code": exit_code, "counts": counts, "log": TESTS_LOG_NAME}
    if exit_code == 0:
        return GateCheck(CHECK_TESTS, PASSED, f"pytest {' '.join(args)}: {summary}", 0.0, tail, data)
    reason = {5: "no tests were collected", 4: "pytest usage error", 2: "interrupted", 3: "internal error"}.get(
        exit_code, "tests failed"
    )
    return GateCheck(
        CHECK_TESTS, FAILED, f"pytest {' '.join(args)} exited {exit_code} ({reason}): {summary}; see {TESTS_LOG_NAME}",
        0.0, tail, data,
    )


def _requests_xdist(args: Sequence[str]) -> bool:
    """Return whether pytest arguments ask pytest-xdist for workers (``-n 4``, ``-nauto``, ``--dist``)."""
    return any(arg.startswith(("-n", "--numprocesses", "--dist")) for arg in args)


def check_red_green(reports_root: Path) -> GateCheck:
    """Check that each focus's latest red/green pair under ``reports_root`` is consistent."""
    from harness.tdd import collect_pairs, format_pairs

    pairs = collect_pairs(reports_root)
    document = [
        {
            "focus": pair.focus,
            "label": pair.label,
            "run_id": pair.run_id,
            "folder": str(pair.folder),
            "consistent": pair.consistent,
            "problems": list(pair.problems),
            "red": _entry_summary(pair.red),
            "green": _entry_summary(pair.green),
        }
        for pair in pairs
    ]
    if not pairs:
        return GateCheck(CHECK_RED_GREEN, SKIPPED, f"no red/green evidence under {reports_root}", 0.0, data={"pairs": []})
    inconsistent = [pair for pair in pairs if not pair.consistent]
    detail = f"{len(pairs) - len(inconsistent)} of {len(pairs)} pair(s) consistent"
    if inconsistent:
        detail += ": " + "; ".join(f"{p.focus}/{p.label}: {', '.join(p.problems)}" for p in inconsistent)
    return GateCheck(
        CHECK_RED_GREEN, FAILED if inconsistent else PASSED, detail, 0.0, format_pairs(pairs), {"pairs": document}
    )


def _entry_summary(entry: Any) -> dict[str, Any] | None:
    if entry is None:
        return None
    return {
        "valid": entry.valid,
        "classification": entry.classification,
        "started_at": entry.started_at,
        "git": entry.git.describe(),
        "log_file": entry.log_file,
        "tests": len(entry.collected),
    }


def check_benchmarks(
    folder: RunFolder, options: GateOptions, baseline_path: Path | None, echo: IO[bytes] | None
) -> GateCheck:
    """Run the benchmark suite serially and compare it with the baseline, when one is given."""
    from harness.bench import SERIAL_NOTE, run_benchmarks
    from harness.compare import compare_runs, load_benchmark_run, write_comparison

    if baseline_path is None:
        return GateCheck(CHECK_BENCHMARKS, SKIPPED, "no --baseline given, so the benchmarks did not run", 0.0)
    result = run_benchmarks(
        folder, selection=options.bench_selection, suite_dir=options.bench_suite, echo=echo, timer=options.timer
    )
    if result.json_path is None or not result.rows:
        return GateCheck(
            CHECK_BENCHMARKS, FAILED, f"no benchmark ran (pytest exit {result.exit_code}); see bench.log", 0.0,
            _log_tail(result.log_path),
        )
    comparison = compare_runs(
        load_benchmark_run(baseline_path), load_benchmark_run(result.json_path), options.thresholds, strict=options.strict
    )
    write_comparison(folder, comparison)
    detail = f"{SERIAL_NOTE}; {len(result.rows)} benchmark(s) against {baseline_path}: {comparison.verdict()}"
    if comparison.warnings:
        detail += "; warnings: " + "; ".join(comparison.warnings)
    if not result.ok:
        detail = f"the benchmark suite exited {result.exit_code}; " + detail
    status = FAILED if comparison.failed or not result.ok else PASSED
    return GateCheck(CHECK_BENCHMARKS, status, detail, 0.0, data={"comparison": "comparison.json", "serial": True})


# Subprocess and files.


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _count_outcomes(outcomes: Any) -> dict[str, int]:
    counts = {"passed": 0, "failed": 0, "error": 0, "skipped": 0, "xfailed": 0, "xpassed": 0}
    if not isinstance(outcomes, dict):
        return counts
    for test in (outcomes.get("tests") or {}).values():
        outcome = test.get("outcome")
        if outcome in counts:
            counts[outcome] += 1
    counts["collection errors"] = len(outcomes.get("collection_errors") or [])
    return counts


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# Reports.


def _write_reports(folder: RunFolder, options: GateOptions, checks: tuple[GateCheck, ...]) -> GateResult:
    junit_path = folder.file_path(JUNIT_NAME)
    summary_path = folder.file_path(GATE_MD_NAME)
    result = GateResult(folder=folder, checks=checks, junit_path=junit_path, summary_path=summary_path)
    folder.write_json(
        GATE_JSON_NAME,
        {"verdict": result.verdict(), "passed": result.passed, "checks": [asdict(check) for check in checks]},
    )
    xml = render_junit_xml(checks)
    folder.write_bytes(JUNIT_NAME, xml)
    if options.junit_xml is not None:
        _write_outside(Path(options.junit_xml), xml)
    markdown = render_gate_markdown(result)
    folder.write_text(GATE_MD_NAME, markdown)
    append_step_summary(markdown)
    return result


def _write_outside(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_bytes(data)
    os.replace(temp, path)
    logger.info("wrote %s", path)


def render_junit_xml(checks: Sequence[GateCheck]) -> bytes:
    """Render the checks as JUnit XML: one test suite, one test case per check."""
    suite = ElementTree.Element(
        "testsuite",
        name="ptycho-harness gate",
        tests=str(len(checks)),
        failures=str(sum(check.status == FAILED for check in checks)),
        errors="0",
        skipped=str(sum(check.status == SKIPPED for check in checks)),
        time=f"{sum(check.duration_s for check in checks):.3f}",
    )
    for check in checks:
        case = ElementTree.SubElement(
            suite, "testcase", classname="ptycho_harness.gate", name=check.name, time=f"{check.duration_s:.3f}"
        )
        if check.status == FAILED:
            failure = ElementTree.SubElement(case, "failure", message=check.detail[:500])
            failure.text = check.detail
        elif check.status == SKIPPED:
            ElementTree.SubElement(case, "skipped", message=check.detail[:500])
        if check.output:
            ElementTree.SubElement(case, "system-out").text = check.output
    root = ElementTree.Element("testsuites")
    root.append(suite)
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def render_gate_markdown(result: GateResult) -> str:
    """Render the gate's summary: the verdict, then one row per check."""
    lines = [
        f"## ptycho-harness gate: {'PASSED' if result.passed else 'FAILED'}",
        "",
        f"Run folder: `{result.folder.path}`",
        "",
        "| check | result | detail |",
        "| --- | --- | --- |",
    ]
    for check in result.checks:
        result_text = {PASSED: "pass", FAILED: "FAIL", SKIPPED: "skipped"}[check.status]
        detail = check.detail.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {check.name} | {result_text} | {detail} |")
    lines += ["", f"JUnit XML: `{JUNIT_NAME}`; test log: `{TESTS_LOG_NAME}`."]
    return "\n".join(lines) + "\n"


def append_step_summary(markdown: str) -> Path | None:
    """Append ``markdown`` to the file named by GITHUB_STEP_SUMMARY, when that is set."""
    target = os.environ.get(STEP_SUMMARY_ENV_VAR)
    if not target:
        return None
    path = Path(target)
    try:
        with path.open("a", encoding="utf-8") as stream:
            stream.write(markdown + "\n")
    except OSError as exc:
        logger.warning("could not append the gate summary to %s=%s: %s", STEP_SUMMARY_ENV_VAR, path, exc)
        return None
    logger.info("appended the gate summary to %s", path)
    return path
