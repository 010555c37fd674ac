"""Tables of the contracts as pandera ``DataFrameSchema`` objects: scan positions and validation results.

Scan positions (``xcoords``, ``ycoords`` float64 finite, optional unique integer
``scan_index``) and the rows of a validation report (one violation per row) are tables,
so pandera's pandas backend states them. Users get the schemas, their Hypothesis
strategies (``schema.strategy()``) and their YAML form (``schema.to_yaml()``) from here.
pandas and pandera are imported on first use; file validation never imports them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    from pandera.api.pandas.container import DataFrameSchema

    from contracts.validate import FileReport, UnreadableFile

logger = logging.getLogger(__name__)

RESULT_COLUMNS = ("rule_id", "severity", "file", "key", "index", "seen", "expected", "fix")
# rule_id of a results row for a file that could not be read at all.
UNREADABLE = "unreadable"


def scan_positions_schema() -> DataFrameSchema:
    """Return the schema of a scan-position table: one row per position, in object pixels."""
    import pandera.pandas as pa

    finite = [pa.Check.gt(-np.inf), pa.Check.lt(np.inf)]
    return pa.DataFrameSchema(
        {
            "xcoords": pa.Column(np.float64, finite, nullable=False, description="patch-centre column, object pixels"),
            "ycoords": pa.Column(np.float64, finite, nullable=False, description="patch-centre row, object pixels"),
            "scan_index": pa.Column(np.int64, nullable=False, unique=True, required=False,
                                    description="position in acquisition order"),
        },
        strict=True,
        name="scan_positions",
    )


def results_schema() -> DataFrameSchema:
    """Return the schema of a results table: one row per violation or unreadable file."""
    import pandera.pandas as pa

    return pa.DataFrameSchema(
        {
            "rule_id": pa.Column(str, pa.Check.str_matches(rf"^([A-Z]+-\d{{3}}|{UNREADABLE})$")),
            "severity": pa.Column(str, pa.Check.isin(["error", "warning"])),
            "file": pa.Column(str),
            "key": pa.Column(str, nullable=True),
            "index": pa.Column(str, nullable=True, description="array index, comma-separated"),
            "seen": pa.Column(str),
            "expected": pa.Column(str),
            "fix": pa.Column(str),
        },
        strict=True,
        ordered=True,
        # Coercion gives every column pandas' string dtype, also when the table is empty.
        coerce=True,
        name="validation_results",
    )


def scan_positions_frame(xcoords: Any, ycoords: Any, scan_index: Any = None) -> pd.DataFrame:
    """Build and validate a scan-position table from (n,) arrays.

    Raises:
        pandera.errors.SchemaErrors: a value breaks the schema (every failure listed).
    """
    import pandas as pd

    columns = {"xcoords": np.asarray(xcoords), "ycoords": np.asarray(ycoords)}
    if scan_index is not None:
        columns["scan_index"] = np.asarray(scan_index)
    return scan_positions_schema().validate(pd.DataFrame(columns), lazy=True)


def results_frame(reports: Sequence[FileReport], unreadable: Sequence[UnreadableFile] = ()) -> pd.DataFrame:
    """Return every violation of ``reports`` (and every unreadable file) as a validated DataFrame."""
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for report in reports:
        for violation in report.violations:
            rows.append({
                "rule_id": violation.rule_id,
                "severity": violation.severity.value,
                "file": violation.file,
                "key": violation.key,
                "index": None if violation.index is None else ", ".join(str(i) for i in violation.index),
                "seen": violation.seen,
                "expected": violation.expected,
                "fix": violation.fix,
            })
    for entry in unreadable:
        rows.append({"rule_id": UNREADABLE, "severity": "error", "file": entry.path, "key": None, "index": None,
                     "seen": entry.message, "expected": "a readable file of a supported format",
                     "fix": "act on the message in seen: repair, decompress or convert the file"})
    frame = pd.DataFrame(rows, columns=list(RESULT_COLUMNS), dtype=object)
    return results_schema().validate(frame, lazy=True)


def render_csv(reports: Sequence[FileReport], unreadable: Sequence[UnreadableFile] = ()) -> str:
    """Return the results table as CSV text with a header row."""
    return results_frame(reports, unreadable).to_csv(index=False)
