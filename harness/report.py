"""Render a run folder as markdown and as one self-contained HTML page.

The page has its CSS inline, its pictures as base64 ``data:`` URIs and no scripts, so it
reads offline and fetches nothing. Both forms show the same sections: the verdict, the
contract table, the red/green pairs, the benchmark comparison and the pictures. Each
HTML section carries a stable ``id`` (``verdict``, ``contracts``, ``red-green``,
``comparison``, ``benchmarks``, ``pictures``).
"""

from __future__ import annotations

import base64
import html
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.manifest import GitState
from harness.runfolder import MANIFEST_FILE_NAME, create_temp_file, publish_new_file

logger = logging.getLogger(__name__)

REPORT_MD_NAME = "report.md"
REPORT_HTML_NAME = "report.html"
MAX_PICTURE_BYTES = 8 * 2**20


class ReportInputError(ValueError):
    """A run folder that cannot be rendered: missing, or not a run folder."""


@dataclass(frozen=True)
class Table:
    """A titled table of text cells."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Section:
    """One section of the report: an id, a title, paragraphs and tables."""

    id: str
    title: str
    paragraphs: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    pictures: tuple[tuple[str, bytes], ...] = field(default=())


@dataclass(frozen=True)
class RunReport:
    """The sections of one run folder's report and its verdict line."""

    run_path: Path
    title: str
    verdict: str
    passed: bool | None
    sections: tuple[Section, ...]


def load_run_report(run_path: Path) -> RunReport:
    """Read what a run folder contains and arrange it into report sections.

    Raises:
        ReportInputError: ``run_path`` is not a folder or has no manifest.json.
    """
    run_path = Path(run_path)
    if not run_path.is_dir():
        raise ReportInputError(f"run folder {run_path} not found; give a run folder or a run ID with --reports")
    manifest = _read_json(run_path / MANIFEST_FILE_NAME)
    if not isinstance(manifest, Mapping):
        raise ReportInputError(
            f"{run_path} has no readable {MANIFEST_FILE_NAME}, so it is not a run folder; give a folder "
            "under the reports root, such as reports/2026-03-14T150926Z"
        )
    gate = _read_json(run_path / "gate.json")
    verdict, passed = _verdict(manifest, gate)
    sections = [
        _verdict_section(run_path, manifest, gate, verdict),
        _contracts_section(_read_json(run_path / "contracts.json")),
        _red_green_section(run_path, gate),
        _comparison_section(_read_json(run_path / "comparison.json")),
        _benchmarks_section(_read_json(run_path / "benchmark.json")),
        _pictures_section(run_path),
    ]
    return RunReport(
        run_path=run_path,
        title=f"ptycho-harness run {manifest.get('run_id', run_path.name)}",
        verdict=verdict,
        passed=passed,
        sections=tuple(sections),
    )


def _read_json(path: Path) -> Any:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        logger.warning("ignoring unreadable %s: %s", path, exc)
        return None


def _verdict(manifest: Mapping[str, Any], gate: Any) -> tuple[str, bool | None]:
    if isinstance(gate, Mapping) and "verdict" in gate:
        return str(gate["verdict"]), bool(gate.get("passed"))
    status = manifest.get("status")
    if status == "complete":
        return "PASSED (run complete)", True
    if status == "running":
        return "UNKNOWN (the run has not finished, or ended without updating its manifest)", None
    return f"FAILED (run {status})", False


def _verdict_section(run_path: Path, manifest: Mapping[str, Any], gate: Any, verdict: str) -> Section:
    environment = manifest.get("environment") or {}
    git = environment.get("git") or {}
    packages = environment.get("packages") or {}
    rows = [
        ("command", " ".join(str(part) for part in manifest.get("command") or [])),
        ("status", str(manifest.get("status"))),
        ("started", str(manifest.get("started_at"))),
        ("finished", str(manifest.get("finished_at"))),
        ("git", GitState(commit=git.get("commit"), dirty=git.get("dirty")).describe()),
        ("machine", f"{(environment.get('cpu') or {}).get('model')}, {(environment.get('cpu') or {}).get('usable_cores')} cores"),
        ("packages", ", ".join(f"{name} {version}" for name, version in packages.items() if version)),
    ]
    tables = [Table(("field", "value"), tuple(rows))]
    if isinstance(gate, Mapping):
        checks = tuple(
            (str(check.get("name")), str(check.get("status")), str(check.get("detail")))
            for check in gate.get("checks", [])
        )
        tables.append(Table(("check", "result", "detail"), checks))
    return Section("verdict", "Verdict", (verdict,), tuple(tables))


def _contracts_section(contracts: Any) -> Section:
    if not isinstance(contracts, Mapping):
        return Section("contracts", "Contracts", ("This run checked no contracts (no contracts.json).",))
    if contracts.get("input_error"):
        return Section("contracts", "Contracts", (f"The dataset could not be read: {contracts['input_error']}",))
    document = contracts.get("file") or {}
    violations = document.get("violations") or []
    rules = document.get("rules_checked")
    rules_count = len(rules) if isinstance(rules, list) else rules

    summary = (
        f"{rules_count} rules of family {document.get('family')} checked on {document.get('path')}: "
        f"{len(violations)} violation(s)."
    )
    rows = tuple(
        (
            str(v.get("rule_id")),
            str(v.get("severity")),
            str(v.get("key") or ""),
            str(v.get("seen")),
            str(v.get("expected")),
            str(v.get("fix")),
        )
        for v in violations
    ) or (("none", "", "", "", "", "no violation found"),)
    tables = [Table(("rule", "severity", "key", "seen", "expected", "fix"), rows)]

    stages = contracts.get("stages") or []
    if stages:
        tables.append(
            Table(
                ("stage", "family", "mode", "rules", "violations"),
                tuple(
                    (str(s.get("stage")), str(s.get("family")), str(s.get("mode")),
                     str(s.get("rules_checked", 0)), str(len(s.get("violations") or [])))
                    for s in stages
                ),
            )
        )
    return Section("contracts", "Contracts", (summary,), tuple(tables))


def _red_green_section(run_path: Path, gate: Any) -> Section:
    from harness.tdd import KIND_GREEN, KIND_RED, pair_problems, read_evidence

    rows: list[tuple[str, ...]] = []
    for focus_folder in sorted(path for path in run_path.iterdir() if path.is_dir()):
        try:
            entries = read_evidence(focus_folder)
        except (OSError, ValueError, TypeError) as exc:
            rows.append((focus_folder.name, "", "", "", f"unreadable evidence: {exc}"))
            continue
        for label in sorted({entry.label for entry in entries}):
            of_label = [entry for entry in entries if entry.label == label]
            red = _last(of_label, KIND_RED)
            green = _last(of_label, KIND_GREEN)
            problems = pair_problems(red, green)
            rows.append(
                (f"{focus_folder.name} ({label})", _describe(red), _describe(green),
                 "yes" if not problems else "no", "; ".join(problems))
            )
    if isinstance(gate, Mapping):
        for check in gate.get("checks", []):
            for pair in (check.get("data") or {}).get("pairs", []):
                rows.append(
                    (f"{pair['focus']} ({pair['label']}), run {pair['run_id']}", _describe_summary(pair.get("red")),
                     _describe_summary(pair.get("green")), "yes" if pair.get("consistent") else "no",
                     "; ".join(pair.get("problems") or []))
                )
    if not rows:
        return Section("red-green", "Red/green pairs", ("This run holds no red/green evidence.",))
    return Section(
        "red-green", "Red/green pairs", (), (Table(("focus (label)", "red", "green", "consistent", "problems"), tuple(rows)),)
    )


def _last(entries: Sequence[Any], kind: str) -> Any:
    of_kind = [entry for entry in entries if entry.kind == kind]
    return max(of_kind, key=lambda entry: entry.started_at) if of_kind else None


def _describe(entry: Any) -> str:
    if entry is None:
        return "none"
    return f"{'valid' if entry.valid else 'INVALID'} {entry.classification}, {entry.log_file}, git {entry.git.describe()}"


def _describe_summary(entry: Any) -> str:
    if not entry:
        return "none"
    return f"{'valid' if entry.get('valid') else 'INVALID'} {entry.get('classification')}, {entry.get('log_file')}, git {entry.get('git')}"


def _comparison_section(comparison: Any) -> Section:
    if not isinstance(comparison, Mapping):
        return Section("comparison", "Benchmark comparison", ("This run compared no benchmarks (no comparison.json).",))
    paragraphs = [
        str(comparison.get("verdict")),
        f"Baseline {comparison.get('baseline_source')}, candidate {comparison.get('candidate_source')}.",
        *[f"Method: {method}" for method in comparison.get("method") or []],
        *[f"Warning: {warning}" for warning in comparison.get("warnings") or []],
    ]
    rows = tuple(
        (
            str(m.get("benchmark")),
            str(m.get("metric")),
            f"{m.get('baseline'):.6g}",
            f"{m.get('candidate'):.6g}",
            f"{m.get('change'):+.1%}",
            "" if m.get("p_value") is None else f"{m['p_value']:.3g}",
            ("REGRESSION: " if m.get("regression") else "ok: ") + str(m.get("detail")),
        )
        for m in comparison.get("metrics") or []
    )
    table = Table(("benchmark", "metric", "baseline", "candidate", "change", "p-value", "result"), rows)
    return Section("comparison", "Benchmark comparison", tuple(paragraphs), (table,))


def _benchmarks_section(document: Any) -> Section:
    if not isinstance(document, Mapping) or not document.get("benchmarks"):
        return Section("benchmarks", "Benchmarks", ("This run has no benchmark.json.",))
    rows = []
    for bench in document["benchmarks"]:
        stats = bench.get("stats") or {}
        extra = bench.get("extra_info") or {}
        memory = extra.get("peak_memory_bytes")
        rows.append(
            (
                str(bench.get("fullname") or bench.get("name")),
                f"{stats.get('median', 0) * 1e3:.3f}",
                f"{stats.get('iqr', 0) * 1e3:.3f}",
                str(stats.get("rounds")),
                "" if memory is None else f"{memory / 2**20:.2f}",
            )
        )
    table = Table(("benchmark", "median (ms)", "IQR (ms)", "rounds", "peak memory (MiB)"), tuple(rows))
    return Section("benchmarks", "Benchmarks", (), (table,))


def _pictures_section(run_path: Path) -> Section:
    pictures = []
    for path in sorted(run_path.glob("*.png")):
        size = path.stat().st_size
        if size > MAX_PICTURE_BYTES:
            logger.warning("leaving out %s: %d bytes exceeds the %d-byte limit for inlined pictures", path, size, MAX_PICTURE_BYTES)
            continue
        pictures.append((path.name, path.read_bytes()))
    if not pictures:
        return Section("pictures", "Pictures", ("This run has no pictures.",))
    return Section("pictures", "Pictures", (), (), tuple(pictures))


# Rendering.


def render_markdown(report: RunReport) -> str:
    """Render the report as markdown; pictures are linked by file name."""
    lines = [f"# {report.title}", ""]
    for section in report.sections:
        lines += [f"## {section.title}", ""]
        for paragraph in section.paragraphs:
            lines += [paragraph if section.id != "verdict" else f"**{paragraph}**", ""]
        for table in section.tables:
            lines.append("| " + " | ".join(table.header) + " |")
            lines.append("|" + " --- |" * len(table.header))
            lines += ["| " + " | ".join(_md_cell(cell) for cell in row) + " |" for row in table.rows]
            lines.append("")
        for name, _ in section.pictures:
            lines += [f"![{name}]({name})", ""]
    return "\n".join(lines).rstrip() + "\n"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; color: #1b1b1b; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.85rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
.verdict { font-size: 1.1rem; font-weight: bold; padding: 0.5rem; }
.passed { background: #e3f4e3; } .failed { background: #fbe3e3; } .unknown { background: #f4f0d9; }
figure { display: inline-block; margin: 0.5rem; } img { max-width: 32rem; }
"""


def render_html(report: RunReport) -> str:
    """Render the report as one self-contained HTML page (inline CSS, pictures as data URIs)."""
    state = {True: "passed", False: "failed", None: "unknown"}[report.passed]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        # The page may load nothing: no network, no scripts; images only from data: URIs.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; style-src \'unsafe-inline\'">',
        f"<title>{html.escape(report.title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{html.escape(report.title)}</h1>",
    ]
    for section in report.sections:
        parts.append(f'<section id="{section.id}">')
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        for paragraph in section.paragraphs:
            if section.id == "verdict":
                parts.append(f'<p class="verdict {state}">{html.escape(paragraph)}</p>')
            else:
                parts.append(f"<p>{html.escape(paragraph)}</p>")
        for table in section.tables:
            parts.append("<table>")
            parts.append("<tr>" + "".join(f"<th>{html.escape(cell)}</th>" for cell in table.header) + "</tr>")
            for row in table.rows:
                parts.append("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>")
            parts.append("</table>")
        for name, data in section.pictures:
            encoded = base64.b64encode(data).decode("ascii")
            parts.append(
                f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{encoded}">'
                f"<figcaption>{html.escape(name)}</figcaption></figure>"
            )
        parts.append("</section>")
    parts += ["</body>", "</html>"]
    return "\n".join(parts) + "\n"


def write_report(report: RunReport, out_dir: Path) -> tuple[Path, Path]:
    """Write report.md and report.html into ``out_dir``; never overwrite either.

    Raises:
        FileExistsError: ``out_dir`` already contains a report.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    documents = ((REPORT_MD_NAME, render_markdown(report)), (REPORT_HTML_NAME, render_html(report)))
    for name, _ in documents:
        target = out_dir / name
        if target.exists():
            raise FileExistsError(f"{target} already exists and reports are never overwritten; pass another --out folder")
    written = []
    for name, text in documents:
        descriptor, temp = create_temp_file(out_dir, name)
        with open(descriptor, "wb") as stream:
            stream.write(text.encode("utf-8"))
        publish_new_file(temp, out_dir / name)
        logger.info("wrote %s", out_dir / name)
        written.append(out_dir / name)
    return written[0], written[1]


def resolve_run_path(run: str, reports_root: Path) -> Path:
    """Return the run folder named by ``run``: a path to a folder, or a run ID under ``reports_root``."""
    path = Path(run)
    if path.is_dir():
        return path
    candidate = Path(reports_root) / run
    if candidate.is_dir():
        return candidate
    raise ReportInputError(
        f"run folder {run!r} not found, neither as a path nor under {reports_root}; give a run folder "
        "path or a run ID and --reports DIR"
    )

