"""``ptycho-harness tdd red|green|status``: capture and inspect red/green test evidence."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2

_CAPTURE_EPILOG = """\
Pass pytest's arguments after '--', for example:
  ptycho-harness tdd red --focus stitch-offsets -- tests/test_stitch.py::test_offsets_centred
They reach pytest as an argument list, never through a shell.

Evidence lands in <reports>/<run-id>/<focus>/: pytest_<label>_<kind>.log, the per-test
records pytest_<label>_<kind>.outcomes.json, and evidence.json. Nothing is overwritten:
repeating a red or green of one label in one run folder stores the next attempt as
pytest_<label>_<kind>_2.log, _3 and so on.

Exit status: 0 when valid evidence of the requested kind was recorded, 1 when the run
was recorded but is invalid evidence, 2 on a usage or input error.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tdd",
        help="capture red/green TDD evidence and show each focus's pair",
        description="Run pytest selectors as red or green TDD evidence, or show the stored pairs.",
    )
    actions = parser.add_subparsers(dest="tdd_action", metavar="ACTION", required=True)
    for kind, summary in (
        ("red", "run the selected tests expecting a failing assertion, and keep the log"),
        ("green", "run the selected tests expecting all to pass, and keep the log"),
    ):
        capture = actions.add_parser(
            kind,
            help=summary,
            description=summary[0].upper() + summary[1:] + ".",
            epilog=_CAPTURE_EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _add_capture_arguments(capture, kind)
        capture.set_defaults(handler=handle_capture, tdd_kind=kind)
    status = actions.add_parser(
        "status",
        help="show each focus's latest red/green pair and whether it is consistent",
        description=(
            "Show, per focus and label, the latest red and green, their git states, and "
            "whether they form a consistent pair (both valid, the same tests, red before "
            "green). Exit status 0 when every pair is consistent, 1 otherwise."
        ),
    )
    status.add_argument("--reports", type=Path, default=Path("reports"), metavar="DIR", help="reports root (default: ./reports)")
    status.add_argument("--json", action="store_true", help="print the pairs as JSON")
    status.set_defaults(handler=handle_status)


def _add_capture_arguments(parser: argparse.ArgumentParser, kind: str) -> None:
    parser.add_argument("--focus", required=True, help="name of the behaviour under work; names the run subfolder")
    parser.add_argument("--label", default=None, help="names the log files (default: the focus)")
    run_id_help = (
        "store into this existing run folder (default: a new run folder)"
        if kind == "red"
        else "store into this existing run folder (default: the newest one with a red of this focus and label)"
    )
    parser.add_argument("--run-id", default=None, metavar="ID", help=run_id_help)
    parser.add_argument("--reports", type=Path, default=Path("reports"), metavar="DIR", help="reports root (default: ./reports)")
    parser.add_argument("pytest_args", nargs="*", metavar="PYTEST_ARG", help="arguments for pytest, after '--'")


def handle_capture(args: argparse.Namespace) -> int:
    from harness.tdd import EvidenceInputError, run_tdd

    kind = args.tdd_kind
    try:
        entry = run_tdd(
            kind,
            args.focus,
            list(args.pytest_args),
            label=args.label,
            reports_root=args.reports,
            run_id=args.run_id,
            echo=sys.stdout.buffer,
        )
    except (EvidenceInputError, FileExistsError) as exc:
        print(f"ptycho-harness tdd {kind}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    folder = Path(args.reports) / entry.run_id / entry.focus
    print(f"log: {folder / entry.log_file}")
    print(f"evidence: {folder / 'evidence.json'}")
    validity = "valid" if entry.valid else "INVALID"
    print(f"{validity} {kind} ({entry.classification}): {entry.reason}")
    return EXIT_OK if entry.valid else EXIT_CHECK_FAILED


def handle_status(args: argparse.Namespace) -> int:
    from harness.tdd import collect_pairs, format_pairs

    if not Path(args.reports).is_dir():
        print(
            f"ptycho-harness tdd status: reports folder {args.reports} not found; "
            "pass --reports DIR or run 'ptycho-harness tdd red' first",
            file=sys.stderr,
        )
        return EXIT_USAGE
    pairs = collect_pairs(args.reports)
    if args.json:
        document = [
            {**asdict(pair), "folder": str(pair.folder), "consistent": pair.consistent}
            for pair in pairs
        ]
        print(json.dumps(document, indent=2))
    else:
        print(format_pairs(pairs))
    inconsistent = [pair for pair in pairs if not pair.consistent]
    if not args.json:
        print(f"{len(pairs) - len(inconsistent)} of {len(pairs)} pair(s) consistent")
    return EXIT_CHECK_FAILED if inconsistent else EXIT_OK
