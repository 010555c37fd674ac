"""Benchmark history: trends over run folders and step changes on synthetic runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from harness_helpers import benchmark_document, run_subcommand
from hypothesis import given
from hypothesis import strategies as st

from harness.history import collect_history, find_step_changes, render_history_markdown

FAST = "bench_a.py::bench_fast"
STEADY = "bench_a.py::bench_steady"


def write_runs(reports: Path, series: list[dict[str, float]], extra: list[dict] | None = None) -> list[str]:
    run_ids = []
    for index, medians in enumerate(series):
        run_id = f"2026-03-14T15{index:02d}00Z"
        folder = reports / run_id
        folder.mkdir(parents=True)
        document = benchmark_document(medians, seed=index, extra=extra[index] if extra else None)
        (folder / "benchmark.json").write_text(json.dumps(document))
        run_ids.append(run_id)
    return run_ids


def test_find_step_changes_single_step():
    values = [1.0, 1.01, 0.99, 1.0, 1.3, 1.31, 1.29]
    [(index, before, after, noise)] = find_step_changes(values, 0.10)
    assert index == 4
    assert before == pytest.approx(1.0)
    assert after == pytest.approx(1.30)
    assert noise < 0.3


def test_find_step_changes_ignores_single_outlier():
    assert find_step_changes([1.0, 1.0, 1.5, 1.0, 1.0, 1.0], 0.10) == []


def test_find_step_changes_ignores_change_at_last_run():
    assert find_step_changes([1.0, 1.0, 1.0, 1.0, 1.5], 0.10) == []


def test_find_step_changes_ignores_drift_below_threshold():
    assert find_step_changes([1.0, 1.02, 1.04, 1.06, 1.08, 1.09], 0.10) == []


def test_find_step_changes_two_steps():
    values = [1.0, 1.0, 1.0, 1.5, 1.5, 1.5, 0.9, 0.9, 0.9]
    assert [step[0] for step in find_step_changes(values, 0.10)] == [3, 6]


def test_find_step_changes_noisy_series_needs_larger_shift():
    noisy = [1.0, 1.3, 0.8, 1.2, 1.45, 1.6, 1.3, 1.7]
    assert find_step_changes(noisy, 0.10) == []


@given(st.lists(st.floats(0.5, 2.0), min_size=1, max_size=12), st.floats(0.0, 0.5))
def test_find_step_changes_indices_leave_runs_after(values, threshold):
    for index, _, _, _ in find_step_changes(values, threshold):
        assert 1 <= index <= len(values) - 2


@given(st.floats(0.001, 100.0), st.integers(2, 10))
def test_find_step_changes_constant_series_has_no_step(value, length):
    assert find_step_changes([value] * length, 0.0) == []


def test_collect_history_finds_step_in_one_benchmark(tmp_path):
    series = [{FAST: 0.010, STEADY: 0.050}] * 3 + [{FAST: 0.014, STEADY: 0.050}] * 3
    run_ids = write_runs(tmp_path, series)
    (tmp_path / "2026-03-14T160000Z").mkdir()  # a run folder without benchmarks
    history = collect_history(tmp_path)
    assert history.run_ids == tuple(run_ids)
    [step] = history.steps
    assert step.benchmark == FAST
    assert step.metric == "time"
    assert step.run_id == run_ids[3]
    assert step.change == pytest.approx(0.40, abs=0.03)


def test_collect_history_memory_and_quality_steps(tmp_path):
    extra = [{FAST: {"peak_memory_bytes": 1000, "amplitude_error": 0.1}}] * 2
    extra += [{FAST: {"peak_memory_bytes": 2000, "amplitude_error": 0.1}}] * 2
    write_runs(tmp_path, [{FAST: 0.01}] * 4, extra)
    history = collect_history(tmp_path)
    assert [(step.metric, step.index) for step in history.steps] == [("peak_memory", 2)]
    assert ("bench_a.py::bench_fast", "amplitude_error") in history.series


def test_collect_history_skips_unreadable_json(tmp_path):
    write_runs(tmp_path, [{FAST: 0.01}] * 2)
    broken = tmp_path / "2026-03-14T170000Z"
    broken.mkdir()
    (broken / "benchmark.json").write_text("{")
    history = collect_history(tmp_path)
    assert len(history.run_ids) == 2
    assert "not JSON" in history.skipped[0]


def test_render_history_marks_step_in_table(tmp_path):
    write_runs(tmp_path, [{FAST: 0.010}] * 2 + [{FAST: 0.020}] * 2)
    text = render_history_markdown(collect_history(tmp_path))
    assert "## bench_a.py::bench_fast" in text
    assert "**step**" in text
    assert "+100.0%" in text or "+99" in text or "+101" in text


def test_history_command_writes_table_and_plot(tmp_path, capsys):
    write_runs(tmp_path, [{FAST: 0.010, STEADY: 0.05}] * 3 + [{FAST: 0.013, STEADY: 0.05}] * 2)
    assert run_subcommand("history", ["history", "--reports", str(tmp_path)]) == 0
    output = capsys.readouterr().out
    assert "1 step change(s)" in output
    [folder] = [path for path in tmp_path.iterdir() if (path / "history.md").exists()]
    assert (folder / "history.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    document = json.loads((folder / "history.json").read_text())
    assert document["steps"][0]["benchmark"] == FAST
    assert json.loads((folder / "manifest.json").read_text())["status"] == "complete"


def test_history_command_without_runs_exits_two(tmp_path, capsys):
    assert run_subcommand("history", ["history", "--reports", str(tmp_path)]) == 2
    assert "has a benchmark.json" in capsys.readouterr().err


def test_history_command_invalid_threshold_exits_two(tmp_path, capsys):
    assert run_subcommand("history", ["history", "--reports", str(tmp_path), "--threshold", "-0.5"]) == 2
    assert "invalid --threshold -0.5" in capsys.readouterr().err
