"""The interface through which the harness drives a ptychography pipeline.

The harness never imports a pipeline's internals: it loads an adapter by name from the
``ptycho_harness.adapters`` entry-point group and talks to it only through the types
below. The reference implementation is the first adapter; a team's own pipeline plugs
in the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

ADAPTER_GROUP = "ptycho_harness.adapters"
DEFAULT_ADAPTER = "reference"


@dataclass(frozen=True)
class InferenceBatch:
    """One batch as it leaves the inference DataLoader.

    ``diffraction`` is a (batch, channels, height, width) float32 tensor of normalized
    amplitudes. ``xcoords`` and ``ycoords`` are (batch,) tensors of scan positions in
    object pixels, in the dtype the dataset stored them. ``indices`` are the (batch,)
    positions of the samples in the dataset. For gridsize > 1 a sample is a group of C
    positions: ``xcoords``/``ycoords`` are then (batch, C) and ``indices`` are group indices.
    """

    diffraction: Any
    xcoords: Any
    ycoords: Any
    indices: Any


@dataclass(frozen=True)
class CheckpointInfo:
    """Record of a checkpoint load: its geometry, the stored dtypes and every cast applied."""

    path: Path
    patch_size: int
    gridsize: int
    stored_dtypes: dict[str, str]
    parameter_dtype: str
    casts: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class StitchedObject:
    """A stitched object image and where it sits in object-pixel coordinates.

    Canvas pixel (row, col) covers object pixel (origin_y_px + row, origin_x_px + col).
    ``overlap_count`` is the summed patch weight per canvas pixel; pixels with a
    count of zero were never covered.
    """

    obj: np.ndarray
    overlap_count: np.ndarray
    origin_x_px: float
    origin_y_px: float


@runtime_checkable
class PipelineAdapter(Protocol):
    """Interface a pipeline implements so that the harness can run and check it."""

    name: str

    def default_checkpoint(self) -> Path | None:
        """Return the checkpoint used when the user names none, if the pipeline ships one."""

    def default_dataset(self) -> Path | None:
        """Return the dataset used when the user names none, if the pipeline ships one."""

    def load_checkpoint(self, path: Path) -> CheckpointInfo:
        """Load weights from ``path`` (weights only, no arbitrary unpickling)."""

    def inference_batches(self, dataset: Path, batch_size: int) -> Iterable[InferenceBatch]:
        """Yield the dataset's samples in order, in deterministic batches."""

    def predict_patches(self, batch: InferenceBatch) -> Any:
        """Return the complex64 object patches, (batch, channels, height, width)."""

    def stitch(
        self, patches: np.ndarray, xcoords: np.ndarray, ycoords: np.ndarray
    ) -> StitchedObject:
        """Place (n, height, width) patches at their scan positions and normalize by overlap."""


def available_adapters() -> list[str]:
    """Return the names registered in the adapter entry-point group."""
    return sorted(ep.name for ep in entry_points(group=ADAPTER_GROUP))


def load_adapter(name: str = DEFAULT_ADAPTER) -> PipelineAdapter:
    """Instantiate the adapter registered under ``name``.

    Raises:
        LookupError: no adapter of that name is installed; the message lists those that are.
    """
    matches = [ep for ep in entry_points(group=ADAPTER_GROUP) if ep.name == name]
    if not matches:
        installed = ", ".join(available_adapters()) or "none"
        raise LookupError(
            f"no pipeline adapter named {name!r} is installed (installed: {installed}); "
            f"register one in the {ADAPTER_GROUP!r} entry-point group"
        )
    adapter = matches[0].load()()
    if not isinstance(adapter, PipelineAdapter):
        raise TypeError(f"adapter {name!r} does not implement PipelineAdapter")
    return adapter
