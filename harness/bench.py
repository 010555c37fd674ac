"""Run the shipped benchmark suite into a run folder and read back its statistics.

The suite lives in the installed package (``harness/suites``) with its own pytest.ini, so
it runs the same from a wheel as from a source checkout, and the configuration of the
project it runs in does not leak in. pytest-benchmark writes ``benchmark.json`` in its own
format, so its compare and histogram tools work on the file. With ``--benchmark-json`` it
also stores every round's time in ``stats.data``, which the regression gate tests on.

Times are CPU time of the benchmark process by default (pytest-benchmark's
``--benchmark-timer time.process_time``), not wall time. On a shared machine, CPU time
leaves out the time the process waits for a core, so that two runs stay comparable when
the load changes between them. It sums over threads and leaves out waiting for I/O;
``timer="wall"`` measures wall time instead (``time.perf_counter``).

The suite always runs serially in one process (``-p no:xdist``): timings taken while
other tests share the cores are not comparable, and pytest-benchmark disables itself
under xdist anyway.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import tracemalloc
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import IO, Any, TypeVar

from harness.pytest_plugin import EVIDENCE_ENV_VAR
from harness.pytest_runner import run_logged
from harness.runfolder import RunFolder, publish_new_file

logger = logging.getLogger(__name__)

T = TypeVar("T")

BENCHMARK_FILE_NAME = "benchmark.json"
BENCH_LOG_FILE_NAME = "bench.log"
SUITE_INI_NAME = "pytest.ini"
PEAK_MEMORY_KEY = "peak_memory_bytes"
MAX_RSS_DELTA_KEY = "max_rss_delta_bytes"
# Options that keep the suite in one process even where pytest-xdist is installed and
# PYTEST_ADDOPTS or a plugin requests workers.
SERIAL_ARGS = ("-p", "no:xdist")
# The choices of the timer, as pytest-benchmark's --benchmark-timer values.
TIMERS = {"cpu": "time.process_time", "wall": "time.perf_counter"}
DEFAULT_TIMER = "cpu"
SERIAL_NOTE = "benchmarks ran serially in one process (-p no:xdist), apart from the tests"


@dataclass(frozen=True)
class BenchmarkStat:
    """Summary statistics of one benchmark, in seconds."""

    name: str
    mean_s: float
    stddev_s: float
    rounds: int


@dataclass(frozen=True)
class BenchResult:
    """The outcome of one suite run: pytest's exit status, the files written, the statistics.

    ``json_path`` is None when pytest-benchmark wrote no JSON (for example when pytest
    stopped before running any benchmark).
    """

    exit_code: int
    json_path: Path | None
    log_path: Path
    rows: tuple[BenchmarkStat, ...]

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.json_path is not None


def run_benchmarks(
    run_folder: RunFolder,
    *,
    selection: str | None = None,
    suite_dir: Path | None = None,
    extra_args: Sequence[str] = (),
    echo: IO[bytes] | None = None,
    python: str = sys.executable,
    timer: str = DEFAULT_TIMER,
) -> BenchResult:
    """Run the benchmark suite and store ``benchmark.json`` and ``bench.log`` in ``run_folder``.

    ``selection`` is a pytest ``-k`` expression over benchmark names (None runs all).
    ``suite_dir`` is a folder holding benchmark files and a pytest.ini (default: the suite
    shipped in this package). ``echo`` receives pytest's output as it arrives. ``timer``
    is ``cpu`` (process CPU time) or ``wall``.

    Raises:
        FileExistsError: the run folder already contains benchmark.json or bench.log.
    """
    if timer not in TIMERS:
        raise ValueError(f"invalid timer {timer!r}: expected one of {', '.join(TIMERS)}")
    for name in (BENCHMARK_FILE_NAME, BENCH_LOG_FILE_NAME):
        if (run_folder.path / name).exists():
            raise FileExistsError(
                f"{run_folder.path / name} already exists and run-folder files are never "
                "overwritten; benchmark into a new run folder"
            )
    with ExitStack() as stack:
        if suite_dir is None:
            suite_dir = stack.enter_context(resources.as_file(resources.files("harness") / "suites"))
        suite_dir = Path(suite_dir).resolve()
        _check_suite(suite_dir)
        temp_json = Path(tempfile.mkdtemp(dir=run_folder.path, prefix=".benchmark-")) / BENCHMARK_FILE_NAME
        command = _pytest_command(python, suite_dir, temp_json, selection, [*extra_args, "--benchmark-timer", TIMERS[timer]])
        env = dict(os.environ)
        # A benchmark run inside a red/green capture must not record over the capture's outcomes.
        env.pop(EVIDENCE_ENV_VAR, None)
        exit_code = run_logged(command, run_folder, BENCH_LOG_FILE_NAME, env=env, echo=echo)
        json_path = _publish_json(temp_json, run_folder)
    stats = read_benchmark_stats(json_path) if json_path is not None else ()
    logger.info("benchmark suite exited %d with %d benchmark(s)", exit_code, len(stats))
    return BenchResult(
        exit_code=exit_code,
        json_path=json_path,
        log_path=run_folder.path / BENCH_LOG_FILE_NAME,
        rows=stats,
    )


def read_benchmark_stats(json_path: Path) -> tuple[BenchmarkStat, ...]:
    """Read name, mean, standard deviation and rounds of each benchmark in a pytest-benchmark JSON."""
    document = json.loads(Path(json_path).read_text(encoding="utf-8"))
    return tuple(
        BenchmarkStat(
            name=str(bench.get("fullname") or bench["name"]),
            mean_s=float(bench["stats"]["mean"]),
            stddev_s=float(bench["stats"]["stddev"]),
            rounds=int(bench["stats"]["rounds"]),
        )
        for bench in document.get("benchmarks", [])
    )


def _check_suite(suite_dir: Path) -> None:
    if not (suite_dir / SUITE_INI_NAME).is_file():
        raise FileNotFoundError(
            f"benchmark suite folder {suite_dir} has no {SUITE_INI_NAME}; a suite folder needs "
            "one so that the surrounding project's pytest settings do not apply"
        )


def _pytest_command(
    python: str, suite_dir: Path, json_path: Path, selection: str | None, extra_args: Sequence[str]
) -> list[str]:
    command = [
        python,
        "-m",
        "pytest",
        "-c",
        str(suite_dir / SUITE_INI_NAME),
        "--rootdir",
        str(suite_dir),
        "--confcutdir",
        str(suite_dir),
        *SERIAL_ARGS,
        "--benchmark-json",
        str(json_path),
        str(suite_dir),
    ]
    if selection:
        command += ["-k", selection]
    return command + list(extra_args)


def _publish_json(temp_json: Path, run_folder: RunFolder) -> Path | None:
    target = run_folder.path / BENCHMARK_FILE_NAME
    try:
        if not temp_json.is_file():
            logger.warning("pytest-benchmark wrote no JSON; see %s", run_folder.path / BENCH_LOG_FILE_NAME)
            return None
        publish_new_file(temp_json, target)
    finally:
        temp_json.unlink(missing_ok=True)
        temp_json.parent.rmdir()
    logger.info("wrote %s", target)
    return target


def record_peak_memory(benchmark: Any, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call ``function`` once more, outside the timed rounds, and record its peak memory.

    Stores ``extra_info["peak_memory_bytes"]``: the peak of memory allocated through
    Python's allocators during the call (tracemalloc), which includes numpy arrays.
    Also stores ``extra_info["max_rss_delta_bytes"]``: how much the process's maximum
    resident set size grew during the call, which also counts native allocations such as
    torch's CPU tensors, but stays 0 when an earlier call already reached a higher peak.
    Returns what ``function`` returned.
    """
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    baseline_bytes, _ = tracemalloc.get_traced_memory()
    rss_before = _max_rss_bytes()
    try:
        result = function(*args, **kwargs)
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        if not was_tracing:
            tracemalloc.stop()
    benchmark.extra_info[PEAK_MEMORY_KEY] = int(max(peak_bytes - baseline_bytes, 0))
    rss_after = _max_rss_bytes()
    if rss_before is not None and rss_after is not None:
        benchmark.extra_info[MAX_RSS_DELTA_KEY] = int(rss_after - rss_before)
    return result


def _max_rss_bytes() -> int | None:
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows has no resource module
        return None
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kibibytes, macOS bytes.
    return int(usage) if sys.platform == "darwin" else int(usage) * 1024


def describe_stats(stats: Sequence[BenchmarkStat]) -> str:
    """Render statistics as an aligned text table with times in milliseconds."""
    if not stats:
        return "no benchmarks ran"
    width = max(len("benchmark"), *(len(stat.name) for stat in stats))
    lines = [f"{'benchmark':<{width}}  {'mean_ms':>10}  {'stddev_ms':>10}  {'rounds':>6}"]
    for stat in stats:
        lines.append(
            f"{stat.name:<{width}}  {stat.mean_s * 1e3:>10.3f}  {stat.stddev_s * 1e3:>10.3f}  {stat.rounds:>6}"
        )
    return "\n".join(lines)
