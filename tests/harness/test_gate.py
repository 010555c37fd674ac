"""The CI gate: one verdict over contracts, tests, red/green and benchmarks; JUnit XML and summaries."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from importlib import resources
from pathlib import Path

import pytest
from harness_helpers import benchmark_document, run_subcommand

from harness.gate import GateCheck, default_pytest_args, render_junit_xml

DATASET = Path(__file__).resolve().parents[2] / "reference_impl" / "data" / "run1084_default.npz"
PASSING = "def test_sum():\n    assert 1 + 1 == 2\n"
FAILING = "def test_sum():\n    assert 1 + 1 == 3\n"
TINY_SUITE = "def bench_sum(benchmark):\n    benchmark.pedantic(sum, args=(range(20_000),), rounds=8)\n"


@pytest.fixture
def dataset() -> Path:
    if not DATASET.is_file():
        pytest.skip(f"the shipped dataset {DATASET} is missing")
    return DATASET


def gate(project, *args: str) -> int:
    return run_subcommand("gate", ["gate", "--reports", str(project.root / "reports"), *args])


def gate_folder(project) -> Path:
    [folder] = [path for path in (project.root / "reports").iterdir() if (path / "gate.json").exists()]
    return folder


def junit_cases(path: Path) -> dict[str, ElementTree.Element]:
    root = ElementTree.parse(path).getroot()
    return {case.get("name"): case for case in root.iter("testcase")}


def test_gate_all_passing_exits_zero(sample_project, dataset, capsys, monkeypatch, tmp_path):
    summary = tmp_path / "step_summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    sample_project.write("test_sum.py", PASSING)
    junit = tmp_path / "out" / "gate.xml"
    status = gate(
        sample_project, "--dataset", str(dataset), "--junit-xml", str(junit), "--", str(sample_project.root / "test_sum.py")
    )
    output = capsys.readouterr().out
    assert status == 0, output
    assert output.strip().splitlines()[-1].startswith("gate PASSED: contracts passed, tests passed")
    cases = junit_cases(junit)
    assert list(cases) == ["contracts", "tests", "red/green", "benchmarks"]
    assert cases["benchmarks"].find("skipped") is not None
    assert cases["contracts"].find("failure") is None
    text = summary.read_text()
    assert text.startswith("earlier step\n")
    assert "## ptycho-harness gate: PASSED" in text
    folder = gate_folder(sample_project)
    assert {"gate.md", "gate.json", "junit.xml", "tests.log", "contracts.json", "manifest.json"} <= {
        path.name for path in folder.iterdir()
    }
    assert json.loads((folder / "manifest.json").read_text())["status"] == "complete"


def test_gate_failing_test_exits_one(sample_project, dataset, capsys):
    sample_project.write("test_sum.py", FAILING)
    status = gate(sample_project, "--dataset", str(dataset), "--", str(sample_project.root / "test_sum.py"))
    output = capsys.readouterr().out
    assert status == 1
    assert "gate FAILED" in output.strip().splitlines()[-1]
    cases = junit_cases(gate_folder(sample_project) / "junit.xml")
    failure = cases["tests"].find("failure")
    assert failure is not None
    assert "exited 1 (tests failed): 1 failed" in failure.get("message")


def test_gate_unreadable_dataset_fails_contracts(sample_project, capsys):
    sample_project.write("test_sum.py", PASSING)
    broken = sample_project.root / "broken.npz"
    broken.write_bytes(b"not a zip file")
    status = gate(sample_project, "--dataset", str(broken), "--", str(sample_project.root / "test_sum.py"))
    assert status == 1
    document = json.loads((gate_folder(sample_project) / "gate.json").read_text())
    contracts = document["checks"][0]
    assert contracts["name"] == "contracts"
    assert contracts["status"] == "failed"
    assert "could not be read" in contracts["detail"]


def test_gate_inconsistent_red_green_fails(sample_project, dataset, capsys):
    from harness.tdd import run_tdd

    sample_project.write("test_sum.py", FAILING)
    run_tdd("red", "sum", ["test_sum.py"], reports_root=sample_project.root / "reports", cwd=sample_project.root)
    sample_project.write("test_sum.py", PASSING)
    status = gate(sample_project, "--dataset", str(dataset), "--", str(sample_project.root / "test_sum.py"))
    assert status == 1
    cases = junit_cases(gate_folder(sample_project) / "junit.xml")
    assert "no green run" in cases["red/green"].find("failure").get("message")


def test_gate_benchmarks_compare_serially_and_strict_fails(sample_project, dataset, capsys, tmp_path):
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "pytest.ini").write_text((resources.files("harness") / "suites" / "pytest.ini").read_text())
    (suite / "bench_tiny.py").write_text(TINY_SUITE)
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps(benchmark_document({"bench_tiny.py::bench_sum": 1e-7})))
    sample_project.write("test_sum.py", PASSING)
    common = ["--dataset", str(dataset), "--bench-suite", str(suite), "--baseline", str(baseline)]

    warned = gate(sample_project, *common, "--", str(sample_project.root / "test_sum.py"))
    output = capsys.readouterr().out
    assert warned == 0, output
    assert "benchmarks ran serially in one process (-p no:xdist)" in output
    assert "different machines" in output

    strict = gate(sample_project, *common, "--strict", "--", str(sample_project.root / "test_sum.py"))
    assert strict == 1
    folders = sorted(p for p in (sample_project.root / "reports").iterdir() if (p / "gate.json").exists())
    cases = junit_cases(folders[-1] / "junit.xml")
    assert "REGRESSION" in cases["benchmarks"].find("failure").get("message")
    assert (folders[-1] / "comparison.md").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--baseline", "absent.json"], "baseline 'absent.json' not found"),
        (["--dataset", "absent.npz"], "dataset absent.npz not found"),
        (["--memory-threshold", "-2"], "invalid memory threshold"),
    ],
)
def test_gate_bad_input_exits_two(sample_project, capsys, args, message):
    status = gate(sample_project, *args)
    assert status == 2
    assert message in capsys.readouterr().err
    assert not (sample_project.root / "reports").exists()


def test_default_pytest_args_prefers_tests_folder(tmp_path):
    assert default_pytest_args(tmp_path)[-1].endswith("suites")
    assert "--benchmark-disable" in default_pytest_args(tmp_path)
    (tmp_path / "tests").mkdir()
    assert default_pytest_args(tmp_path) == ["tests"]


def test_render_junit_xml_parses_with_counts():
    checks = [
        GateCheck("contracts", "passed", "ok", 0.5),
        GateCheck("tests", "failed", "1 failed <&>", 1.0, output="log tail"),
        GateCheck("benchmarks", "skipped", "no baseline", 0.0),
    ]
    root = ElementTree.fromstring(render_junit_xml(checks))
    [suite] = root.findall("testsuite")
    assert suite.get("tests") == "3"
    assert suite.get("failures") == "1"
    assert suite.get("skipped") == "1"
    assert suite.find("testcase[@name='tests']/failure").get("message") == "1 failed <&>"
    assert suite.find("testcase[@name='tests']/system-out").text == "log tail"


@pytest.mark.parametrize(
    ("args", "expected"),
    [(["-n", "4"], True), (["-nauto"], True), (["--numprocesses=2"], True), (["-p", "no:xdist", "tests"], False)],
)
def test_gate_detects_xdist_arguments(args, expected):
    from harness.gate import _requests_xdist

    assert _requests_xdist(args) is expected
