"""``ptycho-harness report RUN``: a run folder as markdown and one self-contained HTML page."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_USAGE = 2


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="render a run folder as markdown and as one self-contained HTML page",
        description=(
            "Render a run folder as report.md and report.html: the verdict, the contract table, "
            "the red/green pairs, the benchmark comparison and the pictures. The HTML page has its "
            "CSS inline and its pictures as data URIs, loads nothing from the network and reads "
            "offline. Exit status 0 when both files were written, 2 when the run folder is not "
            "found or a report already exists there."
        ),
    )
    parser.add_argument("run", metavar="RUN", help="a run folder, or a run ID under --reports")
    parser.add_argument("--reports", type=Path, default=Path("reports"), metavar="DIR", help="reports root (default: ./reports)")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR", help="write the report here (default: the run folder)")
    parser.set_defaults(handler=handle_report)


def handle_report(args: argparse.Namespace) -> int:
    from harness.report import ReportInputError, load_run_report, resolve_run_path, write_report

    try:
        run_path = resolve_run_path(args.run, args.reports)
        report = load_run_report(run_path)
        markdown_path, html_path = write_report(report, args.out if args.out is not None else run_path)
    except (ReportInputError, FileExistsError) as exc:
        print(f"ptycho-harness report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"ptycho-harness report: cannot write the report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"markdown: {markdown_path}")
    print(f"html: {html_path}")
    print(f"verdict: {report.verdict}")
    return EXIT_OK
