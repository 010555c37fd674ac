"""Compare two benchmark runs and decide which differences are regressions.

Time: a benchmark regressed when the ratio of the per-round times' minimums (candidate
over baseline) exceeds ``1 + threshold`` AND a one-sided Mann-Whitney U test on the
per-round times finds the candidate slower at significance level ``alpha``. The rank test
is used instead of a t-test because per-round timings are skewed and carry outliers
(scheduler preemption, garbage collection), so they are not normal. It needs no
distribution assumption, and it has an exact null distribution for the few rounds a
benchmark keeps. The threshold applies to the minimum by default because interference
from other processes only ever adds time, so the fastest round is the steadiest estimate
of the code's own cost between runs. On a shared two-core machine the minimum of 30
rounds varied by about 2.5 % between runs where the median varied by about 5.5 %
(``scripts/gate_power.py`` measures this). ``time_statistic="median"`` applies it to the
ratio of medians instead. pytest-benchmark
stores the per-round times in ``stats.data`` when it writes ``--benchmark-json``.
A JSON without them falls back to a z-test on the means from the summary statistics,
and the comparison warns about it.

Peak memory (``extra_info["peak_memory_bytes"]``) and reconstruction errors
(``extra_info["amplitude_error"]``, ``extra_info["phase_error_rad"]``) are measured once per run,
so they have no rounds to test. They are gated on the relative increase alone, each with
its own threshold. Both are deterministic for a fixed code, data and seed up to allocator
and floating-point reduction order.

Runs from different machines (CPU model, core count, thread settings, Python or package
versions) are compared with a warning, and their regressions fail the comparison only in
strict mode.
"""

from __future__ import annotations

import json
import logging
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from harness.runfolder import MANIFEST_FILE_NAME, RunFolder, list_run_folders

logger = logging.getLogger(__name__)

BENCHMARK_FILE_NAME = "benchmark.json"
COMPARISON_JSON_NAME = "comparison.json"
COMPARISON_MD_NAME = "comparison.md"
LATEST = "latest"

DEFAULT_TIME_THRESHOLD = 0.10
DEFAULT_MEMORY_THRESHOLD = 0.10
DEFAULT_QUALITY_THRESHOLD = 0.05
DEFAULT_ALPHA = 0.05

METRIC_TIME = "time"
METRIC_MEMORY = "peak_memory"
PEAK_MEMORY_KEY = "peak_memory_bytes"
# Reconstruction errors recorded by the quality benchmark; larger is worse for each.
QUALITY_KEYS = ("amplitude_error", "phase_error_rad")

# Above this many (n1 * n2) pairs the normal approximation replaces the exact U distribution.
EXACT_U_MAX_PAIRS = 1024
TIME_STATISTICS = ("min", "median")
DEFAULT_TIME_STATISTIC = "min"
METHOD_ONCE = "peak memory and reconstruction errors: measured once per run, relative increase above their own threshold"


class CompareInputError(ValueError):
    """A baseline or candidate that cannot be read as a benchmark run."""


@dataclass(frozen=True)
class BenchmarkRecord:
    """One benchmark of one run: per-round times in seconds and what it recorded once."""

    name: str
    times_s: tuple[float, ...]
    mean_s: float
    stddev_s: float
    median_s: float
    rounds: int
    peak_memory_bytes: int | None
    quality: Mapping[str, float]
    timer: str | None = None


@dataclass(frozen=True)
class BenchmarkRun:
    """A benchmark JSON file, its benchmarks by full name, and the machine it ran on."""

    source: Path
    benchmarks: Mapping[str, BenchmarkRecord]
    machine_info: Mapping[str, Any]
    environment: Mapping[str, Any] | None


@dataclass(frozen=True)
class Thresholds:
    """Allowed relative increases (0.10 is 10 %), the significance level for time, and the
    statistic of the per-round times (``min`` or ``median``) that the time threshold applies to."""

    time: float = DEFAULT_TIME_THRESHOLD
    memory: float = DEFAULT_MEMORY_THRESHOLD
    quality: float = DEFAULT_QUALITY_THRESHOLD
    alpha: float = DEFAULT_ALPHA
    time_statistic: str = DEFAULT_TIME_STATISTIC

    def __post_init__(self) -> None:
        for name in ("time", "memory", "quality"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"invalid {name} threshold {value}: expected a finite number >= 0, such as 0.10")
        if not 0 < self.alpha < 1:
            raise ValueError(f"invalid alpha {self.alpha}: expected a significance level in (0, 1), such as 0.05")
        if self.time_statistic not in TIME_STATISTICS:
            raise ValueError(
                f"invalid time statistic {self.time_statistic!r}: expected one of {', '.join(TIME_STATISTICS)}"
            )


@dataclass(frozen=True)
class MetricComparison:
    """One metric of one benchmark in both runs.

    ``change`` is candidate / baseline - 1. ``p_value`` is None for metrics measured once.
    ``regression`` is the verdict before the machine check.
    """

    benchmark: str
    metric: str
    baseline: float
    candidate: float
    change: float
    threshold: float
    p_value: float | None
    test: str
    regression: bool
    detail: str


@dataclass(frozen=True)
class Comparison:
    """The comparison of a candidate run with a baseline run."""

    baseline_source: str
    candidate_source: str
    thresholds: Thresholds
    strict: bool
    metrics: tuple[MetricComparison, ...]
    machine_differences: tuple[str, ...]
    only_in_baseline: tuple[str, ...]
    only_in_candidate: tuple[str, ...]
    method: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    @property
    def regressions(self) -> tuple[MetricComparison, ...]:
        return tuple(metric for metric in self.metrics if metric.regression)

    @property
    def same_machine(self) -> bool:
        return not self.machine_differences

    @property
    def failed(self) -> bool:
        """Whether the regressions fail the comparison: always on one machine, else only when strict."""
        return bool(self.regressions) and (self.same_machine or self.strict)

    def verdict(self) -> str:
        """Return a one-line verdict."""
        count = len(self.regressions)
        if not count:
            return f"no regression in {len(self.metrics)} compared metric(s)"
        names = ", ".join(f"{m.benchmark} {m.metric} {m.change:+.1%}" for m in self.regressions)
        if self.failed:
            return f"REGRESSION: {count} metric(s): {names}"
        return (
            f"{count} metric(s) above threshold ({names}), not failing because the runs come from "
            "different machines; pass --strict to fail on them"
        )

    def to_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document["regressions"] = [asdict(metric) for metric in self.regressions]
        document["same_machine"] = self.same_machine
        document["failed"] = self.failed
        document["verdict"] = self.verdict()
        return document


# Reading runs.


def resolve_baseline(reference: str | Path, reports_root: Path, exclude: Path | None = None) -> Path:
    """Return the benchmark JSON named by ``reference``.

    ``reference`` is ``latest`` (the newest run folder under ``reports_root`` that has a
    benchmark.json, other than ``exclude``), a run folder, or a benchmark JSON file.

    Raises:
        CompareInputError: nothing found at ``reference``.
    """
    if str(reference) == LATEST:
        for folder in reversed(list_run_folders(reports_root)):
            if exclude is not None and folder.path.resolve() == Path(exclude).resolve():
                continue
            candidate = folder.path / BENCHMARK_FILE_NAME
            if candidate.is_file():
                logger.info("baseline 'latest' is %s", candidate)
                return candidate
        raise CompareInputError(
            f"no run folder under {reports_root} has a {BENCHMARK_FILE_NAME} to use as baseline 'latest'; "
            "run 'ptycho-harness bench' once first, or pass a run folder or JSON file"
        )
    path = Path(reference)
    if path.is_dir():
        candidate = path / BENCHMARK_FILE_NAME
        if not candidate.is_file():
            raise CompareInputError(
                f"run folder {path} has no {BENCHMARK_FILE_NAME}; choose a folder written by "
                "'ptycho-harness bench' or 'run', or pass a benchmark JSON file"
            )
        return candidate
    if path.is_file():
        return path
    raise CompareInputError(
        f"baseline {reference!r} not found; pass 'latest', a run folder or a pytest-benchmark JSON file"
    )


def load_benchmark_run(path: Path) -> BenchmarkRun:
    """Read a pytest-benchmark JSON file and the manifest next to it, if any.

    Raises:
        CompareInputError: the file is unreadable, not JSON, or not pytest-benchmark's format.
    """
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CompareInputError(f"cannot read benchmark file {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise CompareInputError(f"invalid benchmark file {path}: not JSON ({exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("benchmarks"), list):
        raise CompareInputError(
            f"invalid benchmark file {path}: expected pytest-benchmark's JSON with a 'benchmarks' list"
        )
    benchmarks = {}
    for index, bench in enumerate(document["benchmarks"]):
        record = _read_record(path, index, bench)
        benchmarks[record.name] = record
    return BenchmarkRun(
        source=path,
        benchmarks=benchmarks,
        machine_info=document.get("machine_info") or {},
        environment=_read_manifest_environment(path.parent / MANIFEST_FILE_NAME),
    )


def _read_record(path: Path, index: int, bench: Any) -> BenchmarkRecord:
    try:
        name = str(bench.get("fullname") or bench["name"])
        stats = bench["stats"]
        data = stats.get("data") or []
        times = tuple(float(value) for value in data)
        extra = bench.get("extra_info") or {}
        memory = extra.get(PEAK_MEMORY_KEY)
        quality = {key: float(extra[key]) for key in QUALITY_KEYS if isinstance(extra.get(key), (int, float))}
        return BenchmarkRecord(
            name=name,
            times_s=times,
            mean_s=float(stats["mean"]),
            stddev_s=float(stats.get("stddev") or 0.0),
            median_s=float(stats.get("median", statistics.median(times) if times else stats["mean"])),
            rounds=int(stats.get("rounds", len(times))),
            peak_memory_bytes=int(memory) if isinstance(memory, (int, float)) else None,
            quality=quality,
            timer=(bench.get("options") or {}).get("timer"),
        )
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise CompareInputError(
            f"invalid benchmark file {path}: benchmark #{index} lacks {exc} or has a wrong type; "
            "expected pytest-benchmark's format with name and stats"
        ) from None


def _read_manifest_environment(path: Path) -> Mapping[str, Any] | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("environment")
    except (OSError, ValueError, AttributeError) as exc:
        logger.warning("ignoring unreadable manifest %s: %s", path, exc)
        return None


# The comparison.


def compare_runs(
    baseline: BenchmarkRun,
    candidate: BenchmarkRun,
    thresholds: Thresholds = Thresholds(),
    *,
    strict: bool = False,
) -> Comparison:
    """Compare every benchmark present in both runs, metric by metric."""
    common = [name for name in candidate.benchmarks if name in baseline.benchmarks]
    metrics: list[MetricComparison] = []
    warnings: list[str] = []
    for name in common:
        before, after = baseline.benchmarks[name], candidate.benchmarks[name]
        metrics.append(compare_times(before, after, thresholds))
        if before.peak_memory_bytes is not None and after.peak_memory_bytes is not None:
            metrics.append(
                _compare_once(name, METRIC_MEMORY, before.peak_memory_bytes, after.peak_memory_bytes, thresholds.memory)
            )
        for key in QUALITY_KEYS:
            if key in before.quality and key in after.quality:
                metrics.append(_compare_once(name, key, before.quality[key], after.quality[key], thresholds.quality))
    for metric in metrics:
        if metric.test.startswith("z-test on means"):
            warnings.append(f"{metric.benchmark}: no per-round times in one run, so time used a z-test on the means")
    differences = machine_differences(baseline, candidate)
    if differences:
        warnings.append("the runs come from different machines: " + "; ".join(differences))
    comparison = Comparison(
        baseline_source=str(baseline.source),
        candidate_source=str(candidate.source),
        thresholds=thresholds,
        strict=strict,
        metrics=tuple(metrics),
        machine_differences=tuple(differences),
        only_in_baseline=tuple(sorted(set(baseline.benchmarks) - set(candidate.benchmarks))),
        only_in_candidate=tuple(sorted(set(candidate.benchmarks) - set(baseline.benchmarks))),
        method=(describe_time_method(thresholds), METHOD_ONCE),
        warnings=tuple(warnings),
    )
    for warning in warnings:
        logger.warning("%s", warning)
    return comparison


def describe_time_method(thresholds: Thresholds) -> str:
    """Return the one-line account of the time test that comparisons print."""
    if thresholds.time_statistic == "min":
        reason = (
            "the minimum because interference from other processes only adds time, so the "
            "fastest round varies least between runs"
        )
    else:
        reason = "the median because it ignores outlier rounds"
    return (
        f"time: ratio of the per-round times' {thresholds.time_statistic}s above 1 + threshold AND a "
        f"one-sided Mann-Whitney U test (candidate slower) significant at alpha {thresholds.alpha}; a rank "
        f"test because per-round times are skewed with outliers, not normal; {reason}"
    )


def compare_times(before: BenchmarkRecord, after: BenchmarkRecord, thresholds: Thresholds) -> MetricComparison:
    """Compare per-round times: the ratio of their minimums or medians and a one-sided Mann-Whitney U test."""
    if len(before.times_s) >= 2 and len(after.times_s) >= 2:
        location = min if thresholds.time_statistic == "min" else statistics.median
        baseline_value = location(before.times_s)
        candidate_value = location(after.times_s)
        p_value = mann_whitney_greater(after.times_s, before.times_s)
        test = "one-sided Mann-Whitney U"
    else:
        baseline_value, candidate_value = before.mean_s, after.mean_s
        p_value = _z_test_greater(after, before)
        test = "z-test on means (no per-round data)"
    change = _relative_change(baseline_value, candidate_value)
    above = change > thresholds.time
    significant = p_value < thresholds.alpha
    regression = above and significant
    if regression:
        detail = f"slower by {change:.1%} (> {thresholds.time:.0%}) and significant (p={p_value:.3g} < {thresholds.alpha})"
    elif above:
        detail = f"slower by {change:.1%} but not significant (p={p_value:.3g} >= {thresholds.alpha}): within noise"
    elif significant and change > 0:
        detail = f"significantly slower (p={p_value:.3g}) but by {change:.1%}, within the {thresholds.time:.0%} threshold"
    else:
        detail = f"change {change:+.1%}, p={p_value:.3g}"
    return MetricComparison(
        benchmark=before.name,
        metric=METRIC_TIME,
        baseline=baseline_value,
        candidate=candidate_value,
        change=change,
        threshold=thresholds.time,
        p_value=p_value,
        test=f"{test}, {len(before.times_s) or before.rounds} vs {len(after.times_s) or after.rounds} rounds",
        regression=regression,
        detail=detail,
    )


def _compare_once(name: str, metric: str, before: float, after: float, threshold: float) -> MetricComparison:
    change = _relative_change(before, after)
    regression = change > threshold
    detail = (
        f"increased by {change:.1%} (> {threshold:.0%})" if regression else f"change {change:+.1%} (threshold {threshold:.0%})"
    )
    return MetricComparison(
        benchmark=name,
        metric=metric,
        baseline=float(before),
        candidate=float(after),
        change=change,
        threshold=threshold,
        p_value=None,
        test="relative change of a value measured once per run",
        regression=regression,
        detail=detail,
    )


def _relative_change(before: float, after: float) -> float:
    if before == 0:
        return 0.0 if after == 0 else math.inf
    return after / before - 1.0


def _z_test_greater(after: BenchmarkRecord, before: BenchmarkRecord) -> float:
    """One-sided p-value that ``after`` has the larger mean, from summary statistics only."""
    variance = 0.0
    for record in (after, before):
        if record.rounds > 0:
            variance += record.stddev_s**2 / record.rounds
    difference = after.mean_s - before.mean_s
    if variance == 0:
        return 0.0 if difference > 0 else 1.0
    return _normal_sf(difference / math.sqrt(variance))


# Mann-Whitney U.


def mann_whitney_greater(sample: Sequence[float], reference: Sequence[float]) -> float:
    """Return the one-sided p-value of the Mann-Whitney U test that ``sample`` tends to be larger.

    U counts the pairs (x from ``sample``, y from ``reference``) with x > y, ties counting
    one half. Without ties and with at most EXACT_U_MAX_PAIRS pairs the p-value is
    exact, P(U >= u) under the null. Otherwise it comes from the normal approximation
    with tie correction and continuity correction.
    """
    n1, n2 = len(sample), len(reference)
    if n1 == 0 or n2 == 0:
        raise ValueError(f"Mann-Whitney U needs two non-empty samples, got sizes {n1} and {n2}")
    combined = [(value, 0) for value in sample] + [(value, 1) for value in reference]
    ranks = _average_ranks([value for value, _ in combined])
    rank_sum = sum(rank for rank, (_, group) in zip(ranks, combined) if group == 0)
    u_statistic = rank_sum - n1 * (n1 + 1) / 2
    has_ties = len(set(ranks)) < len(ranks)
    if not has_ties and n1 * n2 <= EXACT_U_MAX_PAIRS:
        counts = _u_distribution(n1, n2)
        total = math.comb(n1 + n2, n1)
        at_least = sum(counts[int(round(u_statistic)) :])
        return at_least / total
    return _u_normal_greater(u_statistic, n1, n2, ranks)


def _average_ranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda index: values[index])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        stop = start
        while stop + 1 < len(order) and values[order[stop + 1]] == values[order[start]]:
            stop += 1
        average = (start + stop) / 2 + 1
        for position in range(start, stop + 1):
            ranks[order[position]] = average
        start = stop + 1
    return ranks


@lru_cache(maxsize=64)
def _u_distribution(n1: int, n2: int) -> tuple[int, ...]:
    """Return the number of orderings giving each U = 0 .. n1*n2 (no ties)."""
    # Row i contains the counts for sizes (i, j), j = 0 .. n2. With either size zero, U is 0.
    previous = [[1] for _ in range(n2 + 1)]
    for i in range(1, n1 + 1):
        current = [[1]]
        for j in range(1, n2 + 1):
            size = i * j + 1
            row = [0] * size
            # The largest value comes from sample 1 (adds j to U) or from sample 2 (adds 0).
            for u, count in enumerate(previous[j]):
                row[u + j] += count
            for u, count in enumerate(current[j - 1]):
                row[u] += count
            current.append(row)
        previous = current
    return tuple(previous[n2])


def _u_normal_greater(u_statistic: float, n1: int, n2: int, ranks: Sequence[float]) -> float:
    n = n1 + n2
    tie_counts = [ranks.count(rank) for rank in set(ranks)]
    tie_term = sum(t**3 - t for t in tie_counts) / (n * (n - 1)) if n > 1 else 0.0
    variance = n1 * n2 / 12 * ((n + 1) - tie_term)
    if variance <= 0:
        return 1.0
    z = (u_statistic - n1 * n2 / 2 - 0.5) / math.sqrt(variance)
    return _normal_sf(z)


def _normal_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2))


# Machines.

_MACHINE_INFO_FIELDS = (
    ("CPU model", ("cpu", "brand_raw")),
    ("CPU count", ("cpu", "count")),
    ("architecture", ("machine",)),
    ("system", ("system",)),
    ("Python", ("python_version",)),
    ("Python implementation", ("python_implementation",)),
)
_ENVIRONMENT_FIELDS = (
    ("CPU model", ("cpu", "model")),
    ("usable cores", ("cpu", "usable_cores")),
    ("logical cores", ("cpu", "logical_cores")),
)


def machine_differences(baseline: BenchmarkRun, candidate: BenchmarkRun) -> list[str]:
    """List how the machines and environments of two runs differ; empty when they match.

    Reads pytest-benchmark's ``machine_info`` and, when both runs have one, the manifest's
    CPU, thread settings and package versions.
    """
    differences: dict[str, str] = {}
    _note_difference(differences, "timer", _timers(baseline), _timers(candidate))
    for label, keys in _MACHINE_INFO_FIELDS:
        _note_difference(differences, label, _dig(baseline.machine_info, keys), _dig(candidate.machine_info, keys))
    if baseline.environment is not None and candidate.environment is not None:
        for label, keys in _ENVIRONMENT_FIELDS:
            _note_difference(differences, label, _dig(baseline.environment, keys), _dig(candidate.environment, keys))
        for group, prefix in (("threads", "thread setting "), ("packages", "")):
            before = baseline.environment.get(group) or {}
            after = candidate.environment.get(group) or {}
            for key in sorted(set(before) | set(after)):
                _note_difference(differences, f"{prefix}{key}", before.get(key), after.get(key))
    return [f"{label}: {value}" for label, value in differences.items()]


def _timers(run: BenchmarkRun) -> str | None:
    timers = sorted({record.timer for record in run.benchmarks.values() if record.timer})
    return ", ".join(timers) or None


def _dig(document: Mapping[str, Any], keys: Sequence[str]) -> Any:
    value: Any = document
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _note_difference(differences: dict[str, str], label: str, before: Any, after: Any) -> None:
    if before is None and after is None:
        return
    if before != after and label not in differences:
        differences[label] = f"{before!r} (baseline) vs {after!r} (candidate)"


# Output.


def render_comparison_markdown(comparison: Comparison) -> str:
    """Render the comparison as markdown: verdict, method, warnings and one row per metric."""
    thresholds = comparison.thresholds
    lines = [
        "# Benchmark comparison",
        "",
        f"**{comparison.verdict()}**",
        "",
        f"- baseline: `{comparison.baseline_source}`",
        f"- candidate: `{comparison.candidate_source}`",
        f"- thresholds: time {thresholds.time:.0%} on the per-round {thresholds.time_statistic} "
        f"(alpha {thresholds.alpha}), peak memory "
        f"{thresholds.memory:.0%}, reconstruction errors {thresholds.quality:.0%}",
        f"- machines: {'same' if comparison.same_machine else 'DIFFERENT'}"
        f"{' (strict: regressions fail)' if comparison.strict else ''}",
        "",
        "Method:",
        "",
    ]
    lines += [f"- {method}" for method in comparison.method]
    if comparison.warnings:
        lines += ["", "Warnings:", ""]
        lines += [f"- {warning}" for warning in comparison.warnings]
    lines += [
        "",
        "| benchmark | metric | baseline | candidate | change | p-value | result |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for metric in comparison.metrics:
        p_value = "" if metric.p_value is None else f"{metric.p_value:.3g}"
        result = "REGRESSION" if metric.regression else "ok"
        lines.append(
            f"| {metric.benchmark} | {metric.metric} | {_format_value(metric.metric, metric.baseline)} "
            f"| {_format_value(metric.metric, metric.candidate)} | {metric.change:+.1%} | {p_value} "
            f"| {result}: {metric.detail} |"
        )
    if comparison.only_in_baseline:
        lines += ["", "Only in the baseline: " + ", ".join(comparison.only_in_baseline)]
    if comparison.only_in_candidate:
        lines += ["", "Only in the candidate: " + ", ".join(comparison.only_in_candidate)]
    return "\n".join(lines) + "\n"


def _format_value(metric: str, value: float) -> str:
    if metric == METRIC_TIME:
        return f"{value * 1e3:.3f} ms"
    if metric == METRIC_MEMORY:
        return f"{value / 2**20:.2f} MiB"
    return f"{value:.4g}"


def write_comparison(folder: RunFolder, comparison: Comparison) -> tuple[Path, Path]:
    """Write comparison.json and comparison.md into ``folder``; return their paths."""
    json_path = folder.write_json(COMPARISON_JSON_NAME, comparison.to_dict())
    md_path = folder.write_text(COMPARISON_MD_NAME, render_comparison_markdown(comparison))
    return json_path, md_path
