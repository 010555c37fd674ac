"""``ptycho-harness run``: the main job, from dataset to a complete run folder."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="validate a dataset, run reference inference under contract guards, benchmark, report",
        description=(
            "The main job. Validate the dataset (default: the one shipped with the pipeline), "
            "run inference with contract guards on its input, stitch the object, compare it "
            "with the true object when the dataset has one, run the contract property suite "
            "and the benchmark suite, and write "
            "one run folder with a manifest, the contract results, the stitched object, "
            "pictures, benchmark.json and summary.md."
        ),
    )
    parser.add_argument(
        "dataset", nargs="?", type=Path, help="canonical NPZ dataset (default: the shipped one)"
    )
    parser.add_argument("--checkpoint", type=Path, help="checkpoint to load (default: the shipped one)")
    parser.add_argument(
        "--reports", type=Path, default=Path("reports"), help="reports root (default: ./reports)"
    )
    parser.add_argument("--adapter", default="reference", help="pipeline adapter name (default: reference)")
    parser.add_argument("--batch-size", type=int, default=64, help="inference batch size (default: 64)")
    parser.add_argument("--no-bench", action="store_true", help="skip the benchmark suite")
    parser.add_argument("--no-properties", action="store_true", help="skip the contract property suite")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from harness.mainjob import MainJobOptions, run_main_job

    options = MainJobOptions(
        dataset=args.dataset,
        checkpoint=args.checkpoint,
        reports_root=args.reports,
        adapter_name=args.adapter,
        batch_size=args.batch_size,
        run_benchmarks=not args.no_bench,
        run_properties=not args.no_properties,
        command=tuple(args.command_line),
    )
    return run_main_job(options)
