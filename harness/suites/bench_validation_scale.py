"""Benchmarks of file validation at scale: time against numpy.load, and peak memory as files grow.

The benchmarks write canonical NPZ datasets of about 1 MiB, 256 MiB and 1 GiB
(uncompressed, and 1 GiB compressed) into a temporary folder, which needs about 2.5 GiB
of free disk. They carry the ``scale`` marker and run only when selected with
``-m scale``; a plain run of the suite skips them. Each timing benchmark also times
``numpy.load`` of every array of the same file and records the ratio in ``extra_info``
(targets: at most 0.5 uncompressed, 1.1 compressed). Peak memory is the maximum resident
set size (VmHWM, so Linux only) of a fresh process that validates one file.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

logger = logging.getLogger(__name__)

SCALE_MARKER = "scale"
PATTERN_PX = 128
PATTERN_BYTES = PATTERN_PX * PATTERN_PX * 4
# Pattern counts of the files: about 1 MiB, 256 MiB and 1 GiB of diffraction.
SIZES = {"1MiB": 2**20 // PATTERN_BYTES, "256MiB": 2**28 // PATTERN_BYTES, "1GiB": 2**30 // PATTERN_BYTES}
OBJECT_PX = 1024
ROUNDS = 3
LOAD_REPEATS = 3
SEED = 20240611
# Ratio targets of validation time to numpy.load time, recorded beside each measurement.
UNCOMPRESSED_RATIO_TARGET = 0.5
COMPRESSED_RATIO_TARGET = 1.1
# The largest file may raise the validating process's peak RSS by at most this much over the tiny one.
RSS_GROWTH_LIMIT_BYTES = 300 * 2**20

pytestmark = pytest.mark.scale

# VmHWM is the peak RSS of the process's own address space. ru_maxrss would not do: Linux
# keeps it across exec, so a child started by this large process would report the parent's peak.
_RSS_SCRIPT = (
    "import sys\n"
    "from contracts.validate import validate_file\n"
    "report = validate_file(sys.argv[1])\n"
    "assert report.ok, [v.message() for v in report.violations]\n"
    "status = open('/proc/self/status').read().split('VmHWM:')[1]\n"
    "print(int(status.split()[0]) * 1024)\n"
)


@pytest.fixture(scope="module", autouse=True)
def _selected_explicitly(request: pytest.FixtureRequest) -> None:
    """Skip unless the run selected the scale marker, so a default suite run never writes GiB files."""
    if SCALE_MARKER not in (request.config.option.markexpr or ""):
        pytest.skip("scale benchmarks write about 2.5 GiB of files; select them with -m scale")


@pytest.fixture(scope="module")
def dataset_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Write the canonical datasets once per module: name -> path."""
    folder = tmp_path_factory.mktemp("validation_scale")
    pool = _pattern_pool()
    files = {}
    for name, count in SIZES.items():
        files[name] = _write_dataset(folder / f"{name}.npz", pool, count, compressed=False)
    files["1GiB-compressed"] = _write_dataset(folder / "1GiB-compressed.npz", pool, SIZES["1GiB"], compressed=True)
    return files


def _pattern_pool() -> np.ndarray:
    """Return 64 distinct (128, 128) float32 amplitude patterns: sqrt of Poisson counts, normalized."""
    rng = np.random.default_rng(SEED)
    axis = np.arange(PATTERN_PX) - PATTERN_PX / 2
    rate = 200.0 * np.exp(-(axis[:, None] ** 2 + axis[None, :] ** 2) / (2 * 12.0**2))
    counts = rng.poisson(rate, (64, PATTERN_PX, PATTERN_PX))
    return (np.sqrt(counts) / 17.3).astype(np.float32)


def _write_dataset(path: Path, pool: np.ndarray, count: int, *, compressed: bool) -> Path:
    rng = np.random.default_rng(SEED + count)
    diffraction = pool[np.arange(count) % len(pool)]
    margin = PATTERN_PX / 2
    arrays = {
        "diffraction": diffraction,
        "probeGuess": np.ones((PATTERN_PX, PATTERN_PX), np.complex64),
        "objectGuess": np.ones((OBJECT_PX, OBJECT_PX), np.complex64),
        "xcoords": rng.uniform(margin, OBJECT_PX - margin, count),
        "ycoords": rng.uniform(margin, OBJECT_PX - margin, count),
        "scan_index": np.arange(count, dtype=np.int64),
    }
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    logger.info("wrote %s (%d bytes)", path, path.stat().st_size)
    return path


def _numpy_load_seconds(path: Path) -> float:
    """Return the fastest of a few full reads of every array with numpy.load."""
    best = float("inf")
    for _ in range(LOAD_REPEATS):
        started = time.perf_counter()
        with np.load(path, allow_pickle=False) as archive:
            arrays = [archive[key] for key in archive.files]
        best = min(best, time.perf_counter() - started)
        del arrays
    return best


def _validate_and_compare(benchmark: Any, path: Path, target: float) -> None:
    from contracts.validate import validate_file

    report = benchmark.pedantic(validate_file, args=(path,), rounds=ROUNDS, warmup_rounds=1, iterations=1)
    assert report.ok, [violation.message() for violation in report.violations]
    load_s = _numpy_load_seconds(path)
    ratio = benchmark.stats.stats.min / load_s
    benchmark.extra_info.update(
        {"file_bytes": path.stat().st_size, "numpy_load_s": load_s, "ratio_to_numpy_load": ratio, "ratio_target": target}
    )
    if ratio > target:
        logger.warning("validating %s took %.2fx the time of numpy.load, above the %.2fx target", path, ratio, target)


def bench_validate_uncompressed_1gib(benchmark: Any, dataset_files: dict[str, Path]) -> None:
    """Validate a 1 GiB uncompressed canonical NPZ; compare with numpy.load of the same arrays."""
    _validate_and_compare(benchmark, dataset_files["1GiB"], UNCOMPRESSED_RATIO_TARGET)


def bench_validate_compressed_1gib(benchmark: Any, dataset_files: dict[str, Path]) -> None:
    """Validate a 1 GiB (uncompressed size) compressed canonical NPZ; compare with numpy.load."""
    _validate_and_compare(benchmark, dataset_files["1GiB-compressed"], COMPRESSED_RATIO_TARGET)


def bench_validation_peak_rss(benchmark: Any, dataset_files: dict[str, Path]) -> None:
    """Measure the peak RSS of a process validating each file; record the growth over the tiny file."""
    peaks: dict[str, int] = {}

    def measure() -> None:
        for name, path in dataset_files.items():
            result = subprocess.run(
                [sys.executable, "-c", _RSS_SCRIPT, str(path)], capture_output=True, text=True, check=True
            )
            peaks[name] = int(result.stdout.strip().splitlines()[-1])

    benchmark.pedantic(measure, rounds=1, iterations=1)
    growth = {name: peak - peaks["1MiB"] for name, peak in peaks.items()}
    benchmark.extra_info.update({"peak_rss_bytes": peaks, "peak_rss_growth_bytes": growth})
    logger.info("peak RSS per file: %s", json.dumps(peaks))
    if max(growth.values()) >= RSS_GROWTH_LIMIT_BYTES:
        logger.warning("peak RSS grew by %d bytes over the tiny file, above the limit", max(growth.values()))
