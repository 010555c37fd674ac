"""The GROUPED family: scan positions grouped into gridsize x gridsize neighbourhoods.

Grouped data is what the network's data pipeline builds from a canonical dataset:
``diffraction`` (B, N, N, C) float32 amplitudes, ``coords_offsets`` (B, 1, 2, 1) group
centres, ``coords_relative`` (B, 1, 2, C) positions of each channel relative to its
centre and ``nn_indices`` (B, C) integer indices into the dataset's scan positions, with
C = gridsize^2. Channel c sits at grid (row, col) = (c // gridsize, c % gridsize), and
the coordinate axis of length 2 is ordered [x, y]. With the dataset's ``xcoords`` and
``ycoords`` the relation coords_relative = position[nn_indices] - coords_offsets is
checked too. Layouts, dtypes and value ranges of single arrays go through the pandera
schemas of ``contracts.schemas``; the relations are checked here.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from contracts.rules import Finding, Severity, Violation, register, rule_builder
from contracts.runtime import (
    RuntimeView,
    check_family,
    dtype_name,
    is_float,
    is_integer,
    replace,
    shape_of,
)
from contracts.schemas import DTYPE, LAYOUT, VALUES, ArraySpec, add_specs, schema_findings

logger = logging.getLogger(__name__)

FAMILY = "GROUPED"

DIFFRACTION = "diffraction"
OFFSETS = "coords_offsets"
RELATIVE = "coords_relative"
NN_INDICES = "nn_indices"
XCOORDS = "xcoords"
YCOORDS = "ycoords"
GRIDSIZE = "gridsize"
COORDINATE_KEYS = (OFFSETS, RELATIVE)

# coords_relative may differ from position[nn_indices] - coords_offsets by this much:
# an absolute part in pixels plus a part relative to the largest coordinate.
POSITION_ATOL_PX = 1e-3
POSITION_RTOL = 1e-6
# Consecutive column (row) means of a group must grow by more than this fraction of the
# mean distance of its channels from the group centre.
ORDER_STEP_FRACTION = 0.25

add_specs(
    ArraySpec(FAMILY, DIFFRACTION, ("batch", "row", "col", "channel"), shape=(None, None, None, None),
              dtype="float32", minimum=0.0, finite=True),
    ArraySpec(FAMILY, OFFSETS, ("batch", "one", "xy", "centre"), shape=(None, 1, 2, 1)),
    ArraySpec(FAMILY, RELATIVE, ("batch", "one", "xy", "channel"), shape=(None, 1, 2, None)),
    ArraySpec(FAMILY, NN_INDICES, ("batch", "channel"), shape=(None, None)),
)


def check_grouped_arrays(
    arrays: Mapping[str, Any], source: str = "<memory>", *, gridsize: int | None = None
) -> list[Violation]:
    """Check grouped arrays (NumPy or CPU tensors) against every GROUPED rule.

    ``arrays`` contains the four grouped keys and, optionally, the dataset's ``xcoords``
    and ``ycoords`` (n,) so that neighbour indices and relative positions can be checked
    against the scan positions. ``gridsize``, when given, fixes C = gridsize^2.
    """
    params = {GRIDSIZE: gridsize} if gridsize is not None else None
    return check_family(FAMILY, arrays, params, source)


def channel_grid_position(channel: int, gridsize: int) -> tuple[int, int]:
    """Return the (row, col) of ``channel`` in its gridsize x gridsize group (row-major)."""
    return channel // gridsize, channel % gridsize


# ---------------------------------------------------------------------------
# Helpers: each returns None when the layout rule of its key already fails.


def _diffraction_shape(view: RuntimeView) -> tuple[int, int, int, int] | None:
    value = view.get(DIFFRACTION)
    if value is None:
        return None
    shape = shape_of(value)
    if len(shape) != 4 or shape[1] != shape[2] or math.isqrt(shape[3]) ** 2 != shape[3] or 0 in shape:
        return None
    return shape  # type: ignore[return-value]


def _coordinates(view: RuntimeView, key: str, axis_one: int | None) -> np.ndarray | None:
    """Return (B, 2, C) float64 coordinates of ``key`` when its layout, dtype and values are valid."""
    value = view.get(key)
    if value is None or not is_float(value):
        return None
    shape = shape_of(value)
    if len(shape) != 4 or shape[1] != 1 or shape[2] != 2 or (axis_one is not None and shape[3] != axis_one):
        return None
    values = view.numpy(key)[:, 0].astype(np.float64)
    if not np.isfinite(values).all():
        return None
    return values


def _indices(view: RuntimeView) -> np.ndarray | None:
    value = view.get(NN_INDICES)
    if value is None or not is_integer(value) or len(shape_of(value)) != 2:
        return None
    return view.numpy(NN_INDICES).astype(np.int64)


def _positions(view: RuntimeView) -> np.ndarray | None:
    """Return the (n, 2) [x, y] scan positions when both are given as finite 1-D arrays of one length."""
    x, y = view.get(XCOORDS), view.get(YCOORDS)
    if x is None or y is None:
        return None
    x = view.numpy(XCOORDS).astype(np.float64)
    y = view.numpy(YCOORDS).astype(np.float64)
    if x.ndim != 1 or x.shape != y.shape or not (np.isfinite(x).all() and np.isfinite(y).all()):
        return None
    return np.stack([x, y], axis=1)


def _consistent(view: RuntimeView) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Return offsets (B, 2), relative (B, 2, C) and indices (B, C) when every layout and size agrees."""
    offsets = _coordinates(view, OFFSETS, 1)
    relative = _coordinates(view, RELATIVE, None)
    indices = _indices(view)
    if offsets is None or relative is None or indices is None:
        return None
    if not (offsets.shape[0] == relative.shape[0] == indices.shape[0]) or relative.shape[2] != indices.shape[1]:
        return None
    return offsets[:, :, 0], relative, indices


# ---------------------------------------------------------------------------
# Section 5.1: diffraction.


def check_diffraction_layout(view: RuntimeView) -> list[Finding]:
    value = view.get(DIFFRACTION)
    if value is None:
        return [Finding(key=DIFFRACTION, seen="key missing", expected="(B, N, N, C) float32 amplitudes",
                        fix="add the grouped patterns as diffraction (B, N, N, C)")]
    shape = shape_of(value)
    expected = "(B, N, N, C): square N x N frames, C = gridsize^2 channels last"
    found = schema_findings(FAMILY, DIFFRACTION, value, LAYOUT, expected, "store the groups as (B, N, N, C)")
    if found:
        return found
    if shape[1] != shape[2] and shape[2] == shape[3] and math.isqrt(shape[1]) ** 2 == shape[1]:
        fix = "the channel axis comes first: diffraction = np.transpose(diffraction, (0, 2, 3, 1))"
        return [Finding(key=DIFFRACTION, seen=f"shape {shape} (channels first)", expected=expected, fix=fix)]
    if 0 in shape or shape[1] != shape[2] or math.isqrt(shape[3]) ** 2 != shape[3]:
        return [Finding(key=DIFFRACTION, seen=f"shape {shape}", expected=expected,
                        fix="crop the frames to N x N and group gridsize^2 patterns per sample")]
    gridsize = view.params.get(GRIDSIZE)
    if gridsize is not None and shape[3] != int(gridsize) ** 2:
        return [Finding(key=DIFFRACTION, seen=f"{shape[3]} channels with gridsize {gridsize}",
                        expected=f"C = gridsize^2 = {int(gridsize) ** 2}",
                        fix="group the data again with the model's gridsize")]
    return []


def check_diffraction_dtype(view: RuntimeView) -> list[Finding]:
    value = view.get(DIFFRACTION)
    if value is None:
        return []
    return schema_findings(FAMILY, DIFFRACTION, value, DTYPE, "dtype float32",
                           "convert it: diffraction = diffraction.astype(np.float32)")


def check_diffraction_values(view: RuntimeView) -> list[Finding]:
    value = view.get(DIFFRACTION)
    if value is None or not is_float(value):
        return []
    return schema_findings(FAMILY, DIFFRACTION, value, VALUES, "finite amplitudes >= 0",
                           "group the canonical (already validated) diffraction; replace NaN and negative pixels")


# ---------------------------------------------------------------------------
# Section 5.2: coordinates.


def check_offsets_layout(view: RuntimeView) -> list[Finding]:
    value = view.get(OFFSETS)
    if value is None:
        return [Finding(key=OFFSETS, seen="key missing", expected="(B, 1, 2, 1) group centres [x, y]",
                        fix="add coords_offsets, the mean scan position of each group")]
    return schema_findings(FAMILY, OFFSETS, value, LAYOUT, "(B, 1, 2, 1) group centres [x, y]",
                           "reshape it: coords_offsets = coords_offsets.reshape(B, 1, 2, 1)")


def check_relative_layout(view: RuntimeView) -> list[Finding]:
    value = view.get(RELATIVE)
    if value is None:
        return [Finding(key=RELATIVE, seen="key missing", expected="(B, 1, 2, C) channel positions [x, y]",
                        fix="add coords_relative, each channel's position minus its group centre")]
    return schema_findings(FAMILY, RELATIVE, value, LAYOUT, "(B, 1, 2, C) channel positions [x, y]",
                           "reshape it: coords_relative = coords_relative.reshape(B, 1, 2, C)")


def check_coordinates_values(view: RuntimeView) -> list[Finding]:
    findings = []
    for key in COORDINATE_KEYS:
        value = view.get(key)
        if value is None:
            continue
        if not is_float(value):
            findings.append(Finding(key=key, seen=f"dtype {dtype_name(value)}", expected="float32 or float64",
                                    fix=f"convert it: {key} = {key}.astype(np.float64)"))
            continue
        values = view.numpy(key)
        bad = ~np.isfinite(values)
        if bad.any():
            findings.append(Finding(key=key, seen=f"{int(bad.sum())} of {values.size} values are NaN or infinite",
                                    expected="finite coordinates", fix="drop the groups with missing positions",
                                    index=tuple(int(i) for i in np.argwhere(bad)[0])))
    return findings


# ---------------------------------------------------------------------------
# Section 5.3: neighbour indices.


def check_indices_layout(view: RuntimeView) -> list[Finding]:
    value = view.get(NN_INDICES)
    if value is None:
        return [Finding(key=NN_INDICES, seen="key missing", expected="(B, C) integer indices into the scan positions",
                        fix="add nn_indices, the dataset index of each channel's scan position")]
    found = schema_findings(FAMILY, NN_INDICES, value, LAYOUT, "(B, C)", "store one row of C indices per group")
    if found:
        return found
    if not is_integer(value):
        return [Finding(key=NN_INDICES, seen=f"dtype {dtype_name(value)}", expected="an integer dtype",
                        fix="convert it: nn_indices = nn_indices.astype(np.int64)")]
    return []


def check_indices_in_range(view: RuntimeView) -> list[Finding]:
    indices = _indices(view)
    positions = _positions(view)
    if indices is None or positions is None:
        return []
    count = positions.shape[0]
    bad = (indices < 0) | (indices >= count)
    if not bad.any():
        return []
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    return [Finding(key=NN_INDICES, seen=f"{int(bad.sum())} indices outside [0, {count}); first {indices[first]}",
                    expected=f"indices in [0, {count}), the number of scan positions",
                    fix="group against the same dataset whose positions are passed", index=first)]


# ---------------------------------------------------------------------------
# Section 5.4: sizes.


def check_sizes_agree(view: RuntimeView) -> list[Finding]:
    batches: dict[str, int] = {}
    channels: dict[str, int] = {}
    diffraction = _diffraction_shape(view)
    if diffraction is not None:
        batches[DIFFRACTION], channels[DIFFRACTION] = diffraction[0], diffraction[3]
    for key in COORDINATE_KEYS:
        value = view.get(key)
        if value is not None and len(shape_of(value)) == 4 and shape_of(value)[1:3] == (1, 2):
            batches[key] = shape_of(value)[0]
            if key == RELATIVE:
                channels[key] = shape_of(value)[3]
    value = view.get(NN_INDICES)
    if value is not None and len(shape_of(value)) == 2:
        batches[NN_INDICES], channels[NN_INDICES] = shape_of(value)
    findings = []
    for axis, sizes in (("B", batches), ("C", channels)):
        if len(set(sizes.values())) <= 1:
            continue
        reference_key, reference = next(iter(sizes.items()))
        listing = ", ".join(f"{key} {size}" for key, size in sizes.items())
        findings += [
            Finding(key=key, seen=f"{axis} = {size} ({listing})", expected=f"{axis} = {reference}, as in {reference_key}",
                    fix="build all grouped arrays from the same groups")
            for key, size in sizes.items() if size != reference
        ]
    return findings


# ---------------------------------------------------------------------------
# Section 5.5: positions and channel order.


def check_relative_positions(view: RuntimeView) -> list[Finding]:
    consistent = _consistent(view)
    positions = _positions(view)
    if consistent is None or positions is None:
        return []
    offsets, relative, indices = consistent
    if (indices < 0).any() or (indices >= positions.shape[0]).any():
        return []
    expected = positions[indices].transpose(0, 2, 1) - offsets[:, :, None]  # (B, 2, C)
    tolerance = POSITION_ATOL_PX + POSITION_RTOL * float(np.abs(positions).max(initial=0.0))
    error = np.abs(relative - expected)
    if error.max(initial=0.0) <= tolerance:
        return []
    absolute = positions[indices].transpose(0, 2, 1)  # (B, 2, C)
    swapped = any(
        np.abs(relative[:, ::-1] + centre[:, :, None] - absolute).max(initial=0.0) <= tolerance
        for centre in (offsets, offsets[:, ::-1])
    )
    group, axis, channel = (int(i) for i in np.unravel_index(int(np.argmax(error)), error.shape))
    fix = "compute coords_relative = position[nn_indices] - coords_offsets, with [x, y] on the axis of length 2"
    if swapped:
        fix = "the axis of length 2 holds [y, x]: flip it with coords[..., ::-1, :] (both coordinate arrays)"
    return [Finding(
        key=RELATIVE,
        seen=(f"{int((error > tolerance).sum())} coordinates differ from position[nn_indices] - coords_offsets, "
              f"max by {error.max():.6g} px"),
        expected=f"agreement within {tolerance:.3g} px, axis order [x, y]",
        fix=fix,
        index=(group, 0, axis, channel),
    )]


def check_channel_order(view: RuntimeView) -> list[Finding]:
    relative = _coordinates(view, RELATIVE, None)
    if relative is None:
        return []
    channels = relative.shape[2]
    gridsize = math.isqrt(channels)
    if gridsize < 2 or gridsize * gridsize != channels:
        return []
    grid = relative.reshape(relative.shape[0], 2, gridsize, gridsize)  # (B, [x, y], row, col)
    column_x = grid[:, 0].mean(axis=1)  # (B, col)
    row_y = grid[:, 1].mean(axis=2)  # (B, row)
    # A step between neighbouring grid lines must exceed a fraction of the group's size, so
    # that jitter cannot make a column-major group look row-major.
    min_step = ORDER_STEP_FRACTION * np.hypot(relative[:, 0], relative[:, 1]).mean(axis=1)[:, None]  # (B, 1)
    bad = (np.diff(column_x, axis=1) <= min_step).any(axis=1) | (np.diff(row_y, axis=1) <= min_step).any(axis=1)
    if not bad.any():
        return []
    first = int(np.flatnonzero(bad)[0])
    return [Finding(
        key=RELATIVE,
        seen=(f"{int(bad.sum())} of {bad.size} groups do not place their channels row-major; "
              f"group {first}: column mean x {np.round(column_x[first], 3).tolist()}, "
              f"row mean y {np.round(row_y[first], 3).tolist()}"),
        expected=(f"channel c at (row, col) = (c // gridsize, c % gridsize): x grows with col, y with row, "
                  f"each step by more than {ORDER_STEP_FRACTION:g} of the mean channel distance from the centre"),
        fix="order each group's channels row-major (sort by y, then by x within a row) in every grouped array",
        index=(first,),
    )]


# ---------------------------------------------------------------------------
# Examples: a jittered grid of scan positions grouped into 2 x 2 neighbourhoods.


def make_valid_grouped(
    groups: int = 6, gridsize: int = 2, patch_px: int = 8, seed: int = 0, step_px: float = 10.0
) -> dict[str, Any]:
    """Build grouped arrays that pass every GROUPED rule, with the scan positions they index.

    The scan is a square grid with step ``step_px`` and a jitter under a tenth of a step.
    Group b takes the gridsize x gridsize block of grid points at a random corner, row-major.
    """
    rng = np.random.default_rng(seed)
    side = gridsize + 3
    rows, cols = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    jitter = rng.uniform(-0.1, 0.1, (2, side * side)) * step_px
    xcoords = 50.0 + cols.reshape(-1) * step_px + jitter[0]
    ycoords = 50.0 + rows.reshape(-1) * step_px + jitter[1]
    corners = rng.integers(0, side - gridsize + 1, (groups, 2))
    channels = np.arange(gridsize * gridsize)
    grid_row = corners[:, :1] + channels[None, :] // gridsize
    grid_col = corners[:, 1:] + channels[None, :] % gridsize
    nn_indices = (grid_row * side + grid_col).astype(np.int64)
    positions = np.stack([xcoords[nn_indices], ycoords[nn_indices]], axis=1)  # (B, 2, C)
    offsets = positions.mean(axis=2, keepdims=True)
    return {
        DIFFRACTION: rng.uniform(0.0, 1.0, (groups, patch_px, patch_px, gridsize * gridsize)).astype(np.float32),
        OFFSETS: offsets[:, None].astype(np.float64),
        RELATIVE: (positions - offsets)[:, None].astype(np.float64),
        NN_INDICES: nn_indices,
        XCOORDS: xcoords,
        YCOORDS: ycoords,
        GRIDSIZE: gridsize,
    }


def _bad_value(arrays: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    values = arrays[DIFFRACTION].copy()
    values.reshape(-1)[int(rng.integers(values.size))] = rng.choice([np.nan, np.inf, -0.5])
    return replace(arrays, DIFFRACTION, values)


def _bad_coordinate(arrays: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    key = COORDINATE_KEYS[int(rng.integers(2))]
    values = arrays[key].copy()
    values.reshape(-1)[int(rng.integers(values.size))] = rng.choice([np.nan, np.inf])
    return replace(arrays, key, values)


def _index_out_of_range(arrays: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    values = arrays[NN_INDICES].copy()
    count = arrays[XCOORDS].shape[0]
    values.reshape(-1)[int(rng.integers(values.size))] = count if rng.integers(2) else -1
    return replace(arrays, NN_INDICES, values)


def _shift_one(arrays: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    values = arrays[RELATIVE].copy()
    group, axis, channel = (int(rng.integers(n)) for n in (values.shape[0], 2, values.shape[3]))
    # 2 to 3 px: far above the tolerance, and small enough beside the 10 px grid step of
    # the examples to keep the channel order.
    values[group, 0, axis, channel] += rng.choice([-1.0, 1.0]) * rng.uniform(2.0, 3.0)
    return replace(arrays, RELATIVE, values)


def _column_major(arrays: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    gridsize = math.isqrt(arrays[NN_INDICES].shape[1])
    if gridsize < 2:
        # One channel has no order to break: regroup the same kind of scan with gridsize 2.
        arrays = make_valid_grouped(groups=arrays[NN_INDICES].shape[0], gridsize=2,
                                    patch_px=arrays[DIFFRACTION].shape[1], seed=int(rng.integers(2**32)))
        gridsize = 2
    order = np.arange(gridsize * gridsize).reshape(gridsize, gridsize).T.reshape(-1)
    changed = dict(arrays)
    changed[DIFFRACTION] = arrays[DIFFRACTION][..., order]
    changed[RELATIVE] = arrays[RELATIVE][..., order]
    changed[NN_INDICES] = arrays[NN_INDICES][:, order]
    return changed


def _drop_last_group(arrays: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """Drop the last group of one array, or repeat its first group when it has only one."""
    key = [DIFFRACTION, OFFSETS, RELATIVE, NN_INDICES][int(rng.integers(4))]
    values = arrays[key]
    changed = values[:-1] if values.shape[0] > 1 else np.concatenate([values, values])
    return replace(arrays, key, changed)


_rule = rule_builder(FAMILY, make_valid_grouped)


GROUPED_RULES = (
    _rule(1, Severity.ERROR, "5.1", "diffraction is (B, N, N, C)",
          "diffraction has four non-empty axes (B, N, N, C), square frames and C = gridsize^2 channels last.",
          check_diffraction_layout, lambda a, rng: replace(a, DIFFRACTION, a[DIFFRACTION][:, :, :-1])),
    _rule(2, Severity.ERROR, "5.1", "diffraction is float32",
          "diffraction has dtype float32.",
          check_diffraction_dtype, lambda a, rng: replace(a, DIFFRACTION, a[DIFFRACTION].astype(np.float64))),
    _rule(3, Severity.ERROR, "5.1", "diffraction is finite and non-negative",
          "Every diffraction value is finite and >= 0.",
          check_diffraction_values, _bad_value),
    _rule(4, Severity.ERROR, "5.2", "coords_offsets is (B, 1, 2, 1)",
          "coords_offsets has shape (B, 1, 2, 1).",
          check_offsets_layout, lambda a, rng: replace(a, OFFSETS, a[OFFSETS].reshape(-1, 2))),
    _rule(5, Severity.ERROR, "5.2", "coords_relative is (B, 1, 2, C)",
          "coords_relative has shape (B, 1, 2, C).",
          check_relative_layout, lambda a, rng: replace(a, RELATIVE, a[RELATIVE][:, 0])),
    _rule(6, Severity.ERROR, "5.2", "coordinates are finite floats",
          "coords_offsets and coords_relative have a floating-point dtype and finite values.",
          check_coordinates_values, _bad_coordinate),
    _rule(7, Severity.ERROR, "5.3", "nn_indices is (B, C) integer",
          "nn_indices has two axes (B, C) and an integer dtype.",
          check_indices_layout, lambda a, rng: replace(a, NN_INDICES, a[NN_INDICES].astype(np.float64))),
    _rule(8, Severity.ERROR, "5.3", "nn_indices in range",
          "With the scan positions given, every nn_indices value is in [0, n).",
          check_indices_in_range, _index_out_of_range),
    _rule(9, Severity.ERROR, "5.4", "B and C agree",
          "diffraction, coords_offsets, coords_relative and nn_indices have the same B; "
          "diffraction, coords_relative and nn_indices the same C.",
          check_sizes_agree, _drop_last_group),
    _rule(10, Severity.ERROR, "5.5", "relative positions match, [x, y]",
          "With the scan positions given, coords_relative[b, 0, :, c] equals [x, y] of position "
          "nn_indices[b, c] minus coords_offsets[b, 0, :, 0].",
          check_relative_positions, _shift_one),
    _rule(11, Severity.ERROR, "5.5", "channels are row-major",
          "For gridsize >= 2, each group's mean relative x grows with the grid column and its mean "
          "relative y with the grid row, by more than a quarter of the mean channel distance from the "
          "group centre per step, channel c sitting at (c // gridsize, c % gridsize).",
          check_channel_order, _column_major),
)

register(GROUPED_RULES)
