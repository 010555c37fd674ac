"""Inference through a pipeline adapter: predict every pattern, stitch, write the object.

``ptycho-harness infer`` and ``ptycho-harness run`` share this path, so both write the
stitched object in the same format.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.adapter import PipelineAdapter, StitchedObject
from harness.runfolder import RunFolder

logger = logging.getLogger(__name__)

STITCHED_OBJECT_FILE = "stitched_object.npz"


@dataclass(frozen=True)
class InferenceOutcome:
    """The stitched object, with the pattern count, wall time and dtype at each stage."""

    stitched: StitchedObject
    n_patterns: int
    seconds: float
    stage_dtypes: dict[str, str]


def predict_and_stitch(
    adapter: PipelineAdapter,
    dataset: Path,
    batch_size: int,
    progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None,
) -> InferenceOutcome:
    """Predict the patches of every pattern in ``dataset`` and stitch them by position.

    Raises:
        ValueError: the dataset contains no patterns.
    """
    started = time.perf_counter()
    batches = adapter.inference_batches(dataset, batch_size)
    if progress is not None:
        batches = progress(batches)

    patch_batches, x_batches, y_batches = [], [], []
    stage_dtypes: dict[str, str] = {}
    for batch in batches:
        stage_dtypes.setdefault("loader diffraction", str(batch.diffraction.dtype))
        stage_dtypes.setdefault("loader coordinates", str(batch.xcoords.dtype))
        patches = adapter.predict_patches(batch)
        stage_dtypes.setdefault("model output", str(patches.dtype))
        # Stitching takes one patch per scan position, so a group's channels are unfolded.
        patch_batches.append(_to_numpy(patches).reshape(-1, patches.shape[-2], patches.shape[-1]))
        x_batches.append(_to_numpy(batch.xcoords).reshape(-1))
        y_batches.append(_to_numpy(batch.ycoords).reshape(-1))
    if not patch_batches:
        raise ValueError(f"dataset {dataset} contains no diffraction patterns; expected at least one")

    patches = np.concatenate(patch_batches)
    stitched = adapter.stitch(patches, np.concatenate(x_batches), np.concatenate(y_batches))
    stage_dtypes["stitched object"] = str(stitched.obj.dtype)
    # An adapter may report stages that the harness cannot observe (Trainer precision, parameter dtype).
    reported = getattr(adapter, "stage_dtypes", None)
    if isinstance(reported, dict):
        stage_dtypes = {**{str(k): str(v) for k, v in reported.items()}, **stage_dtypes}
    return InferenceOutcome(
        stitched=stitched,
        n_patterns=int(patches.shape[0]),
        seconds=time.perf_counter() - started,
        stage_dtypes=stage_dtypes,
    )


def write_stitched_object(folder: RunFolder, stitched: StitchedObject, metadata: dict[str, Any]) -> list[Path]:
    """Write the stitched object NPZ and its amplitude and phase pictures into ``folder``.

    The NPZ contains ``obj`` (complex64), ``overlap_count`` (float32), ``origin`` =
    [origin_x_px, origin_y_px] and a ``metadata_json`` string, and it loads without pickle.
    Existing files are never overwritten.
    """
    from harness.plots import write_complex_pictures

    metadata = {
        **metadata,
        "origin_order": "[origin_x_px, origin_y_px]",
        "frame": "canvas pixel (r, c) is object pixel (origin_y_px + r, origin_x_px + c)",
    }
    buffer = io.BytesIO()
    np.savez(
        buffer,
        obj=np.asarray(stitched.obj, dtype=np.complex64),
        overlap_count=np.asarray(stitched.overlap_count, dtype=np.float32),
        origin=np.array([stitched.origin_x_px, stitched.origin_y_px], dtype=np.float64),
        metadata_json=np.array(json.dumps(metadata, sort_keys=True)),
    )
    npz_path = folder.write_bytes(STITCHED_OBJECT_FILE, buffer.getvalue())
    pictures = write_complex_pictures(
        stitched.obj,
        folder.path,
        title="stitched object",
        mask=stitched.overlap_count > 0,
        origin_x_px=stitched.origin_x_px,
        origin_y_px=stitched.origin_y_px,
    )
    logger.info("wrote %s and %s", npz_path, ", ".join(str(path) for path in pictures))
    return [npz_path, *pictures]


def _to_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return np.asarray(value)
