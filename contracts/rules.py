"""The rule catalogue: one rule, one stable ID, one check, one valid and one violating example.

Family modules (``contracts.dataset`` for the canonical NPZ) build their rules with
``Rule`` and add them through ``register``. Importing ``contracts`` loads every family,
so ``CATALOGUE`` is complete once the package is imported. The written spec,
``contracts/specs/data_contracts.md``, lists the same IDs.
"""

from __future__ import annotations

import enum
import logging
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from contracts.errors import InputError

logger = logging.getLogger(__name__)

# A check receives the family's view of one dataset (a file or in-memory arrays).
Check = Callable[[Any], list["Finding"]]
# Build a valid example: key -> array.
ExampleFactory = Callable[[], dict[str, np.ndarray]]
# Turn a valid dataset into one that breaks exactly one rule; the generator picks
# which element or key to break.
Violator = Callable[[dict[str, np.ndarray], np.random.Generator], dict[str, np.ndarray]]


class Severity(str, enum.Enum):
    """How much a violation counts: only errors change the exit status."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """A check result before the runner attaches rule ID, severity and file."""

    key: str | None
    seen: str
    expected: str
    fix: str
    index: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Violation:
    """One broken rule at one place in one file (or in-memory dataset).

    ``index`` is the array index of the first offending element where that helps
    (for example ``(12,)`` for scan position 12, or ``(3, 10, 7)`` for one pixel of
    pattern 3). ``check_error`` marks a check that raised instead of finishing, and
    ``seen`` then contains the exception.
    """

    rule_id: str
    severity: Severity
    file: str
    key: str | None
    seen: str
    expected: str
    fix: str
    index: tuple[int, ...] | None = None
    check_error: bool = False

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    @property
    def location(self) -> str:
        """File, key and index as one string, e.g. ``data.npz:diffraction[3, 10, 7]``."""
        where = self.file
        if self.key is not None:
            where += f":{self.key}"
        if self.index is not None:
            where += "[" + ", ".join(str(i) for i in self.index) + "]"
        return where

    def message(self) -> str:
        return (
            f"{self.rule_id} ({self.severity.value}) at {self.location}: "
            f"seen {self.seen}; expected {self.expected}; fix: {self.fix}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "severity": self.severity.value,
            "file": self.file,
            "key": self.key,
            "index": list(self.index) if self.index is not None else None,
            "seen": self.seen,
            "expected": self.expected,
            "fix": self.fix,
            "check_error": self.check_error,
        }


@dataclass(frozen=True)
class Rule:
    """One contract rule.

    ``section`` is the numbered section of the written spec that states the rule.
    ``valid_example`` builds a dataset that passes every rule of the family.
    ``violate`` breaks exactly this rule in any valid dataset, and
    ``violating_example()`` applies it to the valid example.
    """

    id: str
    family: str
    severity: Severity
    section: str
    title: str
    statement: str
    check: Check
    valid_example: ExampleFactory
    violate: Violator

    def violating_example(self) -> dict[str, np.ndarray]:
        return self.violate(self.valid_example(), np.random.default_rng(0))

    def evaluate(self, view: Any, file: str) -> list[Violation]:
        """Run the check and attach this rule's ID and severity to what it finds.

        A check that raises (other than ``InputError``, which means the file cannot be
        read and is passed on) becomes one error-severity violation marked
        ``check_error`` so that the remaining rules still run.
        """
        try:
            findings = self.check(view)
        except InputError:
            raise
        except Exception as error:  # noqa: BLE001 - a crashing check is reported, not fatal
            logger.error("check %s failed on %s:\n%s", self.id, file, traceback.format_exc())
            return [
                Violation(
                    rule_id=self.id,
                    severity=Severity.ERROR,
                    file=file,
                    key=None,
                    seen=f"the check raised {type(error).__name__}: {error}",
                    expected="the check to finish",
                    fix="report this as a bug in ptycho-harness, with the file if possible",
                    check_error=True,
                )
            ]
        return [
            Violation(
                rule_id=self.id,
                severity=self.severity,
                file=file,
                key=finding.key,
                seen=finding.seen,
                expected=finding.expected,
                fix=finding.fix,
                index=finding.index,
            )
            for finding in findings
        ]


CATALOGUE: dict[str, Rule] = {}


def register(rules: Iterable[Rule]) -> None:
    """Add rules to ``CATALOGUE``; an ID may be registered only once."""
    for rule in rules:
        if rule.id in CATALOGUE:
            raise ValueError(f"rule ID {rule.id} is registered twice; rule IDs must be unique")
        CATALOGUE[rule.id] = rule


def rule_builder(family: str, valid_example: ExampleFactory) -> Callable[..., Rule]:
    """Return a function that builds the rules of ``family``, all sharing one valid example.

    The function takes (number, severity, section, title, statement, check, violate) and
    names the rule ``FAMILY-NNN``.
    """

    def build(
        number: int, severity: Severity, section: str, title: str, statement: str, check: Any, violate: Any
    ) -> Rule:
        return Rule(
            id=f"{family}-{number:03d}",
            family=family,
            severity=severity,
            section=section,
            title=title,
            statement=statement,
            check=check,
            valid_example=valid_example,
            violate=violate,
        )

    return build


def rules_of_family(family: str) -> list[Rule]:
    """Return the rules of one family (``"DATASET"``), in ID order."""
    return sorted((r for r in CATALOGUE.values() if r.family == family), key=lambda r: r.id)


def run_rules(rules: Iterable[Rule], view: Any, file: str) -> tuple[list[Violation], int]:
    """Run every rule on ``view``; return all violations and the number of rules run."""
    violations: list[Violation] = []
    count = 0
    for rule in rules:
        violations.extend(rule.evaluate(view, file))
        count += 1
    return violations, count


def count_by_severity(violations: Iterable[Violation]) -> Mapping[Severity, int]:
    counts = {Severity.ERROR: 0, Severity.WARNING: 0}
    for violation in violations:
        counts[violation.severity] += 1
    return counts
