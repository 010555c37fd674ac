"""Data contracts of the ptychography pipeline: the rule catalogue and its checks.

Importing the package registers every rule family in ``CATALOGUE``. Files are checked
with ``validate_file``; arrays in memory with ``check_dataset_arrays`` or, at pipeline
stage boundaries, with ``guard_dataset``.
"""

from contracts import dataset
from contracts.dataset import check_dataset_arrays
from contracts.errors import ContractViolationError, InputError
from contracts.guards import GuardMode, GuardRecord, guard_dataset, recording
from contracts.rules import CATALOGUE, Rule, Severity, Violation
from contracts.validate import FileReport, validate_file

__all__ = [
    "CATALOGUE",
    "ContractViolationError",
    "FileReport",
    "GuardMode",
    "GuardRecord",
    "InputError",
    "Rule",
    "Severity",
    "Violation",
    "check_dataset_arrays",
    "dataset",
    "guard_dataset",
    "recording",
    "validate_file",
]
