"""Validate files against the contracts and collect every violation in a ``FileReport``."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts import dataset, raw
from contracts.arrays import DatasetView
from contracts.errors import InputError
from contracts.npz import NpzArchive
from contracts import product
from contracts.rules import Severity, Violation, count_by_severity, rules_of_family, run_rules

logger = logging.getLogger(__name__)

# Contract names accepted by ``validate_file`` (and ``--contract``) and their rule family.
CONTRACTS: dict[str, str] = {"dataset": dataset.FAMILY, "raw": raw.FAMILY}
CONTRACTS["product"] = product.FAMILY


@dataclass(frozen=True)
class FileReport:
    """The result of validating one file: every violation and how many rules ran."""

    path: str
    family: str
    violations: tuple[Violation, ...]
    rules_checked: int
    # The PRODUCT profile the file was checked against ("written" or "ptychodus").
    profile: str | None = None

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
            **({"profile": self.profile} if self.profile is not None else {}),
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


def validate_file(
    path: str | os.PathLike[str], contract: str | None = None, profile: str | None = None
) -> FileReport:
    """Check one file against a contract and return every violation found.

    ``contract`` names the contract (see ``CONTRACTS``); None chooses it from the
    file's content: an HDF5 file is a PRODUCT, an NPZ is judged by its keys.
    ``profile`` forces a PRODUCT profile ("written" or "ptychodus") and is ignored for
    other families. Headers are read first; values are scanned in bounded-memory
    chunks and object arrays are never loaded.

    Raises:
        InputError: the file cannot be read (missing, empty, not an NPZ, truncated,
            corrupt header, data shorter than its header declares).
        ValueError: ``contract`` is not a known contract name, or ``profile`` not a
            known profile.
    """
    path = Path(path)
    family = _choose_family(path, contract)
    # --- PRODUCT: HDF5 product files, by signature or by --contract product ---
    if family == product.FAMILY or (family is None and product.has_hdf5_signature(path)):
        return _validate_product(path, profile)
    # --- end PRODUCT ---
    with NpzArchive(path) as archive:
        view = DatasetView({key: archive.source(key) for key in archive.members}, str(path))
        if family is None:
            family = _detect_npz_family(path, view)
        violations, rules_checked = run_rules(rules_of_family(family), view, str(path))
    report = FileReport(path=str(path), family=family, violations=tuple(violations), rules_checked=rules_checked)
    logger.info(
        "%s: %d rules of %s checked, %d errors, %d warnings",
        path, rules_checked, family, len(report.errors), len(report.warnings),
    )
    return report


def _choose_family(path: Path, contract: str | None) -> str | None:
    """Return the family that ``contract`` names, or None when the content decides."""
    if contract is None:
        return None
    try:
        return CONTRACTS[contract.lower()]
    except KeyError:
        known = ", ".join(sorted(CONTRACTS))
        raise ValueError(f"unknown contract {contract!r}; expected one of: {known}") from None


# --- RAW: choosing between the canonical and the raw NPZ layout by content ---------


def _detect_npz_family(path: Path, view: DatasetView) -> str:
    """Judge an NPZ as RAW when its headers show a raw-layout trait, else as DATASET."""
    traits = raw.raw_traits(view)
    if traits:
        logger.info("%s: checking against the raw contract because of: %s", path, "; ".join(traits))
        return raw.FAMILY
    logger.info("%s: checking against the dataset contract (no raw-layout trait found)", path)
    return dataset.FAMILY


# --- end RAW ---------------------------------------------------------------------


# --- PRODUCT: HDF5 product files -----------------------------------------------------


def _validate_product(path: Path, profile: str | None) -> FileReport:
    result = product.check_product_file(path, profile)
    report = FileReport(
        path=str(path),
        family=product.FAMILY,
        violations=result.violations,
        rules_checked=result.rules_checked,
        profile=result.profile,
    )
    logger.info(
        "%s: %d rules of %s (%s profile) checked, %d errors, %d warnings",
        path, result.rules_checked, product.FAMILY, result.profile, len(report.errors), len(report.warnings),
    )
    return report


# --- end PRODUCT ---------------------------------------------------------------------


__all__ = ["CONTRACTS", "FileReport", "InputError", "UnreadableFile", "validate_file"]
