"""Contract guards at pipeline stage boundaries, and a recorder of every guard run.

A guard checks the arrays passing a stage against a rule family. In ``warn`` mode it
logs each violation; in ``raise`` mode it raises ``ContractViolationError`` when an
error-severity rule is broken. Every guard call returns a ``GuardRecord``, and all
records made inside ``recording()`` are collected so that a run report can list each
stage that was checked.
"""

from __future__ import annotations

import contextvars
import enum
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from contracts.dataset import FAMILY as DATASET_FAMILY
from contracts.dataset import memory_view
from contracts.errors import ContractViolationError
from contracts.rules import Violation, rules_of_family, run_rules

logger = logging.getLogger(__name__)


class GuardMode(str, enum.Enum):
    """Guard behaviour on violations: check nothing, log them, or raise on errors."""

    OFF = "off"
    WARN = "warn"
    RAISE = "raise"


@dataclass(frozen=True)
class GuardRecord:
    """One guard run: the stage, the family checked, the mode and what was found.

    ``rules_checked`` is 0 when the mode is ``off`` (nothing was checked).
    """

    stage: str
    family: str
    mode: GuardMode
    rules_checked: int
    violations: tuple[Violation, ...]

    @property
    def ok(self) -> bool:
        return not any(v.is_error for v in self.violations)

    def to_dict(self) -> dict[str, object]:
        return {
            "stage": self.stage,
            "family": self.family,
            "mode": self.mode.value,
            "rules_checked": self.rules_checked,
            "ok": self.ok,
            "violations": [v.to_dict() for v in self.violations],
        }


_records: contextvars.ContextVar[list[GuardRecord] | None] = contextvars.ContextVar(
    "contract_guard_records", default=None
)


@contextmanager
def recording() -> Iterator[list[GuardRecord]]:
    """Collect every ``GuardRecord`` made inside the block into the yielded list.

    Blocks nest: an inner block collects its own records and does not pass them to
    the outer one.
    """
    records: list[GuardRecord] = []
    token = _records.set(records)
    try:
        yield records
    finally:
        _records.reset(token)


def guard_dataset(
    arrays: Mapping[str, object], *, stage: str, mode: GuardMode = GuardMode.RAISE
) -> GuardRecord:
    """Check in-memory dataset arrays against the DATASET rules at ``stage``.

    Raises:
        ContractViolationError: ``mode`` is ``raise`` and an error-severity rule is broken.
    """
    mode = GuardMode(mode)
    if mode is GuardMode.OFF:
        record = GuardRecord(stage, DATASET_FAMILY, mode, 0, ())
        _keep(record)
        return record

    label = f"<{stage}>"
    violations, rules_checked = run_rules(rules_of_family(DATASET_FAMILY), memory_view(arrays, label), label)
    record = GuardRecord(stage, DATASET_FAMILY, mode, rules_checked, tuple(violations))
    _keep(record)
    if mode is GuardMode.WARN:
        for violation in violations:
            logger.warning("contract guard at stage %r: %s", stage, violation.message())
    elif not record.ok:
        raise ContractViolationError(stage, violations)
    return record


def _keep(record: GuardRecord) -> None:
    records = _records.get()
    if records is not None:
        records.append(record)
