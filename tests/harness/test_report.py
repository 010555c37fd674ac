"""Run reports: markdown and one self-contained HTML page, checked as text and in headless Chromium."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest
from harness_helpers import benchmark_document, run_subcommand

from harness.compare import compare_runs, load_benchmark_run, write_comparison
from harness.manifest import Manifest
from harness.report import ReportInputError, load_run_report, render_html, render_markdown, write_report
from harness.runfolder import create_run_folder
from harness.tdd import run_tdd

CHROMIUM = Path("/usr/bin/chromium")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
VIOLATION = {
    "rule_id": "DATASET-003",
    "severity": "error",
    "key": "diffraction",
    "seen": "float64",
    "expected": "float32",
    "fix": "cast with astype(np.float32)",
}


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> Path:
    """A finished run folder with contracts, a red/green pair, a comparison and a picture."""
    root = tmp_path_factory.mktemp("report")
    project = root / "project"
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    folder = create_run_folder(root / "reports", datetime(2026, 3, 14, 15, 9, 26, tzinfo=timezone.utc))
    with Manifest(folder, command=["ptycho-harness", "run"]):
        folder.write_json(
            "contracts.json",
            {"file": {"path": "data.npz", "family": "DATASET", "rules_checked": 26, "violations": [VIOLATION]}, "stages": []},
        )
        (project / "test_sum.py").write_text("def test_sum():\n    assert 1 + 1 == 3\n")
        run_tdd("red", "sum", ["test_sum.py"], reports_root=root / "reports", run_id=folder.run_id, cwd=project)
        (project / "test_sum.py").write_text("def test_sum():\n    assert 1 + 1 == 2\n")
        run_tdd("green", "sum", ["test_sum.py"], reports_root=root / "reports", run_id=folder.run_id, cwd=project)
        name = "bench_a.py::bench_stitch"
        before = root / "before.json"
        before.write_text(json.dumps(benchmark_document({name: 0.010}, seed=1)))
        folder.write_json("benchmark.json", benchmark_document({name: 0.020}, seed=2))
        comparison = compare_runs(load_benchmark_run(before), load_benchmark_run(folder.path / "benchmark.json"))
        write_comparison(folder, comparison)
        _write_picture(folder.path / "amplitude.png")
    return folder.path


def _write_picture(path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(2, 2), dpi=40)
    figure.add_subplot().imshow([[0, 1], [1, 0]])
    figure.savefig(path, format="png")


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.sources: list[str] = []
        self.links: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if "id" in attributes:
            self.ids.append(attributes["id"])
        if tag == "img":
            self.sources.append(attributes.get("src", ""))
        if tag in ("link", "a") and attributes.get("href"):
            self.links.append(attributes["href"])
        if tag == "script":
            self.scripts += 1


def test_report_markdown_has_every_section(run_folder):
    text = render_markdown(load_run_report(run_folder))
    assert "**FAILED (run" not in text
    assert "**PASSED (run complete)**" in text
    assert "| DATASET-003 | error | diffraction | float64 | float32 | cast with astype(np.float32) |" in text
    assert re.search(r"\| sum \(sum\) \| valid assertion_failure, pytest_sum_red.log", text)
    assert "REGRESSION" in text
    assert "Mann-Whitney" in text
    assert "![amplitude.png](amplitude.png)" in text


def test_report_html_is_self_contained(run_folder):
    page = render_html(load_run_report(run_folder))
    collector = _Collector()
    collector.feed(page)
    assert collector.ids == ["verdict", "contracts", "red-green", "comparison", "benchmarks", "pictures"]
    assert collector.scripts == 0
    assert collector.links == []
    [source] = collector.sources
    assert source.startswith("data:image/png;base64,")
    assert "http://" not in page
    assert "https://" not in page
    assert "<style>" in page


def test_report_verdict_of_failed_run(tmp_path):
    folder = create_run_folder(tmp_path)
    with Manifest(folder, command=["ptycho-harness", "bench"]) as manifest:
        manifest.finish("failed")
    report = load_run_report(folder.path)
    assert report.verdict == "FAILED (run failed)"
    assert report.passed is False
    assert 'class="verdict failed"' in render_html(report)


def test_report_rejects_folder_without_manifest(tmp_path):
    with pytest.raises(ReportInputError, match="has no readable manifest.json"):
        load_run_report(tmp_path)


def test_write_report_never_overwrites(tmp_path, run_folder):
    report = load_run_report(run_folder)
    markdown, page = write_report(report, tmp_path / "out")
    assert markdown.read_text().startswith("# ptycho-harness run")
    assert page.read_text().startswith("<!DOCTYPE html>")
    with pytest.raises(FileExistsError, match="never overwritten; pass another --out"):
        write_report(report, tmp_path / "out")


def test_report_command_by_run_id(tmp_path, run_folder, capsys):
    out = tmp_path / "out"
    status = run_subcommand("report", ["report", run_folder.name, "--reports", str(run_folder.parent), "--out", str(out)])
    assert status == 0, capsys.readouterr().err
    assert (out / "report.html").is_file()
    assert "verdict: PASSED" in capsys.readouterr().out


def test_report_command_unknown_run_exits_two(tmp_path, capsys):
    status = run_subcommand("report", ["report", "2026-01-01T000000Z", "--reports", str(tmp_path)])
    assert status == 2
    assert "not found, neither as a path nor under" in capsys.readouterr().err


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"headless Chromium not installed at {CHROMIUM}")
def test_report_renders_in_headless_chromium(tmp_path, run_folder):
    _, page = write_report(load_run_report(run_folder), tmp_path / "out")
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--dump-dom",
        page.as_uri(),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    assert "PASSED (run complete)" in dom
    assert "DATASET-003" in dom
    assert "pytest_sum_red.log" in dom
    assert "REGRESSION" in dom
    assert 'src="data:image/png;base64,' in dom
    # The page has no scripts, so any console message (a blocked load, a CSP report) is an error.
    console_messages = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    assert console_messages == []
