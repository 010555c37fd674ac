"""``ptycho-harness simulate``: make a canonical dataset from a probe, an object and a scan."""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="simulate Poisson-noisy diffraction from a probe, an object and scan positions",
        description=(
            "Read probeGuess, objectGuess, xcoords and ycoords from IN, simulate far-field "
            "diffraction amplitudes with Poisson noise, and write a canonical dataset to OUT. "
            "The same inputs and seed give the same bytes."
        ),
    )
    parser.add_argument("input", type=Path, metavar="IN", help="NPZ with probeGuess, objectGuess, xcoords, ycoords")
    parser.add_argument("output", type=Path, metavar="OUT", help="canonical NPZ to write")
    parser.add_argument("--nphotons", type=float, required=True, help="expected photons per pattern")
    parser.add_argument(
        "--seed", type=int, required=True, help="seed of the Poisson noise generator, from 0 to 2**63 - 1"
    )
    parser.add_argument(
        "--n-positions", type=int, default=None, metavar="K",
        help="keep K evenly spaced scan positions, at most the number in IN (default: all)",
    )
    parser.add_argument(
        "--patch-size", type=int, default=None, metavar="N",
        help="pattern size in pixels; the probe is centre-cropped to N (default: the probe size)",
    )
    parser.add_argument(
        "--no-true-patches", action="store_true",
        help="leave out Y, the true object patches (makes the file much smaller)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace OUT if it exists (never IN)")
    parser.set_defaults(handler=run_simulate)


def run_simulate(args: argparse.Namespace) -> int:
    from reference_impl.simulate import SimulationInputError, simulate_dataset

    if not args.input.is_file():
        print(f"simulate: input {args.input} not found", file=sys.stderr)
        return 2
    try:
        record = simulate_dataset(
            args.input,
            args.output,
            nphotons=args.nphotons,
            seed=args.seed,
            n_positions=args.n_positions,
            patch_size=args.patch_size,
            include_true_patches=not args.no_true_patches,
            overwrite=args.overwrite,
            command=_command_line(args),
        )
    except (SimulationInputError, FileExistsError) as error:
        print(f"simulate: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(
            f"simulate: {error.filename or args.output}: {error.strerror or error}; "
            f"check the path and its permissions",
            file=sys.stderr,
        )
        return 2
    print(
        f"simulate: wrote {record.path} ({record.n_positions} patterns of "
        f"{record.patch_size}x{record.patch_size}, nphotons={record.nphotons:g}, "
        f"seed={record.seed}, sha256={record.sha256[:12]})"
    )
    return 0


def _command_line(args: argparse.Namespace) -> str:
    """Rebuild the command with file names only, so the output does not depend on its folder."""
    words = ["ptycho-harness", "simulate", args.input.name, args.output.name,
             "--nphotons", f"{args.nphotons:g}", "--seed", str(args.seed)]
    if args.n_positions is not None:
        words += ["--n-positions", str(args.n_positions)]
    if args.patch_size is not None:
        words += ["--patch-size", str(args.patch_size)]
    if args.no_true_patches:
        words.append("--no-true-patches")
    return shlex.join(words)
