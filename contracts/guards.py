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

from contracts import batch, grouped, recon
from contracts.dataset import FAMILY as DATASET_FAMILY
from contracts.dataset import memory_view
from contracts.errors import ContractViolationError
from contracts.rules import Violation, rules_of_family, run_rules
from contracts.runtime import RuntimeView, make_view, run_family

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
        return _finish(GuardRecord(stage, DATASET_FAMILY, mode, 0, ()))
    label = f"<{stage}>"
    violations, rules_checked = run_rules(rules_of_family(DATASET_FAMILY), memory_view(arrays, label), label)
    return _finish(GuardRecord(stage, DATASET_FAMILY, mode, rules_checked, tuple(violations)))


def guard_grouped(
    arrays: Mapping[str, object],
    *,
    stage: str,
    gridsize: int | None = None,
    mode: GuardMode = GuardMode.RAISE,
) -> GuardRecord:
    """Check grouped arrays (and optionally the scan positions they index) against the GROUPED rules.

    ``arrays`` contains ``diffraction``, ``coords_offsets``, ``coords_relative`` and
    ``nn_indices``, and optionally the dataset's ``xcoords`` and ``ycoords``.

    Raises:
        ContractViolationError: ``mode`` is ``raise`` and a rule is broken.
    """
    params = {grouped.GRIDSIZE: gridsize} if gridsize is not None else None
    return _guard_runtime(grouped.FAMILY, arrays, params, stage, mode)


def guard_batch(
    tensors: Mapping[str, object],
    *,
    stage: str,
    device: str | None = None,
    mode: GuardMode = GuardMode.RAISE,
) -> GuardRecord:
    """Check the tensors of one batch (``X``, ``positions``, ``probe``, ``output``) against the BATCH rules.

    Only shapes, dtypes and devices are read, so the guard copies no tensor and does not
    synchronise a GPU. ``device`` is where every tensor must be; None skips that rule.

    Raises:
        ContractViolationError: ``mode`` is ``raise`` and a rule is broken.
    """
    params = {batch.EXPECTED_DEVICE: device} if device is not None else None
    return _guard_runtime(batch.FAMILY, tensors, params, stage, mode)


def guard_recon(
    arrays: Mapping[str, object],
    *,
    stage: str,
    mode: GuardMode = GuardMode.RAISE,
    sample_rows: int | None = None,
) -> GuardRecord:
    """Check a stitching result against the RECON rules.

    ``arrays`` contains ``patches``, ``offsets_x_px``, ``offsets_y_px``, ``canvas``,
    ``counts``, ``amplitude``, ``phase`` and optionally ``weight``;
    ``contracts.recon.offsets_from_origin`` converts scan positions and a canvas origin
    into the offsets. With ``sample_rows`` the sum and count rules compare that many
    evenly spaced canvas rows instead of all of them, at a fraction of the cost.

    Raises:
        ContractViolationError: ``mode`` is ``raise`` and a rule is broken.
    """
    params = None if sample_rows is None else {"sample_rows": sample_rows}
    return _guard_runtime(recon.FAMILY, arrays, params, stage, mode)


def _guard_runtime(
    family: str, arrays: Mapping[str, object], params: Mapping[str, object] | None, stage: str, mode: GuardMode
) -> GuardRecord:
    mode = GuardMode(mode)
    if mode is GuardMode.OFF:
        return _finish(GuardRecord(stage, family, mode, 0, ()))
    view: RuntimeView = make_view(arrays, params, f"<{stage}>")
    violations, rules_checked = run_family(family, view)
    return _finish(GuardRecord(stage, family, mode, rules_checked, tuple(violations)))


def _finish(record: GuardRecord) -> GuardRecord:
    """Keep the record, then log (warn mode) or raise (raise mode, error-severity violations)."""
    _keep(record)
    if record.mode is GuardMode.WARN:
        for violation in record.violations:
            logger.warning("contract guard at stage %r: %s", record.stage, violation.message())
    elif record.mode is GuardMode.RAISE and not record.ok:
        raise ContractViolationError(record.stage, record.violations)
    return record


def _keep(record: GuardRecord) -> None:
    records = _records.get()
    if records is not None:
        records.append(record)
