"""Benchmark runner: pytest-benchmark JSON in the run folder, log kept, nothing overwritten."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone
from importlib import resources

import pytest

from harness.bench import BENCH_LOG_FILE_NAME, BENCHMARK_FILE_NAME, describe_stats, run_benchmarks
from harness.runfolder import create_run_folder

FIXED_NOW = datetime(2026, 3, 14, 15, 9, 26, tzinfo=timezone.utc)

TINY_SUITE = """
    def bench_sum_small(benchmark):
        benchmark.pedantic(sum, args=(range(100),), rounds=3, iterations=1)

    def bench_sum_large(benchmark):
        benchmark.pedantic(sum, args=(range(10_000),), rounds=3, iterations=1)

    def test_not_a_benchmark():
        raise AssertionError("the suite's ini collects bench_* only")
"""


@pytest.fixture
def tiny_suite(tmp_path):
    suite = tmp_path / "suite"
    suite.mkdir()
    shipped_ini = resources.files("harness") / "suites" / "pytest.ini"
    (suite / "pytest.ini").write_text(shipped_ini.read_text())
    (suite / "bench_tiny.py").write_text(TINY_SUITE.replace("\n    ", "\n"))
    return suite


def test_run_benchmarks_writes_pytest_benchmark_json(tmp_path, tiny_suite):
    folder = create_run_folder(tmp_path / "reports", FIXED_NOW)
    result = run_benchmarks(folder, selection="small", suite_dir=tiny_suite)
    assert result.exit_code == 0, result.log_path.read_text()
    assert result.ok
    assert result.json_path == folder.path / BENCHMARK_FILE_NAME
    document = json.loads(result.json_path.read_text())
    assert {"benchmarks", "machine_info", "commit_info"} <= set(document)
    assert [bench["name"] for bench in document["benchmarks"]] == ["bench_sum_small"]
    [stat] = result.rows
    assert stat.name == "bench_tiny.py::bench_sum_small"
    assert stat.rounds == 3
    assert stat.mean_s > 0
    assert stat.stddev_s >= 0
    assert "bench_sum_small" in (folder.path / BENCH_LOG_FILE_NAME).read_text()
    assert sorted(p.name for p in folder.path.iterdir()) == [BENCH_LOG_FILE_NAME, BENCHMARK_FILE_NAME]


def test_run_benchmarks_refuses_second_run_in_folder(tmp_path, tiny_suite):
    folder = create_run_folder(tmp_path / "reports", FIXED_NOW)
    run_benchmarks(folder, selection="small", suite_dir=tiny_suite)
    before = (folder.path / BENCHMARK_FILE_NAME).read_bytes()
    with pytest.raises(FileExistsError, match="benchmark.json already exists"):
        run_benchmarks(folder, selection="small", suite_dir=tiny_suite)
    assert (folder.path / BENCHMARK_FILE_NAME).read_bytes() == before


def test_run_benchmarks_empty_selection_is_not_ok(tmp_path, tiny_suite):
    folder = create_run_folder(tmp_path / "reports", FIXED_NOW)
    result = run_benchmarks(folder, selection="no_such_benchmark", suite_dir=tiny_suite)
    assert result.exit_code == 5
    assert not result.rows
    assert (folder.path / BENCH_LOG_FILE_NAME).is_file()


def test_run_benchmarks_suite_without_ini_is_rejected(tmp_path):
    folder = create_run_folder(tmp_path / "reports", FIXED_NOW)
    with pytest.raises(FileNotFoundError, match="has no pytest.ini"):
        run_benchmarks(folder, suite_dir=tmp_path)


def test_describe_stats_lists_milliseconds(tmp_path, tiny_suite):
    folder = create_run_folder(tmp_path / "reports", FIXED_NOW)
    result = run_benchmarks(folder, suite_dir=tiny_suite)
    table = describe_stats(result.rows)
    assert "mean_ms" in table
    assert "bench_tiny.py::bench_sum_large" in table
    assert len(result.rows) == 2


def test_shipped_suite_file_names_avoid_test_prefix():
    suite = resources.files("harness") / "suites"
    names = [entry.name for entry in suite.iterdir() if entry.name.endswith(".py")]
    assert names
    assert not [name for name in names if name.startswith("test_") or name.endswith("_test.py")]


@pytest.mark.slow
def test_shipped_suite_stitch_benchmark_runs(tmp_path):
    adapter_module = pytest.importorskip("reference_impl.adapter")
    if adapter_module.ReferenceAdapter().default_checkpoint() is None:
        pytest.skip("the reference adapter ships no checkpoint yet")
    folder = create_run_folder(tmp_path / "reports", FIXED_NOW)
    result = run_benchmarks(folder, selection="stitch_many_patches")
    assert result.ok, result.log_path.read_text()
    assert [stat.name.split("::")[-1] for stat in result.rows] == ["bench_stitch_many_patches"]


@pytest.mark.slow
def test_bench_command_writes_run_folder(tmp_path):
    pytest.importorskip("contracts.validate")
    reports = tmp_path / "reports"
    result = subprocess.run(
        [sys.executable, "-m", "harness", "bench", "--reports", str(reports), "-k", "validate"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    [folder] = list(reports.iterdir())
    manifest = json.loads((folder / "manifest.json").read_text())
    assert result.returncode == 0, result.stdout + result.stderr
    assert manifest["status"] == "complete"
    assert manifest["command"] == ["ptycho-harness", "bench", "--reports", str(reports), "-k", "validate"]
    assert "benchmarks" in json.loads((folder / BENCHMARK_FILE_NAME).read_text())


def test_bench_command_runs_serially_without_xdist(tmp_path):
    from harness.bench import SERIAL_ARGS, _pytest_command

    command = _pytest_command(sys.executable, tmp_path, tmp_path / "b.json", None, ["-n", "4"])
    assert command[command.index("-p") : command.index("-p") + 2] == list(SERIAL_ARGS)
    assert SERIAL_ARGS == ("-p", "no:xdist")


def test_run_benchmarks_records_round_data_and_timer(tmp_path, tiny_suite):
    folder = create_run_folder(tmp_path / "reports", FIXED_NOW)
    result = run_benchmarks(folder, selection="small", suite_dir=tiny_suite, timer="wall")
    [bench] = json.loads(result.json_path.read_text())["benchmarks"]
    assert len(bench["stats"]["data"]) == 3
    assert bench["options"]["timer"] == "perf_counter"


def test_run_benchmarks_rejects_unknown_timer(tmp_path, tiny_suite):
    folder = create_run_folder(tmp_path / "reports", FIXED_NOW)
    with pytest.raises(ValueError, match="invalid timer 'sundial'"):
        run_benchmarks(folder, suite_dir=tiny_suite, timer="sundial")


def test_record_peak_memory_counts_numpy_allocation():
    import numpy as np

    from harness.bench import PEAK_MEMORY_KEY, record_peak_memory

    class FakeBenchmark:
        extra_info: dict = {}

    benchmark = FakeBenchmark()
    benchmark.extra_info = {}
    total = record_peak_memory(benchmark, lambda: float(np.ones(2_000_000).sum()))
    assert total == 2_000_000.0
    assert benchmark.extra_info[PEAK_MEMORY_KEY] >= 16_000_000
    assert "max_rss_delta_bytes" in benchmark.extra_info


def test_probe_benchmark_rejects_invalid_slowdown(tmp_path, monkeypatch):
    monkeypatch.setenv("PTYCHO_HARNESS_BENCH_SLOWDOWN", "fast")
    folder = create_run_folder(tmp_path / "reports", FIXED_NOW)
    result = run_benchmarks(folder, selection="gate_probe")
    assert result.exit_code != 0
    assert "PTYCHO_HARNESS_BENCH_SLOWDOWN='fast' is invalid" in result.log_path.read_text()
