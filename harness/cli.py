"""The ``ptycho-harness`` command line: one subcommand per job, one exit status.

Exit status: 0 when every check held, 1 when a check failed (a contract violation, an
invalid red/green run, a regression), 2 on a usage or input error. Subcommands live in
``harness.commands``; each module registers its parsers and imports heavy packages
(torch, Lightning) only inside its handler, so that checking files stays fast.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from harness.commands import COMMAND_MODULES

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ptycho-harness",
        description=(
            "Validate ptychography data against its contracts, run reference inference, "
            "and keep red/green test evidence and benchmarks in per-run report folders."
        ),
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log more (-v: INFO, -vv: DEBUG)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def configure_logging(verbosity: int) -> None:
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.command_line = ["ptycho-harness", *argv]
    configure_logging(args.verbose)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("ptycho-harness: interrupted", file=sys.stderr)
        return 130
