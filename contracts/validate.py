"""Validate files against the contracts and collect every violation in a ``FileReport``."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts import dataset
from contracts.arrays import DatasetView
from contracts.errors import InputError
from contracts.npz import NpzArchive
from contracts.rules import Severity, Violation, count_by_severity, rules_of_family, run_rules

logger = logging.getLogger(__name__)

# Contract names accepted by ``validate_file`` (and ``--contract``) and their rule family.
CONTRACTS: dict[str, str] = {"dataset": dataset.FAMILY}


@dataclass(frozen=True)
class FileReport:
    """The result of validating one file: every violation and how many rules ran."""

    path: str
    family: str
    violations: tuple[Violation, ...]
    rules_checked: int

    @property
    def errors(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.severity is Severity.WARNING)

    @property
    def ok(self) -> bool:
        """True when no error-severity violation was found; warnings do not count."""
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        counts = count_by_severity(self.violations)
        return {
            "path": self.path,
            "family": self.family,
            "ok": self.ok,
            "rules_checked": self.rules_checked,
            "errors": counts[Severity.ERROR],
            "warnings": counts[Severity.WARNING],
            "violations": [v.to_dict() for v in self.violations],
        }


@dataclass(frozen=True)
class UnreadableFile:
    """A file that could not be read at all, with the reason as a plain sentence."""

    path: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "error": self.message}


def validate_file(path: str | os.PathLike[str], contract: str | None = None) -> FileReport:
    """Check one file against a contract and return every violation found.

    ``contract`` names the contract (see ``CONTRACTS``); None chooses it from the
    file's content. Headers are read first; values are scanned in bounded-memory
    chunks and object arrays are never loaded.

    Raises:
        InputError: the file cannot be read (missing, empty, not an NPZ, truncated,
            corrupt header, data shorter than its header declares).
        ValueError: ``contract`` is not a known contract name.
    """
    path = Path(path)
    family = _choose_family(path, contract)
    with NpzArchive(path) as archive:
        view = DatasetView({key: archive.source(key) for key in archive.members}, str(path))
        violations, rules_checked = run_rules(rules_of_family(family), view, str(path))
    report = FileReport(path=str(path), family=family, violations=tuple(violations), rules_checked=rules_checked)
    logger.info(
        "%s: %d rules of %s checked, %d errors, %d warnings",
        path, rules_checked, family, len(report.errors), len(report.warnings),
    )
    return report


def _choose_family(path: Path, contract: str | None) -> str:
    if contract is None:
        # NOTE: only the canonical NPZ contract exists so far, so every file is checked
        # as a DATASET; choosing among families by content starts when a second one exists.
        logger.info("%s: checking against the dataset contract (chosen by default)", path)
        return dataset.FAMILY
    try:
        return CONTRACTS[contract.lower()]
    except KeyError:
        known = ", ".join(sorted(CONTRACTS))
        raise ValueError(f"unknown contract {contract!r}; expected one of: {known}") from None


__all__ = ["CONTRACTS", "FileReport", "InputError", "UnreadableFile", "validate_file"]
