"""``ptycho-harness gate``: what CI runs, with one exit status and a JUnit XML file."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2

_EPILOG = """\
Pass pytest's arguments after '--', for example:
  ptycho-harness gate --baseline latest --junit-xml gate.xml -- tests -m "not slow" -n 4
Without them the gate runs the tests/ folder of the working directory, or, where there is
none, the shipped benchmark suite as plain tests. The benchmarks for the comparison always
run serially in one process (-p no:xdist), after the tests.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    from harness.commands.bench import add_threshold_arguments

    parser = subparsers.add_parser(
        "gate",
        help="run contracts, tests, red/green consistency and the benchmark comparison, as CI does",
        description=(
            "Run four checks into one new run folder: the contracts (validate the dataset), the "
            "tests (pytest), red/green consistency (each focus's latest pair under the reports "
            "root), and, with --baseline, the benchmark suite compared with the baseline. Writes "
            "gate.md, gate.json and junit.xml (one test case per check), and appends gate.md to "
            "the file named by GITHUB_STEP_SUMMARY when that is set. Exit status 0 when no check "
            "failed, 1 when one failed, 2 on a usage or input error."
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--reports", type=Path, default=Path("reports"), metavar="DIR", help="reports root (default: ./reports)")
    parser.add_argument(
        "--baseline",
        default=None,
        metavar="PREV",
        help="compare the benchmarks with this run folder, benchmark JSON file, or 'latest' (default: no benchmarks)",
    )
    parser.add_argument("--junit-xml", type=Path, default=None, metavar="PATH", help="also write the JUnit XML here")
    parser.add_argument(
        "--dataset", type=Path, default=None, help="dataset to validate (default: the one the reference adapter ships)"
    )
    parser.add_argument(
        "--bench-suite", type=Path, default=None, metavar="DIR",
        help="benchmark suite folder with bench_*.py files and a pytest.ini (default: the shipped suite)",
    )
    parser.add_argument(
        "--bench-k", dest="bench_selection", default=None, metavar="EXPRESSION",
        help="run only the benchmarks whose names match this pytest -k expression",
    )
    parser.add_argument(
        "--timer", choices=("cpu", "wall"), default="cpu",
        help="benchmark timer: cpu (process CPU time, the default) or wall",
    )
    add_threshold_arguments(parser)
    parser.add_argument("pytest_args", nargs="*", metavar="PYTEST_ARG", help="arguments for pytest, after '--'")
    parser.set_defaults(handler=handle_gate)


def handle_gate(args: argparse.Namespace) -> int:
    from harness.commands.bench import thresholds_from_args
    from harness.gate import GateInputError, GateOptions, run_gate

    try:
        thresholds = thresholds_from_args(args)
    except ValueError as exc:
        print(f"ptycho-harness gate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.bench_suite is not None and not (args.bench_suite / "pytest.ini").is_file():
        print(f"ptycho-harness gate: --bench-suite {args.bench_suite} has no pytest.ini", file=sys.stderr)
        return EXIT_USAGE
    options = GateOptions(
        reports_root=args.reports,
        baseline=args.baseline,
        junit_xml=args.junit_xml,
        pytest_args=tuple(args.pytest_args),
        dataset=args.dataset,
        bench_suite=args.bench_suite,
        bench_selection=args.bench_selection,
        thresholds=thresholds,
        strict=args.strict,
        timer=args.timer,
        command=tuple(getattr(args, "command_line", None) or ["ptycho-harness", "gate"]),
    )
    try:
        result = run_gate(options, echo=sys.stdout.buffer)
    except GateInputError as exc:
        print(f"ptycho-harness gate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.flush()
    print()
    print(result.summary_path.read_text(encoding="utf-8"))
    print(f"junit xml: {args.junit_xml or result.junit_path}")
    print(f"{result.verdict()}; summary: {result.summary_path}")
    return EXIT_OK if result.passed else EXIT_CHECK_FAILED
