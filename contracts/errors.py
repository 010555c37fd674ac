"""Exceptions raised by contract checking: unreadable input and contract violations."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from contracts.rules import Violation

logger = logging.getLogger(__name__)


class InputError(Exception):
    """A file that cannot be read at all: missing, empty, not an NPZ, truncated or corrupt.

    The message is a plain sentence meant for the user; it names the file and the problem.
    """


class ContractViolationError(Exception):
    """Error-severity contract violations found by a guard.

    ``violations`` contains every violation found, warnings included. The message lists
    each with its rule ID, the value seen, the value expected and the fix.
    """

    def __init__(self, stage: str, violations: Sequence[Violation]) -> None:
        self.stage = stage
        self.violations = tuple(violations)
        errors = [v for v in self.violations if v.is_error]
        lines = [f"{len(errors)} contract violation(s) at stage {stage!r}:"]
        lines += [f"  {v.message()}" for v in self.violations]
        super().__init__("\n".join(lines))
