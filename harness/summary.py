"""Render a run's ``summary.md``: the verdict first, then each step and the files to open."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class StepOutcome:
    """One step of a run: its name, whether its check held, and a one-line account."""

    name: str
    passed: bool
    detail: str


def render_summary(
    *,
    run_id: str,
    status: str,
    dataset: Path | None,
    checkpoint: Path | None,
    steps: list[StepOutcome],
    facts: dict[str, Any],
    files: list[str],
) -> str:
    """Return the markdown text of a run's summary."""
    verdict = {"complete": "PASSED", "failed": "FAILED"}.get(status, f"FAILED ({status})")
    lines = [
        f"# ptycho-harness run {run_id}: {verdict}",
        "",
        f"- dataset: `{dataset}`",
        f"- checkpoint: `{checkpoint}`",
        f"- adapter: `{facts.get('adapter', 'unknown')}`",
        "",
        "## Steps",
        "",
        "| step | result | detail |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {step.name} | {'pass' if step.passed else 'FAIL'} | {_cell(step.detail)} |" for step in steps]
    lines += _contract_section(facts.get("contracts"), facts.get("guard_stages"))
    lines += _inference_section(facts.get("inference"), facts.get("quality"))
    lines += _benchmark_section(facts.get("benchmarks"))
    lines += ["", "## Files", ""]
    lines += [f"- [{name}]({name})" for name in files if name != "summary.md"]
    return "\n".join(lines) + "\n"


def _contract_section(contracts: dict[str, Any] | None, stages: list[dict[str, Any]] | None) -> list[str]:
    if contracts is None:
        return []
    lines = ["", "## Contracts", ""]
    violations = contracts.get("violations", [])
    lines.append(
        f"{contracts.get('rules_checked', 0)} rules of family `{contracts.get('family')}` "
        f"checked on the dataset file; {len(violations)} violation(s)."
    )
    if violations:
        lines += ["", "| rule | severity | key | seen | expected | fix |", "| --- | --- | --- | --- | --- | --- |"]
        lines += [
            f"| {v['rule_id']} | {v['severity']} | {v.get('key') or ''} | {_cell(v['seen'])} "
            f"| {_cell(v['expected'])} | {_cell(v['fix'])} |"
            for v in violations
        ]
    if stages:
        lines += ["", "Stages checked at run time:", "", "| stage | family | mode | rules | times checked | violations |"]
        lines.append("| --- | --- | --- | --- | --- | --- |")
        for (stage, family, mode, rules), group in _group_stages(stages).items():
            violations = sum(len(s["violations"]) for s in group)
            lines.append(f"| {stage} | {family} | {mode} | {rules} | {len(group)} | {violations} |")
    return lines


def _group_stages(stages: list[dict[str, Any]]) -> dict[tuple[Any, ...], list[dict[str, Any]]]:
    """Group the guard records of repeated stages (one per batch) in first-seen order."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for stage in stages:
        key = (stage["stage"], stage["family"], stage["mode"], stage["rules_checked"])
        groups.setdefault(key, []).append(stage)
    return groups


def _inference_section(inference: dict[str, Any] | None, quality: dict[str, Any] | None) -> list[str]:
    if inference is None:
        return []
    lines = [
        "",
        "## Inference",
        "",
        f"{inference['n_patterns']} patterns in {inference['seconds']:.2f} s "
        f"({inference['patterns_per_second']:.0f} patterns/s), batch size {inference['batch_size']}.",
        "",
        "| stage | dtype |",
        "| --- | --- |",
    ]
    lines += [f"| {stage} | {dtype} |" for stage, dtype in inference["stage_dtypes"].items()]
    if quality:
        lines += [
            "",
            "Against the true object (well-covered pixels, global phase offset removed):",
            "",
            "| | amplitude error (relative RMS) | phase error (RMS, rad) |",
            "| --- | --- | --- |",
            f"| reconstruction | {quality['amplitude_error']:.4f} | {quality['phase_error_rad']:.4f} |",
            f"| trivial guess (constant amplitude, flat phase) | {quality['trivial_amplitude_error']:.4f} "
            f"| {quality['trivial_phase_error_rad']:.4f} |",
        ]
    lines += ["", "![amplitude](amplitude.png) ![phase](phase.png)"]
    return lines


def _benchmark_section(benchmarks: list[dict[str, Any]] | None) -> list[str]:
    if not benchmarks:
        return []
    lines = [
        "",
        "## Benchmarks",
        "",
        "| benchmark | mean (ms) | stddev (ms) | rounds |",
        "| --- | --- | --- | --- |",
    ]
    lines += [
        f"| {row['name']} | {row['mean_s'] * 1e3:.3f} | {row['stddev_s'] * 1e3:.3f} | {row['rounds']} |"
        for row in benchmarks
    ]
    lines += ["", "Full statistics in pytest-benchmark's format: [benchmark.json](benchmark.json)."]
    return lines


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")
