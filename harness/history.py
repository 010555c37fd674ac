"""Benchmark history across run folders: per-benchmark trends and step changes.

A step change is the run at which a figure moved and stayed moved. The series of per-run
values is scanned oldest first, and run k starts a new level when three conditions hold:

1. The median of the ``MIN_RUNS_AFTER`` runs from k on differs from the median of the
   current level (the runs since the last step) by more than the metric's threshold.
2. Every run of the current level lies on one side of the midpoint of the two medians,
   and each of those next runs lies on the other.
3. The shift exceeds the noise: three robust standard deviations (1.4826 x the median
   absolute deviation) of those runs around their medians.

A single outlier run or a change at the newest run is therefore no step yet.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.compare import (
    DEFAULT_MEMORY_THRESHOLD,
    DEFAULT_QUALITY_THRESHOLD,
    DEFAULT_TIME_THRESHOLD,
    METRIC_MEMORY,
    METRIC_TIME,
    QUALITY_KEYS,
    BenchmarkRecord,
    CompareInputError,
    load_benchmark_run,
)
from harness.runfolder import RunFolder, list_run_folders

logger = logging.getLogger(__name__)

BENCHMARK_FILE_NAME = "benchmark.json"
HISTORY_JSON_NAME = "history.json"
HISTORY_MD_NAME = "history.md"
HISTORY_PNG_NAME = "history.png"
MIN_RUNS_AFTER = 2
NOISE_SIGMAS = 3.0
MAD_TO_SIGMA = 1.4826
METRICS = (METRIC_TIME, METRIC_MEMORY, *QUALITY_KEYS)


@dataclass(frozen=True)
class HistoryPoint:
    """One metric of one benchmark in one run."""

    run_id: str
    value: float


@dataclass(frozen=True)
class StepChange:
    """A run at which a metric moved by ``change`` (relative) and stayed moved."""

    benchmark: str
    metric: str
    run_id: str
    index: int
    before_median: float
    after_median: float
    change: float
    noise: float
    threshold: float


@dataclass(frozen=True)
class History:
    """Every benchmark's metric series over the run folders, oldest first, and their steps."""

    reports_root: Path
    run_ids: tuple[str, ...]
    series: Mapping[tuple[str, str], tuple[HistoryPoint, ...]]
    steps: tuple[StepChange, ...]
    skipped: tuple[str, ...]

    @property
    def benchmarks(self) -> list[str]:
        return sorted({benchmark for benchmark, _ in self.series})


def collect_history(reports_root: Path, thresholds: Mapping[str, float] | None = None) -> History:
    """Read every run folder's benchmark.json under ``reports_root`` and find step changes.

    ``thresholds`` maps ``time``, ``peak_memory`` and the quality keys to relative
    thresholds (defaults: those of the comparison). Unreadable files are skipped and listed.
    """
    limits = default_thresholds() | dict(thresholds or {})
    series: dict[tuple[str, str], list[HistoryPoint]] = {}
    run_ids: list[str] = []
    skipped: list[str] = []
    for folder in list_run_folders(reports_root):
        path = folder.path / BENCHMARK_FILE_NAME
        if not path.is_file():
            continue
        try:
            run = load_benchmark_run(path)
        except CompareInputError as exc:
            logger.warning("skipping %s: %s", path, exc)
            skipped.append(f"{path}: {exc}")
            continue
        run_ids.append(folder.run_id)
        for name, record in run.benchmarks.items():
            for metric, value in _metric_values(record).items():
                series.setdefault((name, metric), []).append(HistoryPoint(folder.run_id, value))
    steps: list[StepChange] = []
    for (name, metric), points in sorted(series.items()):
        values = [point.value for point in points]
        for index, before, after, noise in find_step_changes(values, limits[metric]):
            steps.append(
                StepChange(
                    benchmark=name,
                    metric=metric,
                    run_id=points[index].run_id,
                    index=index,
                    before_median=before,
                    after_median=after,
                    change=_relative(before, after),
                    noise=noise,
                    threshold=limits[metric],
                )
            )
    return History(
        reports_root=Path(reports_root),
        run_ids=tuple(run_ids),
        series={key: tuple(points) for key, points in series.items()},
        steps=tuple(steps),
        skipped=tuple(skipped),
    )


def default_thresholds() -> dict[str, float]:
    """Return the default relative threshold of every metric."""
    return {
        METRIC_TIME: DEFAULT_TIME_THRESHOLD,
        METRIC_MEMORY: DEFAULT_MEMORY_THRESHOLD,
        **{key: DEFAULT_QUALITY_THRESHOLD for key in QUALITY_KEYS},
    }


def _metric_values(record: BenchmarkRecord) -> dict[str, float]:
    values = {METRIC_TIME: statistics.median(record.times_s) if record.times_s else record.median_s}
    if record.peak_memory_bytes is not None:
        values[METRIC_MEMORY] = float(record.peak_memory_bytes)
    values.update(record.quality)
    return values


def find_step_changes(values: Sequence[float], threshold: float) -> list[tuple[int, float, float, float]]:
    """Return (index, median before, median after, noise) for each step in ``values``, in order.

    ``noise`` is relative, like the threshold. See the module docstring for the rule.
    """
    values = list(values)
    indices: list[int] = []
    noises: list[float] = []
    segment_start = 0
    for index in range(1, len(values) - MIN_RUNS_AFTER + 1):
        noise = _step_noise(values[segment_start:index], values[index : index + MIN_RUNS_AFTER], threshold)
        if noise is not None:
            indices.append(index)
            noises.append(noise)
            segment_start = index
    bounds = [0, *indices, len(values)]
    steps = []
    for number, index in enumerate(indices):
        before = statistics.median(values[bounds[number] : index])
        after = statistics.median(values[index : bounds[number + 2]])
        steps.append((index, before, after, noises[number]))
    return steps


def _step_noise(before: Sequence[float], after: Sequence[float], threshold: float) -> float | None:
    """Return the noise if ``after`` moved away from ``before`` and stayed; None otherwise.

    ``before`` is the current level's runs; ``after`` the MIN_RUNS_AFTER runs from the
    candidate step on.
    """
    before_median = statistics.median(before)
    after_median = statistics.median(after)
    change = _relative(before_median, after_median)
    if abs(change) <= threshold:
        return None
    midpoint = (before_median + after_median) / 2
    rising = after_median > before_median
    separated = all((value < midpoint) == rising for value in before) and all(
        (value > midpoint) == rising for value in after
    )
    if not separated:
        return None
    residuals = [_relative(before_median, value) for value in before]
    residuals += [_relative(after_median, value) for value in after]
    noise = NOISE_SIGMAS * MAD_TO_SIGMA * statistics.median(abs(value) for value in residuals)
    if abs(change) <= noise:
        return None
    return noise


def _relative(before: float, after: float) -> float:
    if before == 0:
        return 0.0 if after == 0 else float("inf")
    return after / before - 1.0


# Output.


def history_to_dict(history: History) -> dict[str, Any]:
    """Return the history as a JSON-ready document."""
    return {
        "reports_root": str(history.reports_root),
        "run_ids": list(history.run_ids),
        "series": [
            {"benchmark": name, "metric": metric, "points": [vars(point) for point in points]}
            for (name, metric), points in sorted(history.series.items())
        ],
        "steps": [vars(step) for step in history.steps],
        "skipped": list(history.skipped),
    }


def render_history_markdown(history: History) -> str:
    """Render one trend table per benchmark and the list of step changes."""
    lines = [
        "# Benchmark history",
        "",
        f"{len(history.run_ids)} run(s) with benchmark.json under `{history.reports_root}`.",
        "",
        "A step change is a run at which a figure moved by more than its threshold and the "
        "noise between runs, and stayed moved for at least "
        f"{MIN_RUNS_AFTER} runs.",
        "",
        "## Step changes",
        "",
    ]
    if history.steps:
        lines += ["| benchmark | metric | at run | before | after | change | noise | threshold |"]
        lines += ["| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for step in history.steps:
            lines.append(
                f"| {step.benchmark} | {step.metric} | {step.run_id} | {format_value(step.metric, step.before_median)} "
                f"| {format_value(step.metric, step.after_median)} | {step.change:+.1%} | {step.noise:.1%} "
                f"| {step.threshold:.0%} |"
            )
    else:
        lines.append("None found.")
    step_runs = {(step.benchmark, step.metric, step.run_id) for step in history.steps}
    for name in history.benchmarks:
        metrics = [metric for metric in METRICS if (name, metric) in history.series]
        lines += ["", f"## {name}", "", "| run | " + " | ".join(metrics) + " |"]
        lines.append("| --- |" + " --- |" * len(metrics))
        by_metric = {metric: {p.run_id: p.value for p in history.series[(name, metric)]} for metric in metrics}
        previous: dict[str, float] = {}
        for run_id in history.run_ids:
            cells = []
            for metric in metrics:
                value = by_metric[metric].get(run_id)
                if value is None:
                    cells.append("")
                    continue
                cell = format_value(metric, value)
                if metric in previous:
                    cell += f" ({_relative(previous[metric], value):+.1%})"
                if (name, metric, run_id) in step_runs:
                    cell += " **step**"
                previous[metric] = value
                cells.append(cell)
            if any(cells):
                lines.append(f"| {run_id} | " + " | ".join(cells) + " |")
    if history.skipped:
        lines += ["", "Skipped unreadable files:", ""] + [f"- {item}" for item in history.skipped]
    lines += ["", f"![history]({HISTORY_PNG_NAME})"]
    return "\n".join(lines) + "\n"


def format_value(metric: str, value: float) -> str:
    """Format a metric value with its unit: milliseconds, MiB, or a plain number."""
    if metric == METRIC_TIME:
        return f"{value * 1e3:.3f} ms"
    if metric == METRIC_MEMORY:
        return f"{value / 2**20:.2f} MiB"
    return f"{value:.4g}"


def plot_history(history: History, path: Path) -> Path:
    """Draw each benchmark's metrics over the runs, with step changes as dashed lines, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    names = history.benchmarks
    metrics = [metric for metric in METRICS if any((name, metric) in history.series for name in names)]
    rows, cols = max(len(names), 1), max(len(metrics), 1)
    figure = Figure(figsize=(4.2 * cols, 2.6 * rows), dpi=90, layout="constrained")
    axes_grid = figure.subplots(rows, cols, squeeze=False)
    positions = {run_id: index for index, run_id in enumerate(history.run_ids)}
    scale = {METRIC_TIME: (1e3, "median time (ms)"), METRIC_MEMORY: (1 / 2**20, "peak memory (MiB)")}
    for row, name in enumerate(names):
        for col, metric in enumerate(metrics):
            axes = axes_grid[row][col]
            points = history.series.get((name, metric))
            if not points:
                axes.set_axis_off()
                continue
            factor, label = scale.get(metric, (1.0, metric))
            axes.plot([positions[p.run_id] for p in points], [p.value * factor for p in points], marker="o")
            for step in history.steps:
                if step.benchmark == name and step.metric == metric:
                    axes.axvline(positions[step.run_id] - 0.5, color="tab:red", linestyle="--")
            axes.set_title(f"{name.split('::')[-1]}: {metric}", fontsize=9)
            axes.set_ylabel(label, fontsize=8)
            axes.set_xlabel("run (oldest first)", fontsize=8)
    path = Path(path)
    figure.savefig(path, format="png")
    logger.info("wrote %s", path)
    return path


def write_history(folder: RunFolder, history: History) -> list[Path]:
    """Write history.json, history.md and history.png into ``folder``; return their paths."""
    import tempfile

    written = [
        folder.write_json(HISTORY_JSON_NAME, history_to_dict(history)),
        folder.write_text(HISTORY_MD_NAME, render_history_markdown(history)),
    ]
    with tempfile.TemporaryDirectory(dir=folder.path, prefix=".history-") as temp:
        picture = plot_history(history, Path(temp) / HISTORY_PNG_NAME)
        written.append(folder.write_bytes(HISTORY_PNG_NAME, picture.read_bytes()))
    return written
