"""pandera schemas: scan-position and results tables, and the runtime array schemas."""

from __future__ import annotations

import csv
import io
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given

from contracts.dataset import make_valid_dataset

pa = pytest.importorskip("pandera.pandas")
from contracts.tables import (  # noqa: E402 - needs pandas, skipped above without it
    RESULT_COLUMNS,
    render_csv,
    results_frame,
    scan_positions_frame,
    scan_positions_schema,
)


def test_tables_scan_positions_valid_frame():
    frame = scan_positions_frame([1.5, 2.5], [3.0, 4.0], np.array([0, 1]))
    assert list(frame.columns) == ["xcoords", "ycoords", "scan_index"]


def test_tables_scan_positions_report_every_failure():
    with pytest.raises(pa.errors.SchemaErrors, match="xcoords") as caught:
        scan_positions_frame([1.0, np.nan], [np.inf, 2.0], np.array([4, 4]))
    columns = set(caught.value.failure_cases["column"].dropna())
    assert "xcoords" in columns
    assert "ycoords" in columns
    assert "scan_index" in columns


def test_tables_scan_positions_reject_float32():
    with pytest.raises(pa.errors.SchemaErrors, match="float64"):
        scan_positions_frame(np.ones(3, np.float32), np.ones(3))


@given(scan_positions_schema().strategy(size=5))
def test_tables_property_schema_strategy_frames_validate(frame):
    validated = scan_positions_schema().validate(frame)
    assert len(validated) == 5
    assert validated["scan_index"].is_unique


def test_tables_scan_positions_yaml_round_trip():
    schema = scan_positions_schema()
    assert pa.DataFrameSchema.from_yaml(schema.to_yaml()) == schema


def test_tables_results_frame_one_row_per_violation(npz_writer, tmp_path):
    from contracts.validate import UnreadableFile, validate_file

    arrays = make_valid_dataset()
    arrays["diffraction"][1, 2, 3] = np.nan
    report = validate_file(npz_writer(arrays))
    frame = results_frame([report], [UnreadableFile(path="x.npz", message="x.npz: the file is empty")])
    assert tuple(frame.columns) == RESULT_COLUMNS
    assert frame["rule_id"].tolist() == ["DATASET-005", "unreadable"]
    assert frame["index"].iloc[0] == "1, 2, 3"
    assert frame["index"].isna().tolist() == [False, True]


def test_tables_validate_csv_option(npz_writer):
    arrays = make_valid_dataset()
    arrays["probeGuess"] = arrays["probeGuess"].astype(np.complex128)
    path = npz_writer(arrays)
    result = subprocess.run(
        [sys.executable, "-m", "harness", "validate", "--csv", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 1, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["rule_id"] for row in rows] == ["DATASET-010"]
    assert rows[0]["seen"] == "dtype complex128"


def test_tables_render_csv_empty_has_header():
    assert render_csv([]).strip() == ",".join(RESULT_COLUMNS)


def test_schemas_runtime_array_schema_validates_named_axes():
    xr = pytest.importorskip("xarray")
    from contracts.schemas import array_schema, schemas_yaml

    schema = array_schema("RECON", "phase")
    good = xr.DataArray(np.zeros((4, 5), np.float32), dims=("row", "col"), name="phase")
    assert schema.validate(good).identical(good)
    with pytest.raises(Exception, match="in_range"):
        schema.validate(xr.DataArray(np.full((4, 5), 4.0, np.float32), dims=("row", "col"), name="phase"))
    assert "dims:\n- batch\n- row\n- col\n- channel" in schemas_yaml("GROUPED")
