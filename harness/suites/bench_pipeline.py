"""Benchmarks of the pipeline stages users wait on, driven by pytest-benchmark.

Each benchmark runs a fixed number of rounds (5, after one warm-up round) to keep the
suite short, then one extra untimed call that records its peak memory. The quality
benchmark also records the reconstruction's amplitude and phase errors against the true
object. The suite reaches the pipeline only through the harness adapter interface.
``PTYCHO_HARNESS_ADAPTER`` chooses the adapter (default: ``reference``),
``PTYCHO_HARNESS_BENCH_DATASET`` the dataset (default: the adapter's ``default_dataset()``),
and ``PTYCHO_HARNESS_BENCH_CHECKPOINT`` the checkpoint (default: the adapter's
``default_checkpoint()``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.bench import record_peak_memory

logger = logging.getLogger(__name__)

ADAPTER_ENV_VAR = "PTYCHO_HARNESS_ADAPTER"
DATASET_ENV_VAR = "PTYCHO_HARNESS_BENCH_DATASET"
CHECKPOINT_ENV_VAR = "PTYCHO_HARNESS_BENCH_CHECKPOINT"
ROUNDS = 5
WARMUP_ROUNDS = 1
BATCH_SIZE = 16
STITCH_SEED = 20240611
STITCH_GRID_SIDE = 32
STITCH_STEP_PX = 6.0
QUALITY_ROUNDS = 2
QUALITY_BATCH_SIZE = 64


@pytest.fixture(scope="module")
def adapter() -> Any:
    from harness.adapter import DEFAULT_ADAPTER, load_adapter

    name = os.environ.get(ADAPTER_ENV_VAR, DEFAULT_ADAPTER)
    try:
        return load_adapter(name)
    except (LookupError, ImportError) as exc:
        pytest.skip(f"pipeline adapter {name!r} is not available: {exc}")


@pytest.fixture(scope="module")
def dataset_path(adapter: Any) -> Path:
    override = os.environ.get(DATASET_ENV_VAR)
    if override:
        return Path(override)
    default_dataset = getattr(adapter, "default_dataset", None)
    path = default_dataset() if default_dataset is not None else None
    if path is None:
        pytest.skip(
            f"adapter {adapter.name!r} ships no dataset; set {DATASET_ENV_VAR} to a dataset file"
        )
    return Path(path)


@pytest.fixture(scope="module")
def checkpoint_info(adapter: Any) -> Any:
    """Load the adapter's shipped checkpoint once per module and return what it found."""
    override = os.environ.get(CHECKPOINT_ENV_VAR)
    checkpoint = Path(override) if override else adapter.default_checkpoint()
    if checkpoint is None:
        pytest.skip(f"adapter {adapter.name!r} ships no checkpoint; set {CHECKPOINT_ENV_VAR} to a checkpoint file")
    return adapter.load_checkpoint(checkpoint)


def bench_validate_dataset(benchmark: Any, dataset_path: Path) -> None:
    """Time contract validation of one dataset file, headers and values."""
    try:
        from contracts.validate import validate_file
    except ImportError as exc:
        pytest.skip(f"contracts.validate.validate_file is not available: {exc}")
    benchmark.extra_info["dataset"] = str(dataset_path)
    benchmark.extra_info["dataset_bytes"] = dataset_path.stat().st_size
    benchmark.pedantic(validate_file, args=(dataset_path,), rounds=ROUNDS, warmup_rounds=WARMUP_ROUNDS)
    record_peak_memory(benchmark, validate_file, dataset_path)


def bench_inference_batch(
    benchmark: Any, adapter: Any, checkpoint_info: Any, dataset_path: Path
) -> None:
    """Time one batch from the inference DataLoader through the network."""

    def first_batch_through_network() -> Any:
        batch = next(iter(adapter.inference_batches(dataset_path, BATCH_SIZE)))
        return adapter.predict_patches(batch)

    benchmark.extra_info["batch_size"] = BATCH_SIZE
    patches = benchmark.pedantic(first_batch_through_network, rounds=ROUNDS, warmup_rounds=WARMUP_ROUNDS)
    assert patches.shape[0] > 0, "the first inference batch produced no patches"
    record_peak_memory(benchmark, first_batch_through_network)


def bench_stitch_many_patches(benchmark: Any, adapter: Any, checkpoint_info: Any) -> None:
    """Time stitching a grid of random complex patches with sub-pixel offsets."""
    patch_size = int(checkpoint_info.patch_size)
    patches, xcoords, ycoords = _random_patches(patch_size)
    benchmark.extra_info["n_patches"] = int(patches.shape[0])
    benchmark.extra_info["patch_size_px"] = patch_size
    stitched = benchmark.pedantic(
        adapter.stitch, args=(patches, xcoords, ycoords), rounds=ROUNDS, warmup_rounds=WARMUP_ROUNDS
    )
    assert stitched.obj.size > 0, "stitching returned an empty canvas"
    record_peak_memory(benchmark, adapter.stitch, patches, xcoords, ycoords)


def bench_reconstruction_quality(
    benchmark: Any, adapter: Any, checkpoint_info: Any, dataset_path: Path
) -> None:
    """Time the whole reconstruction of the dataset and record its errors against the true object.

    The errors go to ``extra_info`` as ``amplitude_error`` (relative RMS) and
    ``phase_error_rad`` (RMS after removing the global phase offset), with the errors of a
    trivial guess for scale.
    """
    with np.load(dataset_path, allow_pickle=False) as data:
        if "objectGuess" not in data.files:
            pytest.skip(f"dataset {dataset_path} has no objectGuess (true object) to compare with")
        true_object = data["objectGuess"]
    compare = _quality_function()

    def reconstruct() -> Any:
        return _reconstruct(adapter, dataset_path)

    stitched = benchmark.pedantic(reconstruct, rounds=QUALITY_ROUNDS, warmup_rounds=0)
    record_peak_memory(benchmark, reconstruct)
    quality = compare(stitched, true_object)
    benchmark.extra_info["amplitude_error"] = float(quality.amplitude_error)
    benchmark.extra_info["phase_error_rad"] = float(quality.phase_error_rad)
    benchmark.extra_info["trivial_amplitude_error"] = float(quality.trivial_amplitude_error)
    benchmark.extra_info["trivial_phase_error_rad"] = float(quality.trivial_phase_error_rad)
    benchmark.extra_info["n_pixels"] = int(quality.n_pixels)


def _quality_function() -> Any:
    import harness.quality as quality

    for name in ("compare_with_truth", "compare_to_truth"):
        function = getattr(quality, name, None)
        if function is not None:
            return function
    pytest.skip("harness.quality offers no compare_with_truth function")


def _reconstruct(adapter: Any, dataset_path: Path) -> Any:
    """Predict every pattern of the dataset and stitch the patches into one object."""
    patch_batches, x_batches, y_batches = [], [], []
    for batch in adapter.inference_batches(dataset_path, QUALITY_BATCH_SIZE):
        patches = adapter.predict_patches(batch)
        patches = patches.detach().cpu().numpy() if hasattr(patches, "detach") else np.asarray(patches)
        patch_batches.append(patches.reshape(-1, patches.shape[-2], patches.shape[-1]))
        x_batches.append(_as_numpy(batch.xcoords).reshape(-1))
        y_batches.append(_as_numpy(batch.ycoords).reshape(-1))
    return adapter.stitch(np.concatenate(patch_batches), np.concatenate(x_batches), np.concatenate(y_batches))


def _as_numpy(value: Any) -> np.ndarray:
    return value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)


def _random_patches(patch_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (n, patch_size, patch_size) complex64 patches on a jittered raster scan."""
    rng = np.random.default_rng(STITCH_SEED)
    n_patches = STITCH_GRID_SIDE * STITCH_GRID_SIDE
    shape = (n_patches, patch_size, patch_size)
    patches = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    rows, cols = np.divmod(np.arange(n_patches), STITCH_GRID_SIDE)
    jitter = rng.uniform(-0.5, 0.5, size=(2, n_patches))
    xcoords = cols * STITCH_STEP_PX + jitter[0] + patch_size
    ycoords = rows * STITCH_STEP_PX + jitter[1] + patch_size
    return patches, xcoords.astype(np.float64), ycoords.astype(np.float64)
