"""Render validation results as a plain text table, JSON, markdown or CSV."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from contracts.rules import Violation
from contracts.validate import FileReport, UnreadableFile

logger = logging.getLogger(__name__)

_COLUMNS = ("rule", "severity", "key", "seen", "expected", "fix")


def summarize(reports: Sequence[FileReport], unreadable: Sequence[UnreadableFile] = ()) -> dict[str, Any]:
    """Count files and violations; ``exit_status`` is 2 if any file was unreadable, else 1
    if any file has an error-severity violation, else 0."""
    failed = sum(1 for report in reports if not report.ok)
    if unreadable:
        exit_status = 2
    elif failed:
        exit_status = 1
    else:
        exit_status = 0
    return {
        "files": len(reports) + len(unreadable),
        "passed": len(reports) - failed,
        "failed": failed,
        "unreadable": len(unreadable),
        "errors": sum(len(report.errors) for report in reports),
        "warnings": sum(len(report.warnings) for report in reports),
        "exit_status": exit_status,
    }


def render_json(reports: Sequence[FileReport], unreadable: Sequence[UnreadableFile] = ()) -> str:
    document = {
        "files": [report.to_dict() for report in reports],
        "unreadable": [entry.to_dict() for entry in unreadable],
        "summary": summarize(reports, unreadable),
    }
    return json.dumps(document, indent=2) + "\n"


def render_text(reports: Sequence[FileReport], unreadable: Sequence[UnreadableFile] = ()) -> str:
    blocks = []
    for report in reports:
        lines = [_verdict(report)]
        if report.violations:
            rows = [_COLUMNS] + [_row(v) for v in report.violations]
            widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS) - 1)]
            for row in rows:
                cells = [cell.ljust(width) for cell, width in zip(row, widths)] + [row[-1]]
                lines.append("  " + "  ".join(cells).rstrip())
        blocks.append("\n".join(lines))
    for entry in unreadable:
        blocks.append(f"UNREADABLE {entry.message}")
    blocks.append(_overall(summarize(reports, unreadable)))
    return "\n\n".join(blocks) + "\n"


def render_markdown(reports: Sequence[FileReport], unreadable: Sequence[UnreadableFile] = ()) -> str:
    lines = ["# Contract validation", ""]
    for report in reports:
        lines += [f"## `{report.path}`", "", _verdict(report), ""]
        if report.violations:
            lines.append("| " + " | ".join(_COLUMNS) + " |")
            lines.append("|" + " --- |" * len(_COLUMNS))
            for violation in report.violations:
                lines.append("| " + " | ".join(_markdown_cell(cell) for cell in _row(violation)) + " |")
            lines.append("")
    if unreadable:
        lines += ["## Unreadable files", ""]
        lines += [f"- {_markdown_cell(entry.message)}" for entry in unreadable]
        lines.append("")
    lines.append(f"**{_overall(summarize(reports, unreadable))}**")
    return "\n".join(lines) + "\n"


def render_csv(reports: Sequence[FileReport], unreadable: Sequence[UnreadableFile] = ()) -> str:
    """Return one CSV row per violation and per unreadable file (see ``contracts.tables``)."""
    from contracts.tables import render_csv as tables_render_csv

    return tables_render_csv(reports, unreadable)


def _row(violation: Violation) -> tuple[str, ...]:
    key = violation.key or "-"
    if violation.index is not None:
        key += "[" + ", ".join(str(i) for i in violation.index) + "]"
    return (violation.rule_id, violation.severity.value, key, violation.seen, violation.expected, violation.fix)


def _verdict(report: FileReport) -> str:
    status = "PASS" if report.ok else "FAIL"
    family = report.family if report.profile is None else f"{report.family}, {report.profile} profile"
    return (
        f"{status} {report.path} ({family}): {len(report.errors)} errors, "
        f"{len(report.warnings)} warnings, {report.rules_checked} rules checked"
    )


def _overall(summary: dict[str, Any]) -> str:
    noun = "file" if summary["files"] == 1 else "files"
    return (
        f"{summary['files']} {noun} checked: {summary['passed']} clean, {summary['failed']} with errors, "
        f"{summary['unreadable']} unreadable"
    )


def _markdown_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
