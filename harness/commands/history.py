"""``ptycho-harness history``: every run's benchmarks as trends, with step changes."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_USAGE = 2


def register(subparsers: argparse._SubParsersAction) -> None:
    from harness.compare import DEFAULT_MEMORY_THRESHOLD, DEFAULT_QUALITY_THRESHOLD, DEFAULT_TIME_THRESHOLD

    parser = subparsers.add_parser(
        "history",
        help="show each benchmark's trend over all run folders and point out step changes",
        description=(
            "Read benchmark.json from every run folder under the reports root, oldest first, "
            "and show each benchmark's median time, peak memory and reconstruction errors per "
            "run. A step change is a run at which a figure moved by more than its threshold and "
            "the noise between runs, and stayed moved for at least two runs. Writes "
            "history.md, history.json and history.png into a new run folder. Exit status 0 when "
            "the history was written, 2 when no run has benchmark.json or an option is invalid."
        ),
    )
    parser.add_argument("--reports", type=Path, default=Path("reports"), metavar="DIR", help="reports root (default: ./reports)")
    parser.add_argument(
        "--threshold", type=float, default=DEFAULT_TIME_THRESHOLD, metavar="FRACTION",
        help=f"smallest relative change of the median time that counts as a step (default: {DEFAULT_TIME_THRESHOLD})",
    )
    parser.add_argument(
        "--memory-threshold", type=float, default=DEFAULT_MEMORY_THRESHOLD, metavar="FRACTION",
        help=f"smallest relative change of peak memory that counts as a step (default: {DEFAULT_MEMORY_THRESHOLD})",
    )
    parser.add_argument(
        "--quality-threshold", type=float, default=DEFAULT_QUALITY_THRESHOLD, metavar="FRACTION",
        help=f"smallest relative change of a reconstruction error that counts as a step (default: {DEFAULT_QUALITY_THRESHOLD})",
    )
    parser.set_defaults(handler=handle_history)


def handle_history(args: argparse.Namespace) -> int:
    import math

    from harness.compare import METRIC_MEMORY, METRIC_TIME, QUALITY_KEYS
    from harness.history import collect_history, render_history_markdown, write_history
    from harness.manifest import Manifest
    from harness.runfolder import create_run_folder

    for option, value in (
        ("--threshold", args.threshold),
        ("--memory-threshold", args.memory_threshold),
        ("--quality-threshold", args.quality_threshold),
    ):
        if not (math.isfinite(value) and value >= 0):
            print(f"ptycho-harness history: invalid {option} {value}: expected a fraction >= 0, such as 0.10", file=sys.stderr)
            return EXIT_USAGE
    thresholds = {METRIC_TIME: args.threshold, METRIC_MEMORY: args.memory_threshold}
    thresholds.update({key: args.quality_threshold for key in QUALITY_KEYS})
    history = collect_history(args.reports, thresholds)
    if not history.run_ids:
        print(
            f"ptycho-harness history: no run folder under {args.reports} has a benchmark.json; "
            "run 'ptycho-harness bench' first or pass --reports DIR",
            file=sys.stderr,
        )
        return EXIT_USAGE
    folder = create_run_folder(args.reports)
    command = getattr(args, "command_line", None) or ["ptycho-harness", "history", "--reports", str(args.reports)]
    with Manifest(folder, command=command):
        write_history(folder, history)
    print(render_history_markdown(history))
    print(f"history: {folder.path / 'history.md'} and {folder.path / 'history.png'}")
    print(f"{len(history.run_ids)} run(s), {len(history.benchmarks)} benchmark(s), {len(history.steps)} step change(s)")
    return EXIT_OK
