"""Data contracts of the ptychography pipeline: the rule catalogue and its checks.

Importing the package registers every rule family in ``CATALOGUE``. Files are checked
with ``validate_file``. Arrays in memory are checked with ``check_dataset_arrays`` and
the ``check_*`` function of each runtime family. At pipeline stage boundaries the guards
(``guard_dataset``, ``guard_grouped``, ``guard_batch``, ``guard_recon``) check them.
Importing the package imports neither torch nor pandera.
"""

from contracts import batch, dataset, grouped, physics, recon
from contracts.batch import check_batch_tensors
from contracts.dataset import check_dataset_arrays
from contracts.errors import ContractViolationError, InputError
from contracts.grouped import check_grouped_arrays
from contracts.guards import GuardMode, GuardRecord, guard_batch, guard_dataset, guard_grouped, guard_recon, recording
from contracts.physics import check_physics_arrays
from contracts.recon import check_recon_arrays
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
    "batch",
    "check_batch_tensors",
    "check_dataset_arrays",
    "check_grouped_arrays",
    "check_physics_arrays",
    "check_recon_arrays",
    "dataset",
    "grouped",
    "guard_batch",
    "guard_dataset",
    "guard_grouped",
    "guard_recon",
    "physics",
    "recon",
    "recording",
    "validate_file",
]
