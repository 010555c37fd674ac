"""Benchmarks of the reference implementation's stitching and inference, with pytest-benchmark.

Figures go to ``extra_info``:

- ``bench_stitch_vs_clone``: stitching 4096 complex64 patches of 64 x 64 pixels at
  sub-pixel positions, as a multiple of one ``clone()`` of the patch stack
  (``ratio_to_clone``).
- ``bench_stitch_vs_grid_sample``: the same stitching against the common alternative that
  pads every patch to the whole canvas and translates it there with ``grid_sample``
  (bilinear, chunks of 128 patches). It runs 1024 patches into 256 x 256 and 512 x 512
  canvases (``speedup_256``, ``speedup_512``) and checks that both results agree.
- ``bench_inference_throughput``: patterns per second through the DataLoader, the contract
  guards, the network and the stitching, and the overhead over the bare network forward on
  the same batches (``overhead_fraction``), with the guards' share (``guard_fraction``).

The default run uses smaller sizes so that each benchmark takes a few seconds; set
``PTYCHO_HARNESS_BENCH_LARGE=1`` for the sizes above.
"""

from __future__ import annotations

import logging
import math
import os
import time
from typing import Any

import numpy as np
import pytest

logger = logging.getLogger(__name__)

LARGE_ENV_VAR = "PTYCHO_HARNESS_BENCH_LARGE"
LARGE = os.environ.get(LARGE_ENV_VAR, "") not in ("", "0")
SEED = 20251204
PATCH_PX = 64
CLONE_PATCHES = 4096 if LARGE else 1024
ALTERNATIVE_PATCHES = 1024 if LARGE else 128
ALTERNATIVE_CANVASES_PX = (256, 512)
ALTERNATIVE_CHUNK = 128
INFERENCE_PATTERNS = 256 if LARGE else 64
INFERENCE_BATCH = 32
ROUNDS = 3


def _best_seconds(function: Any, rounds: int = ROUNDS) -> float:
    best = math.inf
    for _ in range(rounds):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return best


def _random_stack(count: int, seed: int = SEED) -> Any:
    import torch

    generator = torch.Generator().manual_seed(seed)
    real = torch.randn(count, PATCH_PX, PATCH_PX, generator=generator)
    imag = torch.randn(count, PATCH_PX, PATCH_PX, generator=generator)
    return torch.complex(real, imag)


def _offsets(count: int, canvas_px: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Sub-pixel offsets from the canvas centre that keep a patch and its bilinear spill inside."""
    reach = (canvas_px - PATCH_PX) / 2 - 1.5
    rng = np.random.default_rng(seed)
    return rng.uniform(-reach, reach, count), rng.uniform(-reach, reach, count)


def bench_stitch_vs_clone(benchmark: Any) -> None:
    """Time stitching a stack of 64 x 64 patches and compare with one clone of the stack."""
    from reference_impl.stitching import place_patches

    patches = _random_stack(CLONE_PATCHES)
    canvas_px = 512
    offsets_x, offsets_y = _offsets(CLONE_PATCHES, canvas_px)

    def stitch() -> Any:
        return place_patches(patches, offsets_x, offsets_y, canvas_px)

    benchmark.pedantic(stitch, rounds=ROUNDS, warmup_rounds=1)
    clone_seconds = _best_seconds(patches.clone)
    stitch_seconds = benchmark.stats.stats.min
    benchmark.extra_info.update(
        n_patches=CLONE_PATCHES,
        patch_px=PATCH_PX,
        canvas_px=canvas_px,
        clone_seconds=clone_seconds,
        stitch_seconds=stitch_seconds,
        ratio_to_clone=stitch_seconds / clone_seconds,
    )
    logger.info("stitching %d patches took %.2fx one clone", CLONE_PATCHES, stitch_seconds / clone_seconds)


def grid_sample_stitch(
    patches: Any, offsets_x: np.ndarray, offsets_y: np.ndarray, canvas_px: int, chunk: int = ALTERNATIVE_CHUNK
) -> tuple[Any, Any]:
    """Stitch by padding each patch to the whole canvas and translating it with ``grid_sample``.

    Returns the placed sum (M, M) complex64 and the placed count (M, M) float32, in the
    convention of ``reference_impl.stitching.place_patches``.
    """
    import torch
    from torch.nn import functional

    count, size, _ = patches.shape
    start = canvas_px // 2 - size // 2
    sums = torch.zeros(3, canvas_px, canvas_px)
    for first in range(0, count, chunk):
        last = min(first + chunk, count)
        padded = torch.zeros(last - first, 3, canvas_px, canvas_px)
        padded[:, 0, start : start + size, start : start + size] = patches[first:last].real
        padded[:, 1, start : start + size, start : start + size] = patches[first:last].imag
        padded[:, 2, start : start + size, start : start + size] = 1.0
        theta = torch.zeros(last - first, 2, 3)
        theta[:, 0, 0] = 1.0
        theta[:, 1, 1] = 1.0
        # Output pixel p samples the padded patch at p - offset; with align_corners=False
        # one pixel is 2 / M in normalized coordinates.
        theta[:, 0, 2] = torch.from_numpy(-2.0 * offsets_x[first:last] / canvas_px)
        theta[:, 1, 2] = torch.from_numpy(-2.0 * offsets_y[first:last] / canvas_px)
        grid = functional.affine_grid(theta, list(padded.shape), align_corners=False)
        moved = functional.grid_sample(padded, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        sums += moved.sum(dim=0)
    return torch.complex(sums[0], sums[1]), sums[2]


def bench_stitch_vs_grid_sample(benchmark: Any) -> None:
    """Compare footprint stitching with pad-and-translate stitching on 256 and 512 pixel canvases."""
    import torch

    from reference_impl.stitching import place_patches

    patches = _random_stack(ALTERNATIVE_PATCHES)
    results: dict[str, float] = {"n_patches": ALTERNATIVE_PATCHES, "patch_px": PATCH_PX}
    for canvas_px in ALTERNATIVE_CANVASES_PX:
        offsets_x, offsets_y = _offsets(ALTERNATIVE_PATCHES, canvas_px)

        def footprint() -> Any:
            return place_patches(patches, offsets_x, offsets_y, canvas_px)

        if canvas_px == ALTERNATIVE_CANVASES_PX[-1]:
            benchmark.pedantic(footprint, rounds=ROUNDS, warmup_rounds=1)
            fast_seconds = benchmark.stats.stats.min
        else:
            fast_seconds = _best_seconds(footprint)
        started = time.perf_counter()
        slow_sums, slow_counts = grid_sample_stitch(patches, offsets_x, offsets_y, canvas_px)
        slow_seconds = time.perf_counter() - started

        fast_sums, fast_counts = footprint()
        # Both use bilinear weights; float32 sums of up to a few hundred unit-scale terms
        # agree to about 1e-4 absolute.
        torch.testing.assert_close(fast_counts, slow_counts, rtol=0, atol=1e-3)
        torch.testing.assert_close(fast_sums, slow_sums, rtol=0, atol=1e-3)
        results[f"footprint_seconds_{canvas_px}"] = fast_seconds
        results[f"grid_sample_seconds_{canvas_px}"] = slow_seconds
        results[f"speedup_{canvas_px}"] = slow_seconds / fast_seconds
        logger.info("canvas %d: footprint stitching %.1fx faster than grid_sample", canvas_px, slow_seconds / fast_seconds)
    benchmark.extra_info.update(results)


def bench_inference_throughput(benchmark: Any) -> None:
    """Patterns per second through loader, guards, network and stitching, against the bare network."""
    import torch

    from reference_impl.adapter import DEFAULT_CHECKPOINT, DEFAULT_DATASET, ReferenceAdapter
    from reference_impl.data import load_dataset, make_inference_loader

    if not (DEFAULT_CHECKPOINT.is_file() and DEFAULT_DATASET.is_file()):
        pytest.skip("the shipped dataset or checkpoint is missing")
    arrays = load_dataset(DEFAULT_DATASET)
    arrays = {key: (value[:INFERENCE_PATTERNS] if key in ("diffraction", "xcoords", "ycoords") else value)
              for key, value in arrays.items()}
    adapter = ReferenceAdapter(guard_mode="raise")
    adapter.load_checkpoint(DEFAULT_CHECKPOINT)
    module = adapter._loaded_module()
    torch.set_grad_enabled(False)

    def full_pipeline() -> Any:
        patches, xcoords, ycoords = [], [], []
        for batch in make_inference_loader(arrays, INFERENCE_BATCH, guard_mode="raise"):
            patches.append(adapter.predict_patches(batch))
            xcoords.append(batch.xcoords.numpy())
            ycoords.append(batch.ycoords.numpy())
        return adapter.stitch(torch.cat(patches).numpy(), np.concatenate(xcoords), np.concatenate(ycoords))

    batches = list(make_inference_loader(arrays, INFERENCE_BATCH, guard_mode="off"))

    def bare_network() -> None:
        with torch.inference_mode():
            for batch in batches:
                module(batch.diffraction)

    benchmark.pedantic(full_pipeline, rounds=ROUNDS, warmup_rounds=1)
    # The bare network and the whole pipeline are timed in alternation, so that a change of
    # machine load during the run affects both alike. The minimum over rounds is kept.
    bare_seconds = math.inf
    full_seconds = benchmark.stats.stats.min
    for _ in range(ROUNDS):
        bare_seconds = min(bare_seconds, _best_seconds(bare_network, rounds=1))
        full_seconds = min(full_seconds, _best_seconds(full_pipeline, rounds=1))
    guard_runs = [_guard_seconds(adapter, arrays, batches) for _ in range(ROUNDS)]
    batch_guard_seconds = min(run[0] for run in guard_runs)
    recon_guard_seconds = min(run[1] for run in guard_runs)
    guard_seconds = batch_guard_seconds + recon_guard_seconds
    benchmark.extra_info.update(
        n_patterns=INFERENCE_PATTERNS,
        batch_size=INFERENCE_BATCH,
        patterns_per_second=INFERENCE_PATTERNS / full_seconds,
        bare_network_seconds=bare_seconds,
        full_seconds=full_seconds,
        guard_seconds=guard_seconds,
        batch_guard_seconds=batch_guard_seconds,
        recon_guard_seconds=recon_guard_seconds,
        overhead_fraction=full_seconds / bare_seconds - 1,
        guard_fraction=guard_seconds / bare_seconds,
        batch_guard_fraction=batch_guard_seconds / bare_seconds,
    )


def _guard_seconds(adapter: Any, arrays: dict[str, np.ndarray], batches: list[Any]) -> tuple[float, float]:
    """Return the seconds spent in the contract guards of one inference pass, and nothing else.

    The first figure covers the per-batch GROUPED and BATCH guards, the second the RECON
    guard on the stitched object.
    """
    import torch

    from reference_impl.data import DiffractionDataset, GroupCollator
    from reference_impl.model import guard_batch_tensors
    from reference_impl.stitching import stitch_patches

    module = adapter._loaded_module()
    collator = GroupCollator(DiffractionDataset(arrays), "raise")
    outputs = [torch.zeros(batch.diffraction.shape, dtype=torch.complex64) for batch in batches]
    patches = torch.cat(outputs).numpy()[:, 0]
    xcoords = np.concatenate([batch.xcoords.numpy() for batch in batches])
    ycoords = np.concatenate([batch.ycoords.numpy() for batch in batches])
    weight = adapter._stitch_weight(patches.shape[-1])
    stitched = stitch_patches(patches, xcoords, ycoords, weight=weight)

    started = time.perf_counter()
    for batch, output in zip(batches, outputs):
        collator._guard(batch.diffraction.numpy(), batch.indices.numpy())
        guard_batch_tensors(batch.diffraction, module.probe, None, "raise")
        guard_batch_tensors(batch.diffraction, module.probe, output, "raise")
    batch_seconds = time.perf_counter() - started
    started = time.perf_counter()
    adapter._guard_recon(patches, xcoords, ycoords, weight, stitched)
    return batch_seconds, time.perf_counter() - started
