"""``ptycho-harness validate PATH...``: check files against the data contracts.

Exit status: 0 when every file is free of error-severity violations, 1 when any file
has one, 2 when any file cannot be read (the other files are still validated and
reported). The reason a file cannot be read is printed once, in the report on stdout;
stderr gets one line that names the unreadable files. This command never imports torch.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

# Kept in step with contracts.validate.CONTRACTS by a test; listed here so that
# building the parser does not import the contracts package.
CONTRACT_NAMES = ("dataset", "product", "raw")
# Kept in step with contracts.product.PROFILES by a test.
PRODUCT_PROFILES = ("written", "ptychodus")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check NPZ datasets and HDF5 product files against the data contracts",
        description=(
            "Check each file against a data contract and list every violation with its rule "
            "ID, the value seen, the value expected and the fix. Exit status: 0 all files "
            "clean, 1 an error-severity violation, 2 a file that cannot be read."
        ),
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files to check")
    parser.add_argument(
        "--contract",
        choices=CONTRACT_NAMES,
        default=None,
        help="contract to check against (default: chosen from each file's content)",
    )
    parser.add_argument(
        "--profile",
        choices=PRODUCT_PROFILES,
        default=None,
        help=(
            "profile of HDF5 product files: 'written' (the product contract, as older Ptychodus "
            "writes it) or 'ptychodus' (as Ptychodus 1.7 writes it); default: detected per file"
        ),
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print a JSON document instead of a table")
    output.add_argument("--markdown", action="store_true", help="print markdown instead of a table")
    output.add_argument(
        "--csv",
        action="store_true",
        help="print CSV, one row per violation or unreadable file, instead of a table",
    )
    parser.set_defaults(handler=run_validate)


def run_validate(args: argparse.Namespace) -> int:
    from contracts.errors import InputError
    from contracts.report import render_csv, render_json, render_markdown, render_text, summarize
    from contracts.validate import UnreadableFile, validate_file

    reports = []
    unreadable = []
    for path in args.paths:
        try:
            reports.append(validate_file(path, args.contract, args.profile))
        except InputError as error:
            unreadable.append(UnreadableFile(path=str(path), message=str(error)))

    if args.json:
        sys.stdout.write(render_json(reports, unreadable))
    elif args.markdown:
        sys.stdout.write(render_markdown(reports, unreadable))
    elif args.csv:
        sys.stdout.write(render_csv(reports, unreadable))
    else:
        sys.stdout.write(render_text(reports, unreadable))
    if unreadable:
        names = ", ".join(entry.path for entry in unreadable)
        print(
            f"ptycho-harness validate: {len(unreadable)} of {len(args.paths)} files could not be read "
            f"({names}); the report gives the reason for each",
            file=sys.stderr,
        )
    return int(summarize(reports, unreadable)["exit_status"])
