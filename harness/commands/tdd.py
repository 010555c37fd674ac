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
    _add_check_parser(actions)
    _add_plan_parser(actions)


def _add_check_parser(actions: argparse._SubParsersAction) -> None:
    check = actions.add_parser(
        "check",
        help="check that an evidence plan's artifacts exist and are valid",
        description=(
            "Read an evidence plan (TOML: focus, selectors, run_folder, artifacts) and report "
            "which of its artifacts exist and are valid: a red or green log backed by a valid "
            "entry in evidence.json that ran the plan's selectors, evidence.json itself, and a "
            "non-empty notes.md. Exit status 0 when all are valid, 1 when one is missing or "
            "invalid, 2 when the plan is malformed."
        ),
    )
    check.add_argument("plan", type=Path, metavar="PLAN", help="the evidence plan, a .toml file")
    check.set_defaults(handler=handle_check)


def _add_plan_parser(actions: argparse._SubParsersAction) -> None:
    plan = actions.add_parser(
        "plan",
        help="write a new evidence plan with its run ID fixed now",
        description=(
            "Write an evidence plan for a focus: its selectors, its run folder "
            "<reports>/<run-id>/<focus> with the run ID taken from the current UTC time, and "
            "the artifacts to require. Then run 'tdd red --plan PLAN', fix the code, run "
            "'tdd green --plan PLAN', write notes.md and run 'tdd check PLAN'."
        ),
    )
    plan.add_argument("out", type=Path, metavar="PLAN", help="the .toml file to write; it must not exist")
    plan.add_argument("--focus", required=True, help="name of the behaviour under work")
    plan.add_argument("--reports", type=Path, default=Path("reports"), metavar="DIR", help="reports root (default: reports)")
    plan.add_argument(
        "--artifacts",
        default="red_log,green_log,evidence,notes",
        help="comma-separated artifacts to require (default: red_log,green_log,evidence,notes)",
    )
    plan.add_argument("selectors", nargs="+", metavar="SELECTOR", help="pytest node IDs or paths, after '--'")
    plan.set_defaults(handler=handle_plan)


def _add_capture_arguments(parser: argparse.ArgumentParser, kind: str) -> None:
    parser.add_argument(
        "--plan",
        type=Path,
        default=None,
        metavar="PLAN",
        help="take the focus, label, selectors and run folder from this evidence plan (TOML)",
    )
    parser.add_argument(
        "--focus", default=None, help="name of the behaviour under work; names the run subfolder (required without --plan)"
    )
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
        capture = _capture_request(args)
    except ValueError as exc:
        print(f"ptycho-harness tdd {kind}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        entry = run_tdd(kind, echo=sys.stdout.buffer, **capture)
    except (EvidenceInputError, FileExistsError) as exc:
        print(f"ptycho-harness tdd {kind}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    folder = Path(capture["reports_root"]) / entry.run_id / entry.focus
    print(f"log: {folder / entry.log_file}")
    print(f"evidence: {folder / 'evidence.json'}")
    validity = "valid" if entry.valid else "INVALID"
    print(f"{validity} {kind} ({entry.classification}): {entry.reason}")
    return EXIT_OK if entry.valid else EXIT_CHECK_FAILED


def _capture_request(args: argparse.Namespace) -> dict[str, object]:
    """Return run_tdd's arguments from the command line or from the evidence plan.

    Raises:
        ValueError: a malformed plan, options that conflict with --plan, or no --focus.
    """
    if args.plan is None:
        if args.focus is None:
            raise ValueError("--focus is required unless --plan names an evidence plan")
        if not args.pytest_args:
            raise ValueError(
                "no test selectors given; name the tests after '--', for example "
                f"ptycho-harness tdd {args.tdd_kind} --focus {args.focus} -- tests/test_module.py::test_name"
            )
        return {
            "focus": args.focus,
            "pytest_args": list(args.pytest_args),
            "label": args.label,
            "reports_root": args.reports,
            "run_id": args.run_id,
        }
    from harness.plan import load_plan

    conflicting = [
        option
        for option, value in (
            ("--focus", args.focus),
            ("--label", args.label),
            ("--run-id", args.run_id),
            ("pytest arguments", args.pytest_args or None),
        )
        if value is not None
    ]
    if conflicting:
        raise ValueError(
            f"{', '.join(conflicting)} cannot be combined with --plan, which fixes them; "
            "edit the plan instead"
        )
    plan = load_plan(args.plan)
    logger.info("evidence plan %s: focus %s, run folder %s", plan.path, plan.focus, plan.run_folder)
    return {
        "focus": plan.focus,
        "pytest_args": plan.pytest_arguments,
        "label": plan.label,
        "reports_root": plan.reports_root,
        "run_id": plan.run_id,
        "create_missing": True,
    }


def handle_check(args: argparse.Namespace) -> int:
    from harness.plan import PlanError, check_plan, format_plan_check, load_plan

    try:
        plan = load_plan(args.plan)
    except PlanError as exc:
        print(f"ptycho-harness tdd check: {exc}", file=sys.stderr)
        return EXIT_USAGE
    statuses = check_plan(plan)
    print(format_plan_check(plan, statuses))
    failing = [status.artifact for status in statuses if not status.valid]
    if failing:
        print(f"FAILED: {len(failing)} of {len(statuses)} artifact(s) missing or invalid: {', '.join(failing)}")
        return EXIT_CHECK_FAILED
    print(f"ok: all {len(statuses)} artifact(s) present and valid")
    return EXIT_OK


def handle_plan(args: argparse.Namespace) -> int:
    from harness.plan import KNOWN_ARTIFACTS
    from harness.runfolder import InvalidNameError, new_run_id, validate_name

    artifacts = [name.strip() for name in args.artifacts.split(",") if name.strip()]
    unknown = [name for name in artifacts if name not in KNOWN_ARTIFACTS]
    if unknown or not artifacts:
        print(
            f"ptycho-harness tdd plan: invalid --artifacts {args.artifacts!r}; use a comma-separated "
            f"list of {', '.join(KNOWN_ARTIFACTS)}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        validate_name(args.focus, "focus")
    except InvalidNameError as exc:
        print(f"ptycho-harness tdd plan: {exc}", file=sys.stderr)
        return EXIT_USAGE
    run_folder = Path(args.reports) / new_run_id() / args.focus
    text = "\n".join(
        [
            f"focus = {json.dumps(args.focus)}",
            f"selectors = {json.dumps(list(args.selectors))}",
            f"run_folder = {json.dumps(run_folder.as_posix())}",
            f"artifacts = {json.dumps(artifacts)}",
            "",
        ]
    )
    try:
        with open(args.out, "x", encoding="utf-8") as stream:
            stream.write(text)
    except FileExistsError:
        print(f"ptycho-harness tdd plan: {args.out} already exists; choose another file name", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"ptycho-harness tdd plan: cannot write {args.out}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    logger.info("wrote %s", args.out)
    print(f"plan: {args.out} (run folder {run_folder})")
    return EXIT_OK


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
