"""``ptycho-harness train``: unsupervised training of the reference network on one dataset."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

DEFAULT_EPOCHS = 150
DEFAULT_BATCH_SIZE = 16


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
    parser.add_argument("--seed", type=int, default=0, help="seed of weights and shuffling (default 0)")
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
    if args.epochs < 1 or args.batch_size < 1:
        print(f"train: --epochs {args.epochs} and --batch-size {args.batch_size} must be at least 1", file=sys.stderr)
        return 2

    try:
        channels = tuple(int(width) for width in args.channels.split(","))
    except ValueError:
        print(f"train: --channels {args.channels!r} is invalid; expected integers like 16,32,64", file=sys.stderr)
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


def _contract_violation_types() -> tuple[type[BaseException], ...]:
    try:
        from contracts.errors import ContractViolationError
    except ImportError:
        return ()
    return (ContractViolationError,)
