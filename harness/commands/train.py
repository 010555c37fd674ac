"""``ptycho-harness train``: unsupervised training of the reference network on one dataset."""

from __future__ import annotations

import argparse
import logging
import math
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

DEFAULT_EPOCHS = 150
DEFAULT_BATCH_SIZE = 16
# Lightning's seed_everything accepts seeds in numpy's legacy range, 0 to 2**32 - 1.
MAX_SEED = 2**32 - 1


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train the reference network on a dataset (CPU) and write a checkpoint",
        description=(
            "Train the reference network on DATA without ground truth (Poisson likelihood "
            "of the measured patterns through the forward model) and write a Lightning "
            "checkpoint to CKPT. An existing CKPT is never overwritten."
        ),
    )
    parser.add_argument("data", type=Path, metavar="DATA", help="canonical dataset NPZ")
    parser.add_argument("--out", type=Path, required=True, metavar="CKPT", help="checkpoint file to write")
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS, help=f"training epochs (default {DEFAULT_EPOCHS})")
    parser.add_argument(
        "--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help=f"patterns per batch (default {DEFAULT_BATCH_SIZE})"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of weights and shuffling, from 0 to 2**32 - 1 (default 0)")
    parser.add_argument(
        "--learning-rate", type=float, default=1e-3, help="Adam step size (default 1e-3)"
    )
    parser.add_argument(
        "--channels", default="16,32,64",
        help="encoder widths, comma-separated, one 2x pooling step each (default 16,32,64)",
    )
    parser.add_argument(
        "--gridsize", type=int, default=1,
        help="scan positions per group along one axis; the network sees gridsize^2 channels (default 1)",
    )
    parser.add_argument(
        "--precision", default="32-true",
        help="Lightning Trainer precision: 32-true, 16-mixed or bf16-mixed; the forward model "
             "stays float32/complex64 under the mixed settings (default 32-true)",
    )
    parser.set_defaults(handler=run_train)


def run_train(args: argparse.Namespace) -> int:
    if args.out.exists():
        print(f"train: {args.out} already exists; choose a new checkpoint path", file=sys.stderr)
        return 2
    problems = _option_problems(args)
    if problems:
        for problem in problems:
            print(f"train: {problem}", file=sys.stderr)
        return 2
    channels = tuple(int(width) for width in args.channels.split(","))

    from reference_impl.npz_io import NpzReadError, check_npz_archive

    try:
        check_npz_archive(args.data)
    except NpzReadError as error:
        print(f"train: {error}", file=sys.stderr)
        return 2

    from reference_impl.checkpoint import CheckpointError
    from reference_impl.data import DatasetReadError
    from reference_impl.training import train_model

    violation_types = _contract_violation_types()
    try:
        record = train_model(
            args.data,
            args.out,
            epochs=args.epochs,
            batch_size=args.batch_size,
            seed=args.seed,
            learning_rate=args.learning_rate,
            channels=channels,
            gridsize=args.gridsize,
            precision=args.precision,
        )
    except violation_types as error:
        print(f"train: {args.data} violates the dataset contract: {error}", file=sys.stderr)
        return 1
    except (DatasetReadError, CheckpointError, FileExistsError, ValueError) as error:
        print(f"train: {error}", file=sys.stderr)
        return 2
    print(
        f"train: wrote {record.checkpoint} after {record.epochs} epochs in {record.seconds:.0f} s "
        f"(final Poisson NLL {record.final_loss:.6g})"
    )
    return 0


def _option_problems(args: argparse.Namespace) -> list[str]:
    """Return one message per invalid option, checked before torch is imported."""
    problems = []
    if args.epochs < 1:
        problems.append(f"--epochs {args.epochs} is invalid; expected at least 1")
    if args.batch_size < 1:
        problems.append(f"--batch-size {args.batch_size} is invalid; expected at least 1")
    if not 0 <= args.seed <= MAX_SEED:
        problems.append(f"--seed {args.seed} is invalid; expected an integer from 0 to {MAX_SEED} (2**32 - 1)")
    if not (math.isfinite(args.learning_rate) and args.learning_rate > 0):
        problems.append(f"--learning-rate {args.learning_rate:g} is invalid; expected a positive number")
    if args.gridsize < 1:
        problems.append(f"--gridsize {args.gridsize} is invalid; expected at least 1")
    try:
        widths = [int(width) for width in args.channels.split(",")]
    except ValueError:
        widths = []
    if not widths or min(widths) < 1:
        problems.append(
            f"--channels {args.channels!r} is invalid; expected positive integers like 16,32,64"
        )
    return problems


def _contract_violation_types() -> tuple[type[BaseException], ...]:
    try:
        from contracts.errors import ContractViolationError
    except ImportError:
        return ()
    return (ContractViolationError,)
