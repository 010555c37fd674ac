"""A small fixed numpy workload that calibrates the regression gate.

It depends on no pipeline, so the gate always has one benchmark to compare. Setting
``PTYCHO_HARNESS_BENCH_SLOWDOWN`` to a fraction (0.15 is 15 %) makes each call of this
benchmark, and of no other, busy-wait for that fraction of its own CPU time after the
work. A known slowdown can so be injected to measure how often the gate flags it.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import numpy as np
import pytest

from harness.bench import record_peak_memory

logger = logging.getLogger(__name__)

SLOWDOWN_ENV_VAR = "PTYCHO_HARNESS_BENCH_SLOWDOWN"
PROBE_ROUNDS = 30
PROBE_WARMUP_ROUNDS = 3
PROBE_SIDE_PX = 256
PROBE_REPEATS = 4
PROBE_SEED = 1084


def _slowdown_fraction() -> float:
    text = os.environ.get(SLOWDOWN_ENV_VAR, "").strip()
    if not text:
        return 0.0
    try:
        fraction = float(text)
    except ValueError:
        raise pytest.UsageError(
            f"{SLOWDOWN_ENV_VAR}={text!r} is invalid; expected a fraction such as 0.15"
        ) from None
    if not 0 <= fraction < 10:
        raise pytest.UsageError(f"{SLOWDOWN_ENV_VAR}={fraction} is out of range; expected 0 <= value < 10")
    return fraction


def bench_gate_probe(benchmark: Any) -> None:
    """Time a few 2-D FFT round trips of a fixed complex image, the kind of work ptychography does."""
    rng = np.random.default_rng(PROBE_SEED)
    shape = (PROBE_SIDE_PX, PROBE_SIDE_PX)
    image = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    slowdown = _slowdown_fraction()

    def workload() -> float:
        started_cpu_s = time.process_time()
        total = 0.0
        for _ in range(PROBE_REPEATS):
            total += float(np.abs(np.fft.ifft2(np.fft.fft2(image) * 0.5)).sum())
        if slowdown:
            # NOTE: scripts/gate_power.py measured an injected 0.15 as +10% to +13% in most
            # trials on the two-core development machine; the cause is not known.
            # Busy-wait on the process's CPU clock rather than sleep, so that the added time
            # is work time, as a slower implementation's would be. Time spent waiting for a
            # core on a loaded machine then does not count towards the added fraction.
            deadline_cpu_s = started_cpu_s + (time.process_time() - started_cpu_s) * (1.0 + slowdown)
            while time.process_time() < deadline_cpu_s:
                pass
        return total

    benchmark.extra_info["injected_slowdown"] = slowdown
    benchmark.pedantic(workload, rounds=PROBE_ROUNDS, warmup_rounds=PROBE_WARMUP_ROUNDS)
    record_peak_memory(benchmark, workload)
