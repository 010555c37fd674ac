"""``ptycho-harness convert IN OUT``: rewrite a raw, legacy, tike or CXI scan or a product as an NPZ.

Exit status: 0 when the output validates clean (warnings allowed), and 1 when it still has
an error-severity violation. It is 2 when the input cannot be read, when its layout is
rejected (near-field CXI, several probe modes, a product without pixel sizes), or when the
output path is unsafe. A product has no diffraction, so its output lacks ``diffraction`` and the
command names the ``simulate`` call that adds it. That output exits 0 when the missing
diffraction is its only error. This command never imports torch.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

# Kept in step with contracts.convert.SOURCE_FORMATS by a test; listed here so that
# building the parser does not import the contracts package.
SOURCE_FORMATS = ("legacy", "tike", "cxi", "product")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="rewrite a raw, legacy, tike or CXI scan or a Ptychodus product as a canonical NPZ dataset",
        description=(
            "Convert IN into a canonical NPZ dataset at OUT, list every change made and the "
            "precision lost by each downcast, and validate OUT. IN is never written. A "
            "Ptychodus product (probe, object, positions) has no diffraction: OUT then holds "
            "probeGuess, objectGuess, xcoords and ycoords, and `ptycho-harness simulate OUT "
            "DATA --nphotons P --seed S` makes the dataset. Exit status: 0 OUT validates clean "
            "(for a product: its only error is the missing diffraction), 1 OUT still violates "
            "the contract, 2 IN cannot be read, its layout is rejected, or OUT is unsafe to write."
        ),
    )
    parser.add_argument(
        "source", type=Path, metavar="IN", help="input file: NPZ, .npz.bz2, CXI (HDF5), or a Ptychodus product (HDF5, NPZ or CXI)"
    )
    parser.add_argument("output", type=Path, metavar="OUT", help="output NPZ path")
    parser.add_argument(
        "--from",
        dest="source_format",
        choices=SOURCE_FORMATS,
        default=None,
        help="input layout (default: detected from the content)",
    )
    parser.add_argument(
        "--pixel-size-m",
        type=float,
        default=None,
        metavar="X",
        help=(
            "CXI: object pixel size in metres (default: lambda * distance / (N * detector pixel)); "
            "product: pixel size of probe and object in metres (default: the stored one)"
        ),
    )
    parser.add_argument(
        "--patch-size",
        type=int,
        default=None,
        metavar="N",
        help="CXI only: crop the detector about its centre to N x N, N in 64, 128, 256 "
        "(default: the largest that fits)",
    )
    parser.add_argument("--force", action="store_true", help="replace OUT when it already exists")
    parser.add_argument("--json", action="store_true", help="print a JSON document instead of text")
    parser.set_defaults(handler=run_convert)


def run_convert(args: argparse.Namespace) -> int:
    from contracts.convert import ConversionError, ConvertOptions, convert_file
    from contracts.report import render_text

    options = ConvertOptions(
        source_format=args.source_format,
        pixel_size_m=args.pixel_size_m,
        patch_size_px=args.patch_size,
        force=args.force,
    )
    try:
        result = convert_file(args.source, args.output, options)
    except ConversionError as error:
        print(f"ptycho-harness convert: {error}", file=sys.stderr)
        if args.json:
            sys.stdout.write(json.dumps({"source": str(args.source), "error": str(error), "exit_status": 2}, indent=2) + "\n")
        return 2

    status = 0 if result.ok or result.ready_for_simulation else 1
    if args.json:
        document = {**result.to_dict(), "exit_status": status}
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return status

    lines = [f"converted {result.source} ({result.source_format} layout) -> {result.output}", "", "changes:"]
    lines += [f"  - {change}" for change in result.changes]
    lines += ["", "precision lost by downcasts:"]
    lines += [f"  - {loss.describe()}" for loss in result.precision_losses] or ["  - none"]
    lines += ["", render_text([result.report]).rstrip("\n")]
    errors, warnings = len(result.report.errors), len(result.report.warnings)
    if result.ready_for_simulation:
        lines.append(
            f"OK: {result.output} holds probeGuess, objectGuess, xcoords and ycoords but no diffraction, so it "
            f"is not a canonical dataset yet; make one with: {result.simulate_command}"
        )
    elif result.ok:
        lines.append(f"OK: {result.output} validates clean ({warnings} warning(s))")
    else:
        lines.append(f"FAIL: {result.output} still violates the contract ({errors} error(s), {warnings} warning(s))")
        if result.simulate_command is not None:
            lines.append(f"after fixing those, add the diffraction with: {result.simulate_command}")
    sys.stdout.write("\n".join(lines) + "\n")
    return status
