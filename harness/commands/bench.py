"""``ptycho-harness bench``: run the shipped benchmark suite into a new run folder."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="run the benchmark suite and keep benchmark.json in a new run folder",
        description=(
            "Run the benchmark suite shipped with ptycho-harness (validation of a dataset "
            "file, one inference batch, stitching many patches) through pytest-benchmark. "
            "Writes <reports>/<run-id>/manifest.json, benchmark.json (pytest-benchmark's "
            "format) and bench.log. Exit status 0 when every benchmark ran, 1 when one "
            "failed or none ran."
        ),
    )
    parser.add_argument("--reports", type=Path, default=Path("reports"), metavar="DIR", help="reports root (default: ./reports)")
    parser.add_argument(
        "-k",
        dest="selection",
        default=None,
        metavar="EXPRESSION",
        help="run only the benchmarks whose names match this pytest -k expression",
    )
    parser.set_defaults(handler=handle_bench)


def handle_bench(args: argparse.Namespace) -> int:
    from harness.bench import describe_stats, run_benchmarks
    from harness.manifest import STATUS_COMPLETE, STATUS_FAILED, Manifest
    from harness.runfolder import create_run_folder

    try:
        run_folder = create_run_folder(args.reports)
    except OSError as exc:
        print(f"ptycho-harness bench: cannot create a run folder under {args.reports}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    command = ["ptycho-harness", "bench", "--reports", str(args.reports)]
    if args.selection:
        command += ["-k", args.selection]
    with Manifest(run_folder, command=command) as manifest:
        result = run_benchmarks(run_folder, selection=args.selection, echo=sys.stdout.buffer)
        manifest.finish(STATUS_COMPLETE if result.ok and result.rows else STATUS_FAILED, pytest_exit_code=result.exit_code)
    print(describe_stats(result.rows))
    print(f"log: {result.log_path}")
    if result.json_path is not None:
        print(f"benchmark data: {result.json_path}")
    if not result.rows:
        print(f"FAILED: no benchmark ran (pytest exit {result.exit_code}); see {result.log_path}")
        return EXIT_CHECK_FAILED
    if not result.ok:
        print(f"FAILED: the benchmark suite exited {result.exit_code}; see {result.log_path}")
        return EXIT_CHECK_FAILED
    print(f"ok: {len(result.rows)} benchmark(s) in {run_folder.path}")
    return EXIT_OK
