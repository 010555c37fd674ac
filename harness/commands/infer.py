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
            "against it and against a trivial guess. Existing outputs are never overwritten. "
            "The quality line is information: infer exits 0 whenever inference succeeds, even "
            "when the result is not better than the trivial guess; `ptycho-harness run` is the "
            "command that fails on it."
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
    parser.add_argument(
        "--guards", choices=("off", "warn", "raise"), default="raise",
        help="contract guards at the grouping, network and stitching stages: skip, log, or "
             "stop on a violation (default raise; only for adapters that have guards)",
    )
    parser.add_argument(
        "--devices", type=int, default=1,
        help="CPU processes for Trainer.predict (reference adapter only; default 1)",
    )
    parser.add_argument(
        "--strategy", default=None,
        help="Lightning strategy for Trainer.predict, e.g. ddp (gloo on CPU); given or with "
             "--devices > 1, inference runs through Trainer.predict (default: direct forward)",
    )
    parser.add_argument(
        "--precision", default="32-true",
        help="Trainer precision with --strategy/--devices: 32-true, 16-mixed or bf16-mixed (default 32-true)",
    )
    parser.set_defaults(handler=run_infer)


def run_infer(args: argparse.Namespace) -> int:
    problem = _check_arguments(args)
    if problem is not None:
        print(f"infer: {problem}", file=sys.stderr)
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
    if hasattr(adapter, "guard_mode"):
        adapter.guard_mode = args.guards
    if args.devices > 1 or args.strategy is not None:
        return _run_with_trainer(args, adapter, checkpoint)

    from harness.inference import predict_and_stitch

    violation_types = _contract_violation_types()
    try:
        info = adapter.load_checkpoint(checkpoint)
        for cast in info.casts:
            logger.info("checkpoint cast %s", cast)
        outcome = predict_and_stitch(adapter, args.data, args.batch_size)
    except violation_types as error:
        print(f"infer: a contract check failed on {args.data}: {error}", file=sys.stderr)
        return 1
    except (OSError, ValueError, TypeError) as error:
        print(f"infer: {error}", file=sys.stderr)
        return 2

    stage_dtypes = {**getattr(adapter, "stage_dtypes", {}), **outcome.stage_dtypes}
    _write_outputs(args, checkpoint, outcome.stitched, stage_dtypes)
    return 0


def _check_arguments(args: argparse.Namespace) -> str | None:
    """Return the first problem with the options and input files, or None.

    The checks run before torch is imported, so a bad argument is reported without that
    delay, and nothing is loaded or written.
    """
    if args.out.exists() and not args.out.is_dir():
        return (
            f"--out {args.out} is an existing file; expected a folder for the outputs "
            f"(it is created when missing)"
        )
    existing = [args.out / name for name in OUTPUT_NAMES if (args.out / name).exists()]
    if existing:
        return f"{existing[0]} already exists; choose a new --out folder"
    if args.batch_size < 1:
        return f"--batch-size {args.batch_size} is invalid; expected at least 1"
    if args.devices < 1:
        return f"--devices {args.devices} is invalid; expected at least 1"
    if not args.data.is_file():
        return f"dataset {args.data} not found"
    dataset_problem = _npz_archive_problem(args.data)
    if dataset_problem is not None:
        return dataset_problem
    checkpoint_fix = "pass a .ckpt written by `ptycho-harness train`"
    if args.checkpoint is not None and not args.checkpoint.exists():
        return f"checkpoint {args.checkpoint} not found; {checkpoint_fix}"
    if args.checkpoint is not None and not args.checkpoint.is_file():
        return f"checkpoint {args.checkpoint} is not a file; {checkpoint_fix}"
    return None


def _npz_archive_problem(path: Path) -> str | None:
    """Return why ``path`` is not a readable NPZ archive (empty, not a zip, truncated), or None."""
    from contracts.errors import InputError
    from contracts.npz import NpzArchive

    try:
        with NpzArchive(path):
            pass
    except InputError as error:
        return str(error)
    return None


def _write_outputs(args: argparse.Namespace, checkpoint: Path, stitched, stage_dtypes: dict[str, str]) -> None:
    from harness.inference import STITCHED_OBJECT_FILE, write_stitched_object
    from harness.runfolder import RunFolder

    args.out.mkdir(parents=True, exist_ok=True)
    folder = RunFolder(path=args.out, run_id=args.out.name)
    metadata = {"dataset": str(args.data), "checkpoint": str(checkpoint), "stage_dtypes": stage_dtypes}
    write_stitched_object(folder, stitched, metadata)
    print(f"infer: wrote {args.out / STITCHED_OBJECT_FILE} ({stitched.obj.shape[0]}x{stitched.obj.shape[1]} canvas)")
    _print_quality(args.data, stitched)


def _run_with_trainer(args: argparse.Namespace, adapter, checkpoint: Path) -> int:
    """Predict through ``Trainer.predict`` on ``--devices`` processes; process 0 stitches and writes."""
    if args.adapter != "reference":
        print(f"infer: --devices/--strategy need the reference adapter, not {args.adapter!r}", file=sys.stderr)
        return 2
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    from reference_impl.checkpoint import CheckpointError
    from reference_impl.distributed import PredictionMergeError, predict_with_trainer

    violation_types = _contract_violation_types()
    try:
        merged = predict_with_trainer(
            checkpoint, args.data, args.out / ".predictions", batch_size=args.batch_size,
            devices=args.devices, strategy=args.strategy or "auto", precision=args.precision,
            guard_mode=args.guards,
        )
        if merged is None:  # a process other than 0: process 0 stitches and writes
            return 0
        adapter.load_checkpoint(checkpoint)
        stitched = adapter.stitch(merged.patches, merged.xcoords, merged.ycoords)
    except violation_types as error:
        print(f"infer: a contract check failed on {args.data}: {error}", file=sys.stderr)
        return 1
    except PredictionMergeError as error:
        print(f"infer: {error}", file=sys.stderr)
        return 1
    except (OSError, ValueError, TypeError, CheckpointError, MisconfigurationException) as error:
        print(f"infer: {error}", file=sys.stderr)
        return 2
    stage_dtypes = {**merged.dtypes, "stitched object": str(stitched.obj.dtype)}
    _write_outputs(args, checkpoint, stitched, stage_dtypes)
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
