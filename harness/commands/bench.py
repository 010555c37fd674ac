"""``ptycho-harness bench``: run the shipped benchmark suite into a new run folder and
compare it with a baseline run."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.compare import Comparison, Thresholds
    from harness.runfolder import RunFolder

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="run the benchmark suite, keep benchmark.json, compare with a baseline",
        description=(
            "Run the benchmark suite shipped with ptycho-harness (validation of a dataset "
            "file, one inference batch, stitching many patches, the whole reconstruction with "
            "its errors against the true object, and a small calibration workload) through "
            "pytest-benchmark, serially in one process. Writes <reports>/<run-id>/manifest.json, "
            "benchmark.json (pytest-benchmark's format, with per-round times) and bench.log. "
            "With --compare, also comparison.json and comparison.md. A time regression needs "
            "the ratio of the fastest rounds (or medians) above --threshold AND a significant one-sided Mann-Whitney U "
            "test on the per-round times; peak memory and reconstruction errors are gated on "
            "their relative increase. Exit status 0 when every benchmark ran and nothing "
            "regressed, 1 on a failed benchmark or a regression, 2 on a usage or input error."
        ),
    )
    add_bench_arguments(parser)
    parser.add_argument(
        "-m",
        "--markers",
        default=None,
        metavar="EXPRESSION",
        help=(
            "pytest -m marker expression, for example 'scale' for the validation benchmarks on "
            "GiB files, which the default run leaves out (they write about 2.5 GiB of temporary files)"
        ),
    )
    parser.add_argument(
        "--compare",
        default=None,
        metavar="PREV",
        help="baseline to compare with: a run folder, a benchmark JSON file, or 'latest' (the newest run folder with benchmark.json)",
    )
    parser.set_defaults(handler=handle_bench)


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options that ``bench`` and ``gate`` share."""
    parser.add_argument("--reports", type=Path, default=Path("reports"), metavar="DIR", help="reports root (default: ./reports)")
    parser.add_argument(
        "-k",
        dest="selection",
        default=None,
        metavar="EXPRESSION",
        help="run only the benchmarks whose names match this pytest -k expression",
    )
    parser.add_argument(
        "--suite",
        type=Path,
        default=None,
        metavar="DIR",
        help="benchmark suite folder with bench_*.py files and a pytest.ini (default: the shipped suite)",
    )
    parser.add_argument(
        "--timer",
        choices=("cpu", "wall"),
        default="cpu",
        help="cpu: CPU time of the benchmark process, steady under changing machine load (default); wall: wall-clock time",
    )
    add_threshold_arguments(parser)


def add_threshold_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the comparison thresholds, --alpha and --strict."""
    from harness.compare import (
        DEFAULT_ALPHA,
        DEFAULT_MEMORY_THRESHOLD,
        DEFAULT_QUALITY_THRESHOLD,
        DEFAULT_TIME_THRESHOLD,
    )

    parser.add_argument(
        "--threshold",
        type=float,
        default=DEFAULT_TIME_THRESHOLD,
        metavar="FRACTION",
        help=f"allowed slowdown of the time (see --time-statistic), as a fraction (default: {DEFAULT_TIME_THRESHOLD})",
    )
    parser.add_argument(
        "--memory-threshold",
        type=float,
        default=DEFAULT_MEMORY_THRESHOLD,
        metavar="FRACTION",
        help=f"allowed increase of peak memory, as a fraction (default: {DEFAULT_MEMORY_THRESHOLD})",
    )
    parser.add_argument(
        "--quality-threshold",
        type=float,
        default=DEFAULT_QUALITY_THRESHOLD,
        metavar="FRACTION",
        help=f"allowed increase of the amplitude and phase errors, as a fraction (default: {DEFAULT_QUALITY_THRESHOLD})",
    )
    parser.add_argument(
        "--time-statistic",
        choices=("min", "median"),
        default="min",
        help="statistic of the per-round times that --threshold applies to (default: min, the steadiest between runs)",
    )
    parser.add_argument(
        "--alpha",
        type=float,
        default=DEFAULT_ALPHA,
        help=f"significance level of the one-sided test on per-round times (default: {DEFAULT_ALPHA})",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="fail on regressions also when the two runs come from different machines",
    )


def thresholds_from_args(args: argparse.Namespace) -> Thresholds:
    """Return the Thresholds the options set; raise ValueError naming an invalid one."""
    from harness.compare import Thresholds

    return Thresholds(
        time=args.threshold,
        memory=args.memory_threshold,
        quality=args.quality_threshold,
        alpha=args.alpha,
        time_statistic=args.time_statistic,
    )


def handle_bench(args: argparse.Namespace) -> int:
    from harness.bench import describe_stats, run_benchmarks
    from harness.compare import CompareInputError, resolve_baseline
    from harness.manifest import STATUS_COMPLETE, STATUS_FAILED, Manifest
    from harness.runfolder import create_run_folder

    try:
        thresholds = thresholds_from_args(args)
        baseline_path = resolve_baseline(args.compare, args.reports) if args.compare else None
    except (ValueError, CompareInputError) as exc:
        print(f"ptycho-harness bench: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.suite is not None and not (args.suite / "pytest.ini").is_file():
        print(
            f"ptycho-harness bench: --suite {args.suite} has no pytest.ini; give a folder with "
            "bench_*.py files and a pytest.ini",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        run_folder = create_run_folder(args.reports)
    except OSError as exc:
        print(f"ptycho-harness bench: cannot create a run folder under {args.reports}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    with Manifest(run_folder, command=getattr(args, "command_line", None) or _command(args)) as manifest:
        marker_args = ("-m", args.markers) if args.markers else ()
        result = run_benchmarks(
            run_folder,
            selection=args.selection,
            suite_dir=args.suite,
            extra_args=marker_args,
            echo=sys.stdout.buffer,
            timer=args.timer,
        )
        comparison = None
        if baseline_path is not None and result.json_path is not None:
            comparison = _compare(baseline_path, result.json_path, thresholds, args.strict, run_folder)
        ran = result.ok and bool(result.rows)
        regressed = comparison is not None and comparison.failed
        manifest.finish(
            STATUS_COMPLETE if ran and not regressed else STATUS_FAILED,
            pytest_exit_code=result.exit_code,
            **({"comparison": comparison.verdict()} if comparison is not None else {}),
        )
    print(describe_stats(result.rows))
    print(f"log: {result.log_path}")
    if result.json_path is not None:
        print(f"benchmark data: {result.json_path}")
    if comparison is not None:
        _print_comparison(comparison, run_folder.path)
    if not result.rows:
        print(f"FAILED: no benchmark ran (pytest exit {result.exit_code}); see {result.log_path}")
        return EXIT_CHECK_FAILED
    if not result.ok:
        print(f"FAILED: the benchmark suite exited {result.exit_code}; see {result.log_path}")
        return EXIT_CHECK_FAILED
    if comparison is not None and comparison.failed:
        print(f"FAILED: {comparison.verdict()}")
        return EXIT_CHECK_FAILED
    print(f"ok: {len(result.rows)} benchmark(s) in {run_folder.path}")
    return EXIT_OK


def _command(args: argparse.Namespace) -> list[str]:
    command = ["ptycho-harness", "bench", "--reports", str(args.reports)]
    if args.selection:
        command += ["-k", args.selection]
    if args.compare:
        command += ["--compare", str(args.compare)]
    return command


def _compare(
    baseline_path: Path, candidate_path: Path, thresholds: Thresholds, strict: bool, run_folder: RunFolder
) -> Comparison:
    from harness.compare import compare_runs, load_benchmark_run, write_comparison

    comparison = compare_runs(
        load_benchmark_run(baseline_path), load_benchmark_run(candidate_path), thresholds, strict=strict
    )
    write_comparison(run_folder, comparison)
    return comparison


def _print_comparison(comparison: Comparison, folder: Path) -> None:
    print(f"compared with {comparison.baseline_source}:")
    for method in comparison.method:
        print(f"  method: {method}")
    for warning in comparison.warnings:
        print(f"  WARNING: {warning}")
    for metric in comparison.metrics:
        flag = "REGRESSION" if metric.regression else "ok"
        print(f"  {flag:<10} {metric.benchmark} {metric.metric}: {metric.detail}")
    print(f"comparison: {folder / 'comparison.md'}")
    print(f"comparison verdict: {comparison.verdict()}")
