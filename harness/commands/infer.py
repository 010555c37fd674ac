"""``ptycho-harness infer``: reference inference on a dataset, stitched object and pictures out."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

OUTPUT_NAMES = ("stitched_object.npz", "amplitude.png", "phase.png")
DEFAULT_BATCH_SIZE = 64


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "infer",
        help="run reference inference on a dataset and write the stitched object",
        description=(
            "Predict object patches for every pattern of DATA, stitch them by their scan "
            "positions, and write DIR/stitched_object.npz, DIR/amplitude.png and "
            "DIR/phase.png. When DATA has objectGuess, print the amplitude and phase errors "
            "against it and against a trivial guess. Existing outputs are never overwritten."
        ),
    )
    parser.add_argument("data", type=Path, metavar="DATA", help="canonical dataset NPZ")
    parser.add_argument(
        "--checkpoint", type=Path, default=None, metavar="CKPT",
        help="Lightning checkpoint (default: the checkpoint shipped with the adapter)",
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the outputs")
    parser.add_argument(
        "--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
        help=f"patterns per inference batch (default {DEFAULT_BATCH_SIZE})",
    )
    parser.add_argument("--adapter", default="reference", help="pipeline adapter name (default: reference)")
    parser.set_defaults(handler=run_infer)


def run_infer(args: argparse.Namespace) -> int:
    existing = [args.out / name for name in OUTPUT_NAMES if (args.out / name).exists()]
    if existing:
        print(f"infer: {existing[0]} already exists; choose a new --out folder", file=sys.stderr)
        return 2
    if args.batch_size < 1:
        print(f"infer: --batch-size {args.batch_size} is invalid; expected at least 1", file=sys.stderr)
        return 2
    if not args.data.is_file():
        print(f"infer: dataset {args.data} not found", file=sys.stderr)
        return 2

    from harness.adapter import load_adapter

    try:
        adapter = load_adapter(args.adapter)
    except (LookupError, TypeError) as error:
        print(f"infer: {error}", file=sys.stderr)
        return 2
    checkpoint = args.checkpoint or adapter.default_checkpoint()
    if checkpoint is None:
        print(f"infer: adapter {adapter.name!r} ships no checkpoint; pass --checkpoint", file=sys.stderr)
        return 2
    if args.checkpoint is None:
        logger.info("using the adapter's default checkpoint %s", checkpoint)

    from harness.inference import STITCHED_OBJECT_FILE, predict_and_stitch, write_stitched_object
    from harness.runfolder import RunFolder

    violation_types = _contract_violation_types()
    try:
        info = adapter.load_checkpoint(checkpoint)
        for cast in info.casts:
            logger.info("checkpoint cast %s", cast)
        outcome = predict_and_stitch(adapter, args.data, args.batch_size)
    except violation_types as error:
        print(f"infer: {args.data} violates the dataset contract: {error}", file=sys.stderr)
        return 1
    except (OSError, ValueError, TypeError) as error:
        print(f"infer: {error}", file=sys.stderr)
        return 2

    args.out.mkdir(parents=True, exist_ok=True)
    folder = RunFolder(path=args.out, run_id=args.out.name)
    metadata = {"dataset": str(args.data), "checkpoint": str(checkpoint)}
    write_stitched_object(folder, outcome.stitched, metadata)
    stitched = outcome.stitched
    print(f"infer: wrote {args.out / STITCHED_OBJECT_FILE} ({stitched.obj.shape[0]}x{stitched.obj.shape[1]} canvas)")
    _print_quality(args.data, stitched)
    return 0


def _print_quality(dataset: Path, stitched) -> None:
    from harness.quality import QualityInputError, compare_with_truth

    with np.load(dataset, allow_pickle=False) as npz:
        if "objectGuess" not in npz.files:
            return
        true_object = npz["objectGuess"]
    try:
        report = compare_with_truth(stitched, true_object)
    except QualityInputError as error:
        print(f"infer: quality not computed: {error}")
        return
    print(
        f"infer: quality on {report.n_pixels} pixels with overlap count > "
        f"{report.min_count_fraction:g} x max:\n"
        f"  amplitude relative RMS error {report.amplitude_error:.4f} "
        f"(trivial guess {report.trivial_amplitude_error:.4f})\n"
        f"  phase RMS error {report.phase_error_rad:.4f} rad "
        f"(trivial guess {report.trivial_phase_error_rad:.4f} rad)\n"
        f"  {'better than' if report.beats_trivial else 'NOT better than'} the trivial guess on both"
    )


def _contract_violation_types() -> tuple[type[BaseException], ...]:
    try:
        from contracts.errors import ContractViolationError
    except ImportError:
        return ()
    return (ContractViolationError,)
