"""Lightning checkpoints: atomic saving and weights-only loading with explicit dtype casts.

Loading uses ``torch.load(..., weights_only=True)``, which rebuilds only tensors and plain
containers and never runs arbitrary pickled code. Tensors stored in float64 or complex128
are cast to float32 or complex64, and each cast is recorded in the returned
``CheckpointInfo``.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import lightning as L
import torch

from harness.adapter import CheckpointInfo
from reference_impl.model import PtychoPINNModule, ShapeMismatchError

logger = logging.getLogger(__name__)

_CASTS = {torch.float64: torch.float32, torch.complex128: torch.complex64}
HYPERPARAMETER_KEYS = (
    "patch_size", "gridsize", "channels", "intensity_scale",
    "diffraction_normalization", "amplitude_max", "learning_rate",
)


_CHECKPOINT_FIX = "pass a .ckpt written by `ptycho-harness train`"
# torch.save writes a zip archive by default, and the legacy format is a pickle stream,
# which starts with the PROTO opcode 0x80.
_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_PROTOCOL_OPCODE = 0x80


class CheckpointError(ValueError):
    """A checkpoint cannot be loaded: unreadable, not a Lightning checkpoint, or incompatible."""


def save_checkpoint(trainer: L.Trainer, path: Path) -> Path:
    """Write the trainer's model as a weights-only Lightning checkpoint, atomically.

    Raises:
        FileExistsError: ``path`` exists; checkpoints are never overwritten.
    """
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"checkpoint {path} already exists; choose a new path")
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(descriptor)
    try:
        trainer.save_checkpoint(temp_name, weights_only=True)
        if path.exists():
            raise FileExistsError(f"checkpoint {path} appeared while saving; choose a new path")
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    logger.info("wrote checkpoint %s", path)
    return path


def load_checkpoint(
    path: Path,
    *,
    expected_patch_size: int | None = None,
    expected_gridsize: int | None = None,
) -> tuple[PtychoPINNModule, CheckpointInfo]:
    """Rebuild the module from a checkpoint's hyper-parameters and weights, in eval mode.

    Raises:
        CheckpointError: the file is missing or empty, is not a zip or pickle archive, is
            not a weights-only-loadable Lightning checkpoint, or was trained for another
            patch size or gridsize than expected.
    """
    path = Path(path)
    _check_checkpoint_file(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
        raise CheckpointError(
            f"cannot load checkpoint {path} with weights_only=True ({type(error).__name__}: "
            f"{error or 'no detail'}); {_CHECKPOINT_FIX}"
        ) from error
    hyperparameters, state_dict = _unpack(path, payload)
    _check_expected(path, hyperparameters, expected_patch_size, expected_gridsize)

    stored_dtypes = {name: str(tensor.dtype).removeprefix("torch.") for name, tensor in state_dict.items()}
    casts: list[str] = []
    cast_state: dict[str, torch.Tensor] = {}
    for name, tensor in state_dict.items():
        target = _CASTS.get(tensor.dtype)
        if target is not None:
            casts.append(f"{name}: {stored_dtypes[name]} -> {str(target).removeprefix('torch.')}")
            tensor = tensor.to(target)
        cast_state[name] = tensor
    if casts:
        logger.info("cast %d stored tensors of %s to single precision", len(casts), path)

    try:
        module = PtychoPINNModule(**hyperparameters)
        module.load_state_dict(cast_state, strict=True)
    except (RuntimeError, TypeError, ShapeMismatchError) as error:
        raise CheckpointError(f"checkpoint {path} does not fit PtychoPINNModule: {error}") from error
    module.eval()
    parameter_dtypes = {str(parameter.dtype).removeprefix("torch.") for parameter in module.parameters()}
    info = CheckpointInfo(
        path=path,
        patch_size=int(hyperparameters["patch_size"]),
        gridsize=int(hyperparameters["gridsize"]),
        stored_dtypes=stored_dtypes,
        parameter_dtype=", ".join(sorted(parameter_dtypes)),
        casts=casts,
    )
    return module, info


def _check_checkpoint_file(path: Path) -> None:
    """Reject a missing, empty or foreign file before ``torch.load`` gives an unclear reason."""
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} not found; {_CHECKPOINT_FIX}")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} is not a file; {_CHECKPOINT_FIX}")
    with open(path, "rb") as handle:
        head = handle.read(len(_ZIP_MAGIC))
    if not head:
        raise CheckpointError(f"checkpoint {path} is an empty file (0 bytes); {_CHECKPOINT_FIX}")
    if head != _ZIP_MAGIC and head[0] != _PICKLE_PROTOCOL_OPCODE:
        raise CheckpointError(
            f"checkpoint {path} is not a PyTorch/Lightning checkpoint (zip or pickle archive); "
            f"{_CHECKPOINT_FIX}"
        )


def _unpack(path: Path, payload: object) -> tuple[dict, dict[str, torch.Tensor]]:
    if not isinstance(payload, dict) or "state_dict" not in payload or "hyper_parameters" not in payload:
        keys = sorted(payload) if isinstance(payload, dict) else type(payload).__name__
        raise CheckpointError(
            f"{path} is not a Lightning checkpoint of PtychoPINNModule (found {keys}); "
            f"expected 'state_dict' and 'hyper_parameters'"
        )
    stored = dict(payload["hyper_parameters"])
    unknown = sorted(set(stored) - set(HYPERPARAMETER_KEYS))
    if unknown or "patch_size" not in stored:
        raise CheckpointError(
            f"{path} has hyper-parameters {sorted(stored)}; expected a subset of "
            f"{list(HYPERPARAMETER_KEYS)} including 'patch_size'"
        )
    return stored, dict(payload["state_dict"])


def _check_expected(
    path: Path, hyperparameters: dict, expected_patch_size: int | None, expected_gridsize: int | None
) -> None:
    patch_size = int(hyperparameters["patch_size"])
    gridsize = int(hyperparameters.get("gridsize", 1))
    if expected_patch_size is not None and patch_size != expected_patch_size:
        raise CheckpointError(
            f"checkpoint {path} was trained for N={patch_size}, but the data has "
            f"N={expected_patch_size}; use a checkpoint trained for N={expected_patch_size}"
        )
    if expected_gridsize is not None and gridsize != expected_gridsize:
        raise CheckpointError(
            f"checkpoint {path} was trained for gridsize={gridsize}, but the data has "
            f"gridsize={expected_gridsize}; use a checkpoint trained for that gridsize"
        )
