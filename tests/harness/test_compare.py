"""Benchmark comparison on synthetic pytest-benchmark JSON with known changes."""

from __future__ import annotations

import json
import math
import random
import statistics
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.compare import (
    CompareInputError,
    Thresholds,
    compare_runs,
    load_benchmark_run,
    mann_whitney_greater,
    render_comparison_markdown,
    resolve_baseline,
    write_comparison,
)
from harness.runfolder import create_run_folder

NAME = "bench_x.py::bench_x"
MACHINE = {
    "cpu": {"brand_raw": "Example CPU 3000", "count": 2},
    "machine": "x86_64",
    "system": "Linux",
    "python_version": "3.11.7",
    "python_implementation": "CPython",
}


def timings(median_s: float, rounds: int, seed: int, spread: float = 0.02) -> list[float]:
    """Per-round times above ``median_s`` with relative one-sided noise ``spread`` and a slow outlier.

    Interference only ever adds time, so the noise is the absolute value of a Gaussian.
    """
    rng = random.Random(seed)
    times = [median_s * (1 + abs(rng.gauss(0, spread))) for _ in range(rounds)]
    times[0] = median_s * 1.8
    return times


def benchmark_document(
    times: list[float] | None,
    *,
    machine: dict | None = None,
    extra: dict | None = None,
    mean_s: float | None = None,
    stddev_s: float = 0.0,
    name: str = NAME,
) -> dict:
    stats = {
        "mean": mean_s if mean_s is not None else statistics.fmean(times),
        "stddev": stddev_s if times is None else statistics.stdev(times),
        "median": statistics.median(times) if times else mean_s,
        "rounds": len(times) if times else 5,
    }
    if times is not None:
        stats["data"] = times
    return {
        "machine_info": machine if machine is not None else MACHINE,
        "benchmarks": [
            {
                "name": name.split("::")[-1],
                "fullname": name,
                "stats": stats,
                "options": {"timer": "process_time"},
                "extra_info": extra or {},
            }
        ],
    }


def write_document(folder: Path, document: dict, name: str = "benchmark.json") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(document))
    return path


def compare_documents(tmp_path: Path, before: dict, after: dict, **options):
    baseline = load_benchmark_run(write_document(tmp_path / "before", before))
    candidate = load_benchmark_run(write_document(tmp_path / "after", after))
    return compare_runs(baseline, candidate, **options)


def time_metric(comparison):
    [metric] = [metric for metric in comparison.metrics if metric.metric == "time"]
    return metric


def test_compare_flags_known_slowdown(tmp_path):
    comparison = compare_documents(
        tmp_path, benchmark_document(timings(0.010, 20, 1)), benchmark_document(timings(0.0115, 20, 2))
    )
    metric = time_metric(comparison)
    assert metric.regression
    assert metric.change == pytest.approx(0.15, abs=0.03)
    assert metric.p_value < 1e-4
    assert comparison.failed
    assert "REGRESSION" in comparison.verdict()


def test_compare_passes_identical_distribution(tmp_path):
    comparison = compare_documents(
        tmp_path, benchmark_document(timings(0.010, 20, 1)), benchmark_document(timings(0.010, 20, 3))
    )
    assert not time_metric(comparison).regression
    assert not comparison.failed
    assert comparison.verdict().startswith("no regression")


def test_compare_large_change_with_noise_is_not_significant(tmp_path):
    before = [0.010, 0.030, 0.011, 0.029, 0.012]
    after = [0.031, 0.012, 0.030, 0.010, 0.033]
    comparison = compare_documents(
        tmp_path, benchmark_document(before), benchmark_document(after), thresholds=Thresholds(time_statistic="median")
    )
    metric = time_metric(comparison)
    assert metric.change > 0.10
    assert metric.p_value >= 0.05
    assert not metric.regression
    assert "not significant" in metric.detail


def test_compare_small_significant_change_is_within_threshold(tmp_path):
    comparison = compare_documents(
        tmp_path,
        benchmark_document(timings(0.010, 30, 1, spread=0.002)),
        benchmark_document(timings(0.0105, 30, 2, spread=0.002)),
    )
    metric = time_metric(comparison)
    assert metric.p_value < 0.05
    assert not metric.regression
    assert "within the 10% threshold" in metric.detail


def test_compare_interference_slows_median_not_minimum(tmp_path):
    before = [0.010, 0.0101, 0.0102, 0.0100, 0.0101, 0.0102, 0.0100, 0.0101]
    after = [0.010, 0.0120, 0.0125, 0.0100, 0.0122, 0.0124, 0.0121, 0.0123]
    by_minimum = time_metric(compare_documents(tmp_path / "min", benchmark_document(before), benchmark_document(after)))
    by_median = time_metric(
        compare_documents(
            tmp_path / "median",
            benchmark_document(before),
            benchmark_document(after),
            thresholds=Thresholds(time_statistic="median"),
        )
    )
    assert by_minimum.change == pytest.approx(0.0)
    assert not by_minimum.regression
    assert by_median.change > 0.15
    assert by_median.regression


def test_compare_threshold_option_changes_verdict(tmp_path):
    before, after = benchmark_document(timings(0.010, 20, 1)), benchmark_document(timings(0.0115, 20, 2))
    comparison = compare_documents(tmp_path, before, after, thresholds=Thresholds(time=0.20))
    assert not time_metric(comparison).regression


def test_compare_different_machine_warns_without_failing(tmp_path):
    other = {**MACHINE, "cpu": {"brand_raw": "Other CPU 9", "count": 16}}
    before = benchmark_document(timings(0.010, 20, 1))
    after = benchmark_document(timings(0.0115, 20, 2), machine=other)
    comparison = compare_documents(tmp_path, before, after)
    assert comparison.regressions
    assert not comparison.same_machine
    assert not comparison.failed
    assert any("CPU model: 'Example CPU 3000' (baseline) vs 'Other CPU 9'" in d for d in comparison.machine_differences)
    assert any("different machines" in warning for warning in comparison.warnings)
    assert "pass --strict" in comparison.verdict()


def test_compare_different_machine_strict_fails(tmp_path):
    other = {**MACHINE, "python_version": "3.12.1"}
    comparison = compare_documents(
        tmp_path,
        benchmark_document(timings(0.010, 20, 1)),
        benchmark_document(timings(0.0115, 20, 2), machine=other),
        strict=True,
    )
    assert comparison.failed


def test_compare_manifest_thread_settings_count_as_machine(tmp_path):
    before_folder, after_folder = tmp_path / "before", tmp_path / "after"
    for folder, threads in ((before_folder, "1"), (after_folder, "4")):
        write_document(folder, benchmark_document(timings(0.010, 10, 1)))
        environment = {"threads": {"OMP_NUM_THREADS": threads}, "packages": {"torch": "2.13.0"}, "cpu": {}}
        (folder / "manifest.json").write_text(json.dumps({"environment": environment}))
    comparison = compare_runs(
        load_benchmark_run(before_folder / "benchmark.json"), load_benchmark_run(after_folder / "benchmark.json")
    )
    assert comparison.machine_differences == ("thread setting OMP_NUM_THREADS: '1' (baseline) vs '4' (candidate)",)


def test_compare_memory_increase_is_regression(tmp_path):
    times = timings(0.010, 10, 1)
    comparison = compare_documents(
        tmp_path,
        benchmark_document(times, extra={"peak_memory_bytes": 1_000_000}),
        benchmark_document(times, extra={"peak_memory_bytes": 1_250_000}),
    )
    [memory] = [metric for metric in comparison.metrics if metric.metric == "peak_memory"]
    assert memory.regression
    assert memory.change == pytest.approx(0.25)
    assert memory.p_value is None
    relaxed = compare_documents(
        tmp_path / "relaxed",
        benchmark_document(times, extra={"peak_memory_bytes": 1_000_000}),
        benchmark_document(times, extra={"peak_memory_bytes": 1_250_000}),
        thresholds=Thresholds(memory=0.30),
    )
    assert not relaxed.regressions


def test_compare_quality_errors_gated_by_own_threshold(tmp_path):
    times = timings(0.010, 10, 1)
    before = {"amplitude_error": 0.100, "phase_error_rad": 0.200}
    after = {"amplitude_error": 0.104, "phase_error_rad": 0.300}
    comparison = compare_documents(
        tmp_path, benchmark_document(times, extra=before), benchmark_document(times, extra=after)
    )
    by_metric = {metric.metric: metric for metric in comparison.metrics}
    assert not by_metric["amplitude_error"].regression
    assert by_metric["phase_error_rad"].regression
    assert by_metric["phase_error_rad"].change == pytest.approx(0.5)


def test_compare_without_round_data_uses_summary(tmp_path):
    before = benchmark_document(None, mean_s=0.010, stddev_s=0.0005)
    after = benchmark_document(None, mean_s=0.013, stddev_s=0.0005)
    comparison = compare_documents(tmp_path, before, after)
    metric = time_metric(comparison)
    assert metric.regression
    assert metric.test.startswith("z-test on means")
    assert any("no per-round times" in warning for warning in comparison.warnings)


def test_compare_lists_benchmarks_in_one_run_only(tmp_path):
    before = benchmark_document(timings(0.010, 10, 1), name="bench_a.py::bench_a")
    after = benchmark_document(timings(0.010, 10, 1), name="bench_b.py::bench_b")
    comparison = compare_documents(tmp_path, before, after)
    assert comparison.metrics == ()
    assert comparison.only_in_baseline == ("bench_a.py::bench_a",)
    assert comparison.only_in_candidate == ("bench_b.py::bench_b",)


def test_write_comparison_json_and_markdown(tmp_path):
    comparison = compare_documents(
        tmp_path, benchmark_document(timings(0.010, 20, 1)), benchmark_document(timings(0.0115, 20, 2))
    )
    folder = create_run_folder(tmp_path / "reports")
    json_path, md_path = write_comparison(folder, comparison)
    document = json.loads(json_path.read_text())
    assert document["failed"] is True
    assert document["regressions"][0]["benchmark"] == NAME
    markdown = md_path.read_text()
    assert "Mann-Whitney U" in markdown
    assert f"| {NAME} | time |" in markdown
    assert markdown == render_comparison_markdown(comparison)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not JSON"),
        ('{"benchmarks": 3}', "expected pytest-benchmark's JSON"),
        ('{"benchmarks": [{"name": "x"}]}', "benchmark #0 lacks"),
    ],
)
def test_load_benchmark_run_rejects_invalid(tmp_path, content, message):
    path = tmp_path / "benchmark.json"
    path.write_text(content)
    with pytest.raises(CompareInputError, match=message):
        load_benchmark_run(path)


def test_resolve_baseline_forms(tmp_path):
    reports = tmp_path / "reports"
    older = reports / "2026-03-14T150926Z"
    newer = reports / "2026-03-14T151000Z"
    write_document(older, benchmark_document(timings(0.01, 5, 1)))
    newer.mkdir()
    assert resolve_baseline("latest", reports) == older / "benchmark.json"
    assert resolve_baseline(str(older), reports) == older / "benchmark.json"
    assert resolve_baseline(older / "benchmark.json", reports) == older / "benchmark.json"
    write_document(newer, benchmark_document(timings(0.01, 5, 1)))
    assert resolve_baseline("latest", reports, exclude=newer) == older / "benchmark.json"


@pytest.mark.parametrize(
    ("reference", "message"),
    [("latest", "no run folder under .* has a benchmark.json"), ("absent", "baseline 'absent' not found")],
)
def test_resolve_baseline_rejects_missing(tmp_path, reference, message):
    with pytest.raises(CompareInputError, match=message):
        resolve_baseline(reference, tmp_path)


def test_resolve_baseline_folder_without_json(tmp_path):
    with pytest.raises(CompareInputError, match="has no benchmark.json"):
        resolve_baseline(str(tmp_path), tmp_path)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("time", -0.1, "invalid time threshold"),
        ("memory", math.nan, "invalid memory threshold"),
        ("alpha", 1.5, "invalid alpha"),
        ("time_statistic", "mode", "invalid time statistic 'mode'"),
    ],
)
def test_thresholds_reject_invalid(field, value, message):
    with pytest.raises(ValueError, match=message):
        Thresholds(**{field: value})


def test_mann_whitney_exact_small_samples():
    # All three of one sample above all three of the other: 1 of C(6, 3) = 20 orderings.
    assert mann_whitney_greater([3, 4, 5], [0, 1, 2]) == pytest.approx(1 / 20)
    assert mann_whitney_greater([0, 1, 2], [3, 4, 5]) == pytest.approx(1.0)


def test_mann_whitney_normal_approximation_agrees_with_exact():
    rng = random.Random(7)
    sample = [rng.gauss(0.3, 1) for _ in range(30)]
    reference = [rng.gauss(0, 1) for _ in range(30)]
    exact = mann_whitney_greater(sample, reference)
    approximate = mann_whitney_greater(sample + [0.5], reference + [0.5])  # a tie forces the approximation
    assert approximate == pytest.approx(exact, abs=0.03)


@given(
    st.lists(st.floats(0.001, 1.0), min_size=2, max_size=12),
    st.lists(st.floats(0.001, 1.0), min_size=2, max_size=12),
)
def test_mann_whitney_p_value_is_probability(sample, reference):
    p_value = mann_whitney_greater(sample, reference)
    assert 0.0 <= p_value <= 1.0


@given(st.lists(st.floats(0.001, 1.0), min_size=3, max_size=10, unique=True), st.floats(1.5, 3.0))
def test_mann_whitney_scaling_up_never_raises_p_value(reference, factor):
    same = mann_whitney_greater(reference, reference)
    slower = mann_whitney_greater([value * factor for value in reference], reference)
    assert slower <= same


PROBE = "bench_gate_probe.py::bench_gate_probe"


def bench_cli(cwd: Path, *args: str, env: dict | None = None):
    import os
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "harness", "bench", "-k", "probe", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def only_new_folder(reports: Path, before: set[Path]) -> Path:
    [folder] = [path for path in reports.iterdir() if path.is_dir() and path not in before]
    return folder


def test_bench_compare_flags_injected_slowdown(tmp_path):
    reports = tmp_path / "reports"
    first = bench_cli(tmp_path, "--reports", str(reports))
    assert first.returncode == 0, first.stdout + first.stderr
    existing = set(reports.iterdir())
    slowed = bench_cli(
        tmp_path, "--reports", str(reports), "--compare", "latest", env={"PTYCHO_HARNESS_BENCH_SLOWDOWN": "1.0"}
    )
    assert slowed.returncode == 1, slowed.stdout + slowed.stderr
    assert "REGRESSION" in slowed.stdout
    assert "Mann-Whitney U" in slowed.stdout
    folder = only_new_folder(reports, existing)
    document = json.loads((folder / "comparison.json").read_text())
    assert [m["metric"] for m in document["regressions"]] == ["time"]
    assert (folder / "comparison.md").is_file()
    assert json.loads((folder / "manifest.json").read_text())["status"] == "failed"


def test_bench_compare_other_machine_warns_then_strict_fails(tmp_path):
    other = {**MACHINE, "cpu": {"brand_raw": "Other CPU 9", "count": 64}}
    baseline = write_document(tmp_path / "old", benchmark_document([1e-6] * 10, machine=other, name=PROBE))
    warned = bench_cli(tmp_path, "--reports", "reports", "--compare", str(baseline))
    assert warned.returncode == 0, warned.stdout + warned.stderr
    assert "WARNING: the runs come from different machines" in warned.stdout
    assert "pass --strict" in warned.stdout
    strict = bench_cli(tmp_path, "--reports", "reports", "--compare", str(baseline), "--strict")
    assert strict.returncode == 1, strict.stdout + strict.stderr
    assert "FAILED: REGRESSION" in strict.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--compare", "absent.json"), "baseline 'absent.json' not found"),
        (("--threshold", "-1"), "invalid time threshold -1.0"),
        (("--suite", "."), "has no pytest.ini"),
    ],
)
def test_bench_bad_input_exits_two(tmp_path, args, message):
    result = bench_cli(tmp_path, "--reports", "reports", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "reports").exists()
