"""Evidence plans: a TOML file that fixes a focus, its pytest selectors, its run folder and
the artifacts that its red/green work must leave, and the check of those artifacts.

A plan looks like this::

    focus = "stitch-offsets"
    selectors = ["tests/test_stitch.py::test_offsets_centred"]
    run_folder = "reports/2026-03-14T150926Z/stitch-offsets"
    artifacts = ["red_log", "green_log", "evidence", "notes"]
    # optional:
    label = "stitch-offsets"
    pytest_args = ["-q"]

``run_folder`` is ``<reports root>/<run-id>/<focus>``. Relative paths are taken from the
working directory, like pytest's selectors. The run ID is fixed when the plan is written,
so that the red, the green and the notes land in one folder.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.runfolder import RUN_ID_PATTERN, InvalidNameError, validate_name
from harness.tdd import (
    EVIDENCE_FILE_NAME,
    KIND_GREEN,
    KIND_RED,
    EvidenceEntry,
    pair_problems,
    read_evidence,
)

logger = logging.getLogger(__name__)

ARTIFACT_RED_LOG = "red_log"
ARTIFACT_GREEN_LOG = "green_log"
ARTIFACT_EVIDENCE = "evidence"
ARTIFACT_NOTES = "notes"
KNOWN_ARTIFACTS = (ARTIFACT_RED_LOG, ARTIFACT_GREEN_LOG, ARTIFACT_EVIDENCE, ARTIFACT_NOTES)
NOTES_FILE_NAME = "notes.md"
REQUIRED_KEYS = ("focus", "selectors", "run_folder", "artifacts")
OPTIONAL_KEYS = ("label", "pytest_args")


class PlanError(ValueError):
    """An evidence plan that cannot be used: unreadable, not TOML, or a key invalid or missing."""


@dataclass(frozen=True)
class EvidencePlan:
    """A parsed evidence plan; ``run_folder`` is ``reports_root / run_id / focus``."""

    path: Path
    focus: str
    label: str
    selectors: tuple[str, ...]
    pytest_args: tuple[str, ...]
    reports_root: Path
    run_id: str
    artifacts: tuple[str, ...]

    @property
    def run_folder(self) -> Path:
        return self.reports_root / self.run_id / self.focus

    @property
    def pytest_arguments(self) -> list[str]:
        """The argument list that red and green pass to pytest: selectors, then options."""
        return [*self.selectors, *self.pytest_args]


@dataclass(frozen=True)
class ArtifactStatus:
    """Whether one artifact of a plan exists and is valid, and why not."""

    artifact: str
    file: Path
    exists: bool
    valid: bool
    detail: str


def load_plan(path: Path) -> EvidencePlan:
    """Read and check the evidence plan at ``path``.

    Raises:
        PlanError: the file is missing or not TOML, a required key is missing, a key is
            unknown, or a value has the wrong type or form. The message names the key
            and the fix.
    """
    path = Path(path)
    document = _read_toml(path)
    unknown = sorted(set(document) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
    if unknown:
        raise PlanError(
            f"invalid plan {path}: unknown key(s) {', '.join(unknown)}; the keys are "
            f"{', '.join(REQUIRED_KEYS + OPTIONAL_KEYS)} (check the spelling)"
        )
    for key in REQUIRED_KEYS:
        if key not in document:
            raise PlanError(f"invalid plan {path}: key '{key}' is missing; add it ({_KEY_HELP[key]})")

    focus = _name(path, document, "focus")
    label = _name(path, document, "label") if "label" in document else focus
    selectors = _string_list(path, document, "selectors", allow_empty=False)
    pytest_args = _string_list(path, document, "pytest_args", allow_empty=True) if "pytest_args" in document else ()
    reports_root, run_id = _run_folder(path, document, focus)
    artifacts = _artifacts(path, document)
    return EvidencePlan(
        path=path,
        focus=focus,
        label=label,
        selectors=selectors,
        pytest_args=pytest_args,
        reports_root=reports_root,
        run_id=run_id,
        artifacts=artifacts,
    )


_KEY_HELP = {
    "focus": 'the behaviour under work, for example focus = "stitch-offsets"',
    "selectors": 'a list of pytest node IDs or paths, for example selectors = ["tests/test_x.py::test_y"]',
    "run_folder": 'reports root, run ID and focus, for example run_folder = "reports/2026-03-14T150926Z/stitch-offsets"',
    "artifacts": f"a list of files to require, from {', '.join(KNOWN_ARTIFACTS)}",
    "label": 'the name of the log files, for example label = "offsets"',
    "pytest_args": 'a list of extra pytest options, for example pytest_args = ["-q"]',
}


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as stream:
            return tomllib.load(stream)
    except FileNotFoundError:
        raise PlanError(f"plan {path} not found; check the path") from None
    except IsADirectoryError:
        raise PlanError(f"plan {path} is a folder; give the path of a .toml file") from None
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(f"invalid plan {path}: it is not valid TOML ({exc}); fix the syntax") from None
    except UnicodeDecodeError as exc:
        raise PlanError(f"invalid plan {path}: it is not UTF-8 text ({exc})") from None


def _name(path: Path, document: Mapping[str, Any], key: str) -> str:
    value = document[key]
    if not isinstance(value, str):
        raise PlanError(
            f"invalid plan {path}: '{key}' is {_toml_type(value)}, expected a string ({_KEY_HELP[key]})"
        )
    try:
        return validate_name(value, key)
    except InvalidNameError as exc:
        raise PlanError(f"invalid plan {path}: key '{key}': {exc}") from None


def _string_list(path: Path, document: Mapping[str, Any], key: str, *, allow_empty: bool) -> tuple[str, ...]:
    value = document[key]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise PlanError(
            f"invalid plan {path}: '{key}' is {_toml_type(value)}, expected a list of strings ({_KEY_HELP[key]})"
        )
    if not value and not allow_empty:
        raise PlanError(f"invalid plan {path}: '{key}' is empty; list at least one ({_KEY_HELP[key]})")
    return tuple(value)


def _run_folder(path: Path, document: Mapping[str, Any], focus: str) -> tuple[Path, str]:
    value = document["run_folder"]
    if not isinstance(value, str) or not value:
        raise PlanError(
            f"invalid plan {path}: 'run_folder' is {_toml_type(value)}, expected a non-empty string "
            f"({_KEY_HELP['run_folder']})"
        )
    folder = Path(value)
    if folder.name != focus:
        raise PlanError(
            f"invalid plan {path}: 'run_folder' {value!r} ends in {folder.name!r}, expected the focus "
            f"{focus!r}; write run_folder as <reports root>/<run-id>/{focus}"
        )
    run_id = folder.parent.name
    if not RUN_ID_PATTERN.match(run_id):
        raise PlanError(
            f"invalid plan {path}: 'run_folder' {value!r} has run ID {run_id!r}, expected the form "
            "YYYY-MM-DDTHHMMSSZ (UTC, for example 2026-03-14T150926Z); write run_folder as "
            f"<reports root>/<run-id>/{focus}"
        )
    return folder.parent.parent, run_id


def _artifacts(path: Path, document: Mapping[str, Any]) -> tuple[str, ...]:
    artifacts = _string_list(path, document, "artifacts", allow_empty=False)
    unknown = [name for name in artifacts if name not in KNOWN_ARTIFACTS]
    if unknown:
        raise PlanError(
            f"invalid plan {path}: 'artifacts' lists unknown artifact(s) {', '.join(map(repr, unknown))}; "
            f"use {', '.join(KNOWN_ARTIFACTS)}"
        )
    return tuple(dict.fromkeys(artifacts))


def _toml_type(value: Any) -> str:
    return {
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a float",
        list: "an array",
        dict: "a table",
    }.get(type(value), f"a {type(value).__name__}")


# Checking artifacts.


def check_plan(plan: EvidencePlan) -> list[ArtifactStatus]:
    """Check each artifact that ``plan`` requires, in the plan's order."""
    folder = plan.run_folder
    entries, evidence_error = _read_entries(folder)
    checks = {
        ARTIFACT_RED_LOG: lambda: _check_log(plan, entries, evidence_error, KIND_RED),
        ARTIFACT_GREEN_LOG: lambda: _check_log(plan, entries, evidence_error, KIND_GREEN),
        ARTIFACT_EVIDENCE: lambda: _check_evidence(plan, entries, evidence_error),
        ARTIFACT_NOTES: lambda: _check_notes(folder / NOTES_FILE_NAME),
    }
    return [checks[artifact]() for artifact in plan.artifacts]


def _read_entries(folder: Path) -> tuple[list[EvidenceEntry], str | None]:
    try:
        return read_evidence(folder), None
    except (OSError, ValueError, TypeError) as exc:
        return [], f"{folder / EVIDENCE_FILE_NAME} is unreadable: {exc}"


def _check_log(
    plan: EvidencePlan, entries: Sequence[EvidenceEntry], evidence_error: str | None, kind: str
) -> ArtifactStatus:
    artifact = f"{kind}_log"
    of_kind = [entry for entry in entries if entry.kind == kind and entry.label == plan.label]
    default_file = plan.run_folder / f"pytest_{plan.label}_{kind}.log"
    if evidence_error is not None:
        return ArtifactStatus(artifact, default_file, default_file.is_file(), False, evidence_error)
    if not of_kind:
        detail = (
            f"no {kind} entry for label {plan.label!r} in {EVIDENCE_FILE_NAME}; run "
            f"'ptycho-harness tdd {kind} --plan {plan.path}'"
        )
        return ArtifactStatus(artifact, default_file, default_file.is_file(), False, detail)
    entry = max(of_kind, key=lambda item: item.started_at)
    log_file = plan.run_folder / entry.log_file
    problems = []
    if not log_file.is_file():
        problems.append(f"the log {entry.log_file} named by the entry is missing")
    if not entry.valid:
        problems.append(f"the latest {kind} is invalid ({entry.classification}: {entry.reason})")
    if list(entry.pytest_args) != plan.pytest_arguments:
        problems.append(
            f"the latest {kind} ran pytest with {entry.pytest_args}, but the plan selects "
            f"{plan.pytest_arguments}; capture it again with --plan"
        )
    if kind == KIND_GREEN:
        red = _latest(entries, KIND_RED, plan.label)
        problems += [f"pair: {problem}" for problem in pair_problems(red, entry) if "green is invalid" not in problem]
    detail = "; ".join(problems) if problems else f"valid {kind} ({entry.classification}), attempt {entry.attempt}"
    return ArtifactStatus(artifact, log_file, log_file.is_file(), not problems, detail)


def _latest(entries: Sequence[EvidenceEntry], kind: str, label: str) -> EvidenceEntry | None:
    of_kind = [entry for entry in entries if entry.kind == kind and entry.label == label]
    return max(of_kind, key=lambda item: item.started_at) if of_kind else None


def _check_evidence(
    plan: EvidencePlan, entries: Sequence[EvidenceEntry], evidence_error: str | None
) -> ArtifactStatus:
    path = plan.run_folder / EVIDENCE_FILE_NAME
    if evidence_error is not None:
        return ArtifactStatus(ARTIFACT_EVIDENCE, path, path.is_file(), False, evidence_error)
    if not path.is_file():
        return ArtifactStatus(ARTIFACT_EVIDENCE, path, False, False, "missing; a red or green capture writes it")
    of_label = [entry for entry in entries if entry.label == plan.label]
    if not of_label:
        return ArtifactStatus(
            ARTIFACT_EVIDENCE, path, True, False, f"it has no entry for label {plan.label!r}"
        )
    missing_logs = sorted(entry.log_file for entry in of_label if not (plan.run_folder / entry.log_file).is_file())
    if missing_logs:
        return ArtifactStatus(
            ARTIFACT_EVIDENCE, path, True, False, f"entries name logs that are missing: {', '.join(missing_logs)}"
        )
    return ArtifactStatus(ARTIFACT_EVIDENCE, path, True, True, f"{len(of_label)} entr{'y' if len(of_label) == 1 else 'ies'}")


def _check_notes(path: Path) -> ArtifactStatus:
    if not path.is_file():
        return ArtifactStatus(ARTIFACT_NOTES, path, False, False, f"missing; write what changed and why into {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return ArtifactStatus(ARTIFACT_NOTES, path, True, False, f"unreadable: {exc}")
    if not text.strip():
        return ArtifactStatus(ARTIFACT_NOTES, path, True, False, "empty; write what changed and why")
    return ArtifactStatus(ARTIFACT_NOTES, path, True, True, f"{len(text.splitlines())} line(s)")


def format_plan_check(plan: EvidencePlan, statuses: Sequence[ArtifactStatus]) -> str:
    """Render the artifact check as the text that ``ptycho-harness tdd check`` prints."""
    lines = [f"plan {plan.path}: focus {plan.focus} (label {plan.label}) in {plan.run_folder}"]
    width = max(len(status.artifact) for status in statuses) if statuses else 0
    for status in statuses:
        if status.valid:
            state = "ok"
        elif status.exists:
            state = "INVALID"
        else:
            state = "MISSING"
        lines.append(f"  {status.artifact:<{width}}  {state:<7}  {status.file.name}: {status.detail}")
    return "\n".join(lines)
