"""The RECON family: reassembly of object patches into one canvas by shift-and-sum.

Inputs: ``patches`` (n, N, N) complex, the placement offsets ``offsets_x_px`` and
``offsets_y_px`` (n,) in pixels, the result ``canvas`` (M, M') complex, its overlap
``counts`` (M, M'), and ``amplitude`` and ``phase`` (M, M') float32 derived from it;
``weight`` (N, N) is the optional per-pixel patch weight (all ones when absent).
Patch pixel (i, j) of a patch with offsets (dx, dy) lands on canvas position
(M/2 + dy - N/2 + i, M'/2 + dx - N/2 + j). A fractional position is split over its four
neighbouring pixels with bilinear weights. The canvas is the sum of the placed weighted
patches divided pixel by pixel by the sum of the placed weights (the overlap count).
The placement relations are checked here against a float64 recomputation; the dtypes
and value ranges of amplitude and phase go through ``contracts.schemas``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from contracts.rules import Finding, Severity, Violation, register, rule_builder
from contracts.runtime import RuntimeView, check_family, dtype_name, numpy_dtype, replace, shape_of
from contracts.schemas import VALUES, ArraySpec, add_specs, schema_findings

logger = logging.getLogger(__name__)

FAMILY = "RECON"

PATCHES = "patches"
OFFSETS_X = "offsets_x_px"
OFFSETS_Y = "offsets_y_px"
CANVAS = "canvas"
COUNTS = "counts"
AMPLITUDE = "amplitude"
PHASE = "phase"
WEIGHT = "weight"
OFFSET_KEYS = (OFFSETS_X, OFFSETS_Y)
REQUIRED_KEYS = (PATCHES, OFFSETS_X, OFFSETS_Y, CANVAS, COUNTS)

# The midpoint of the offsets' range may sit this far from 0: a stitcher that centres on
# a whole pixel (floor of the midpoint) is off by less than one pixel.
CENTRE_TOLERANCE_PX = 1.0
# canvas * counts may differ from the recomputed placed sum by this fraction of its maximum
# magnitude (float32 accumulation of up to thousands of patches stays well inside).
SUM_RTOL = 1e-4
COUNT_RTOL = 1e-4

add_specs(
    ArraySpec(FAMILY, AMPLITUDE, ("row", "col"), shape=(None, None), dtype="float32", minimum=0.0, finite=True),
    ArraySpec(FAMILY, PHASE, ("row", "col"), shape=(None, None), dtype="float32",
              value_range=(-math.pi, math.pi), finite=True),
)


def check_recon_arrays(arrays: Mapping[str, Any], source: str = "<memory>") -> list[Violation]:
    """Check a stitching result and its inputs against every RECON rule."""
    return check_family(FAMILY, arrays, None, source)


def offsets_from_origin(
    xcoords: np.ndarray, ycoords: np.ndarray, origin_x_px: float, origin_y_px: float, canvas_shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Convert patch centres in object pixels into RECON offsets for a canvas placed at an origin.

    Canvas pixel (row, col) covers object pixel (origin_y_px + row, origin_x_px + col),
    so a centre x lies at canvas column x - origin_x_px, and its offset from the canvas
    centre is that minus M'/2.
    """
    rows, cols = canvas_shape
    offsets_x = np.asarray(xcoords, dtype=np.float64) - origin_x_px - cols / 2
    offsets_y = np.asarray(ycoords, dtype=np.float64) - origin_y_px - rows / 2
    return offsets_x, offsets_y


def place_patches(
    patches: np.ndarray,
    offsets_x_px: np.ndarray,
    offsets_y_px: np.ndarray,
    canvas_shape: tuple[int, int],
    weight: np.ndarray | None = None,
    rows_subset: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the placed weighted sum (complex128) and the placed weights (float64) on a canvas.

    Shapes: patches (n, N, N), offsets (n,), weight (N, N); results (M, M'). Patch
    pixels that fall outside the canvas are dropped. With ``rows_subset`` only those
    canvas rows are computed and every other row is zero.
    """
    patches = np.asarray(patches)
    size = patches.shape[1]
    rows, cols = canvas_shape
    pixel_weight = np.ones((size, size)) if weight is None else np.asarray(weight, dtype=np.float64)
    grid = np.arange(size, dtype=np.float64)
    row_pos = rows / 2 + np.asarray(offsets_y_px, dtype=np.float64)[:, None] - size / 2 + grid[None, :]  # (n, N)
    col_pos = cols / 2 + np.asarray(offsets_x_px, dtype=np.float64)[:, None] - size / 2 + grid[None, :]  # (n, N)
    row0 = np.floor(row_pos).astype(np.int64)
    col0 = np.floor(col_pos).astype(np.int64)
    row_frac = row_pos - row0
    col_frac = col_pos - col0
    size_flat = rows * cols
    sums_real = np.zeros(size_flat, dtype=np.float64)
    sums_imag = np.zeros(size_flat, dtype=np.float64)
    weights = np.zeros(size_flat, dtype=np.float64)
    for d_row, row_share in ((0, 1 - row_frac), (1, row_frac)):
        target_rows = row0 + d_row  # (n, N)
        selected = (target_rows >= 0) & (target_rows < rows) & (row_share > 0)
        if rows_subset is not None:
            selected &= np.isin(target_rows, rows_subset)
        patch_index, patch_row = np.nonzero(selected)  # one entry per (patch, patch row) that lands
        values = patches[patch_index, patch_row, :].astype(np.complex128) * pixel_weight[patch_row, :]
        base = pixel_weight[patch_row, :]
        for d_col, col_share in ((0, 1 - col_frac), (1, col_frac)):
            c = col0[patch_index, :] + d_col  # (m, N)
            share = row_share[patch_index, patch_row][:, None] * col_share[patch_index, :]
            inside = (c >= 0) & (c < cols) & (share > 0)
            flat = (target_rows[patch_index, patch_row][:, None] * cols + c)[inside]
            # bincount sums repeated indices like np.add.at, but in one vectorized pass.
            placed = (values * share)[inside]
            sums_real += np.bincount(flat, weights=placed.real, minlength=size_flat)
            sums_imag += np.bincount(flat, weights=placed.imag, minlength=size_flat)
            weights += np.bincount(flat, weights=(base * share)[inside], minlength=size_flat)
    sums = sums_real + 1j * sums_imag
    return sums.reshape(rows, cols), weights.reshape(rows, cols)


# ---------------------------------------------------------------------------
# Helpers.


def _layout(view: RuntimeView) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Return patches, offsets x and y, canvas and counts when RECON-001 holds, else None."""
    if check_layout(view):
        return None
    return (view.numpy(PATCHES), view.numpy(OFFSETS_X).astype(np.float64), view.numpy(OFFSETS_Y).astype(np.float64),
            view.numpy(CANVAS), view.numpy(COUNTS).astype(np.float64))


def _placed(view: RuntimeView) -> tuple[np.ndarray, np.ndarray] | None:
    layout = _layout(view)
    if layout is None:
        return None
    if "placed" not in view.cache:
        patches, offsets_x, offsets_y, canvas, _ = layout
        weight = view.numpy(WEIGHT) if WEIGHT in view else None
        view.cache["placed"] = place_patches(
            patches, offsets_x, offsets_y, canvas.shape, weight, rows_subset=_checked_rows(view, canvas.shape[0])
        )
    return view.cache["placed"]


def _checked_rows(view: RuntimeView, n_rows: int) -> np.ndarray | None:
    """Return the canvas rows that the sum and count rules compare, or None for all rows.

    A guard may pass ``sample_rows`` to compare evenly spaced rows only, which keeps the
    check's cost a small fraction of the stitching it checks.
    """
    sample_rows = view.params.get("sample_rows")
    if sample_rows is None or int(sample_rows) >= n_rows:
        return None
    return np.unique(np.linspace(0, n_rows - 1, int(sample_rows)).round().astype(np.int64))


def _row_mask(view: RuntimeView, shape: tuple[int, int]) -> np.ndarray:
    """Return a mask of the canvas pixels that the sum and count rules compare."""
    rows = _checked_rows(view, shape[0])
    mask = np.zeros(shape, dtype=bool)
    if rows is None:
        mask[:] = True
    else:
        mask[rows, :] = True
    return mask


# ---------------------------------------------------------------------------
# Section 7.1: inputs and geometry.


def check_layout(view: RuntimeView) -> list[Finding]:
    findings = []
    for key in REQUIRED_KEYS:
        if key not in view:
            findings.append(Finding(key=key, seen="key missing", expected=f"{key} as the stitcher used or produced it",
                                    fix=f"pass {key} to the RECON check"))
    if findings:
        return findings
    patches, canvas, counts = shape_of(view.get(PATCHES)), shape_of(view.get(CANVAS)), shape_of(view.get(COUNTS))
    if len(patches) != 3 or patches[1] != patches[2] or 0 in patches or numpy_dtype(view.get(PATCHES)).kind != "c":
        findings.append(Finding(key=PATCHES, seen=f"shape {patches}, dtype {dtype_name(view.get(PATCHES))}",
                                expected="(n, N, N) complex", fix="squeeze the channel axis: patches = patches[:, 0]"))
    for key in OFFSET_KEYS:
        shape = shape_of(view.get(key))
        values = view.numpy(key)
        if shape != (patches[0],) or values.dtype.kind != "f" or not np.isfinite(values).all():
            findings.append(Finding(key=key, seen=f"shape {shape}, dtype {values.dtype.name}",
                                    expected=f"({patches[0]},) finite floats, one per patch",
                                    fix="pass the offsets the stitcher placed each patch at"))
    if len(canvas) != 2 or numpy_dtype(view.get(CANVAS)).kind != "c":
        findings.append(Finding(key=CANVAS, seen=f"shape {canvas}, dtype {dtype_name(view.get(CANVAS))}",
                                expected="(M, M') complex", fix="pass the stitched complex object"))
    if counts != canvas or numpy_dtype(view.get(COUNTS)).kind not in "fiu":
        findings.append(Finding(key=COUNTS, seen=f"shape {counts}, dtype {dtype_name(view.get(COUNTS))}",
                                expected=f"real counts of the canvas shape {canvas}",
                                fix="pass the overlap count the stitcher divided by"))
    weight = view.get(WEIGHT)
    if weight is not None and len(patches) == 3 and shape_of(weight) != patches[1:]:
        findings.append(Finding(key=WEIGHT, seen=f"shape {shape_of(weight)}", expected=f"{patches[1:]}",
                                fix="pass the (N, N) per-pixel weight of one patch"))
    return findings


def check_offsets_centred(view: RuntimeView) -> list[Finding]:
    layout = _layout(view)
    if layout is None:
        return []
    findings = []
    for key, offsets in zip(OFFSET_KEYS, layout[1:3]):
        midpoint = (offsets.min() + offsets.max()) / 2
        if abs(midpoint) <= CENTRE_TOLERANCE_PX:
            continue
        findings.append(Finding(
            key=key,
            seen=f"offsets span [{offsets.min():.6g}, {offsets.max():.6g}], midpoint {midpoint:.6g} px",
            expected=f"offsets centred on 0: |(min + max) / 2| <= {CENTRE_TOLERANCE_PX:g} px",
            fix=f"subtract the scan centre before placement: {key} -= np.floor((min + max) / 2)",
        ))
    return findings


def check_canvas_size(view: RuntimeView) -> list[Finding]:
    layout = _layout(view)
    if layout is None:
        return []
    patches, offsets_x, offsets_y, canvas, _ = layout
    size = patches.shape[1]
    reach = max(np.abs(offsets_x).max(), np.abs(offsets_y).max())
    required = size + 2 * reach
    if min(canvas.shape) >= required:
        return []
    return [Finding(key=CANVAS, seen=f"canvas {canvas.shape} for N = {size} and max |offset| {reach:.6g} px",
                    expected=f"M >= N + 2 max(|dx|, |dy|) = {required:.6g} on both axes",
                    fix=f"make the canvas side N + 2 * (ceil(max |offset|) + 1) = {size + 2 * (math.ceil(reach) + 1)}")]


# ---------------------------------------------------------------------------
# Section 7.2: normalization.


def check_normalized_sum(view: RuntimeView) -> list[Finding]:
    placed = _placed(view)
    if placed is None:
        return []
    sums, _ = placed
    _, _, _, canvas, counts = _layout(view)  # type: ignore[misc]
    covered = counts > 0
    scale = float(np.abs(sums).max(initial=0.0)) or 1.0
    error = np.where(covered, np.abs(canvas.astype(np.complex128) * counts - sums), 0.0)
    error = np.where(covered, error, np.abs(canvas))
    error = np.where(_row_mask(view, error.shape), error, 0.0)
    tolerance = SUM_RTOL * scale
    if error.max(initial=0.0) <= tolerance:
        return []
    patch_count = view.numpy(PATCHES).shape[0]
    averaged = np.abs(canvas * patch_count - sums).max(initial=0.0) <= tolerance
    fix = "divide the placed sum by the overlap count pixel by pixel: canvas = sums / counts where counts > 0, else 0"
    if averaged:
        fix = "the canvas is the sum divided by the number of patches (plain averaging); " + fix
    worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(error)), error.shape))
    return [Finding(key=CANVAS,
                    seen=f"{int((error > tolerance).sum())} pixels where canvas * counts differs from the placed sum, "
                         f"max by {error.max():.6g}",
                    expected=f"canvas * counts == placed sum within {tolerance:.3g} where counts > 0, canvas 0 elsewhere",
                    fix=fix, index=worst)]


def check_counts(view: RuntimeView) -> list[Finding]:
    placed = _placed(view)
    if placed is None:
        return []
    _, weights = placed
    counts = view.numpy(COUNTS).astype(np.float64)
    error = np.where(_row_mask(view, counts.shape), np.abs(counts - weights), 0.0)
    tolerance = COUNT_RTOL * max(float(weights.max(initial=0.0)), 1.0)
    if error.max(initial=0.0) <= tolerance:
        return []
    worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(error)), error.shape))
    return [Finding(key=COUNTS,
                    seen=f"counts[{worst[0]}, {worst[1]}] = {counts[worst]:.6g}, the placed weights sum to {weights[worst]:.6g}",
                    expected=f"the sum of placed patch weights per pixel, within {tolerance:.3g}",
                    fix="accumulate the counts with the same placement and weights as the patches", index=worst)]


# ---------------------------------------------------------------------------
# Section 7.3: amplitude and phase.


def check_amplitude_phase_layout(view: RuntimeView) -> list[Finding]:
    findings = []
    canvas = shape_of(view.get(CANVAS)) if CANVAS in view else None
    for key in (AMPLITUDE, PHASE):
        value = view.get(key)
        if value is None:
            findings.append(Finding(key=key, seen="key missing", expected="an (M, M') float32 image",
                                    fix=f"pass {key}, computed from the canvas"))
            continue
        shape = shape_of(value)
        dtype = numpy_dtype(value)
        if (dtype is None or dtype != np.float32) or (canvas is not None and shape != canvas):
            findings.append(Finding(key=key, seen=f"shape {shape}, dtype {dtype_name(value)}",
                                    expected=f"float32 of the canvas shape {canvas}",
                                    fix=f"{key} = np.{'abs' if key == AMPLITUDE else 'angle'}(canvas).astype(np.float32)"))
    return findings


def check_amplitude_values(view: RuntimeView) -> list[Finding]:
    value = view.get(AMPLITUDE)
    if value is None or numpy_dtype(value) is None or numpy_dtype(value).kind != "f":
        return []
    return schema_findings(FAMILY, AMPLITUDE, value, VALUES, "finite values >= 0",
                           "amplitude = np.abs(canvas); replace NaN from 0/0 with 0 where counts == 0")


def check_phase_values(view: RuntimeView) -> list[Finding]:
    value = view.get(PHASE)
    if value is None or numpy_dtype(value) is None or numpy_dtype(value).kind != "f":
        return []
    return schema_findings(FAMILY, PHASE, value, VALUES, "finite values in [-pi, pi]",
                           "phase = np.angle(canvas), or wrap it: np.angle(np.exp(1j * phase))")


# ---------------------------------------------------------------------------
# Examples.


def make_valid_recon(grid_side: int = 3, patch_px: int = 8, step_px: float = 3.5, seed: int = 0) -> dict[str, Any]:
    """Build a stitching result that passes every RECON rule: a jittered grid of patches, shift-and-sum."""
    rng = np.random.default_rng(seed)
    centre = (grid_side - 1) / 2
    rows, cols = np.meshgrid(np.arange(grid_side) - centre, np.arange(grid_side) - centre, indexing="ij")
    offsets_x = cols.reshape(-1) * step_px + rng.uniform(-0.4, 0.4, grid_side**2)
    offsets_y = rows.reshape(-1) * step_px + rng.uniform(-0.4, 0.4, grid_side**2)
    offsets_x -= np.floor((offsets_x.min() + offsets_x.max()) / 2)
    offsets_y -= np.floor((offsets_y.min() + offsets_y.max()) / 2)
    shape = (grid_side**2, patch_px, patch_px)
    patches = (rng.uniform(0.5, 1.0, shape) * np.exp(1j * rng.uniform(-3.0, 3.0, shape))).astype(np.complex64)
    reach = max(np.abs(offsets_x).max(), np.abs(offsets_y).max())
    side = patch_px + 2 * (math.ceil(reach) + 1)
    sums, counts = place_patches(patches, offsets_x, offsets_y, (side, side))
    canvas = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0).astype(np.complex64)
    return {
        PATCHES: patches,
        OFFSETS_X: offsets_x,
        OFFSETS_Y: offsets_y,
        CANVAS: canvas,
        COUNTS: counts.astype(np.float32),
        AMPLITUDE: np.abs(canvas).astype(np.float32),
        PHASE: np.angle(canvas).astype(np.float32),
    }


def _uncentre(arrays: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """Shift every offset (and the canvas with it) by a whole number of pixels > 1."""
    key = OFFSET_KEYS[int(rng.integers(2))]
    shift = int(rng.integers(2, 4)) * int(rng.choice([-1, 1]))
    changed = replace(arrays, key, arrays[key] + shift)
    axis = 1 if key == OFFSETS_X else 0
    margin = 2 * abs(shift) + 2
    pad = [(margin, margin), (margin, margin)]
    # The canvas grows symmetrically so that it stays large enough and its centre stays put.
    for name in (CANVAS, COUNTS, AMPLITUDE, PHASE):
        changed[name] = np.roll(np.pad(arrays[name], pad), shift, axis=axis)
    return changed


def _shrink_canvas(arrays: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """Recompute the result on a canvas 4 pixels smaller than required on each axis."""
    required = arrays[PATCHES].shape[1] + 2 * max(np.abs(arrays[OFFSETS_X]).max(), np.abs(arrays[OFFSETS_Y]).max())
    side = int(math.floor(required)) - 4
    sums, counts = place_patches(arrays[PATCHES], arrays[OFFSETS_X], arrays[OFFSETS_Y], (side, side))
    canvas = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0).astype(np.complex64)
    return {**arrays, CANVAS: canvas, COUNTS: counts.astype(np.float32),
            AMPLITUDE: np.abs(canvas).astype(np.float32), PHASE: np.angle(canvas).astype(np.float32)}


def _plain_average(arrays: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    sums, _ = place_patches(arrays[PATCHES], arrays[OFFSETS_X], arrays[OFFSETS_Y], arrays[CANVAS].shape)
    canvas = (sums / arrays[PATCHES].shape[0]).astype(np.complex64)
    return {**arrays, CANVAS: canvas, AMPLITUDE: np.abs(canvas).astype(np.float32),
            PHASE: np.angle(canvas).astype(np.float32)}


def _scaled_counts(arrays: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """Divide by twice the true count; canvas * counts still equals the placed sum."""
    factor = float(rng.uniform(1.5, 3.0))
    canvas = (arrays[CANVAS] / factor).astype(np.complex64)
    return {**arrays, CANVAS: canvas, COUNTS: (arrays[COUNTS] * factor).astype(np.float32),
            AMPLITUDE: np.abs(canvas).astype(np.float32), PHASE: np.angle(canvas).astype(np.float32)}


def _bad_amplitude(arrays: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    values = arrays[AMPLITUDE].copy()
    values.reshape(-1)[int(rng.integers(values.size))] = rng.choice([-0.25, np.nan, np.inf])
    return replace(arrays, AMPLITUDE, values)


def _unwrapped_phase(arrays: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    values = arrays[PHASE].copy()
    values.reshape(-1)[int(rng.integers(values.size))] += float(rng.choice([-1.0, 1.0])) * 2 * math.pi
    return replace(arrays, PHASE, values)


_rule = rule_builder(FAMILY, make_valid_recon)


RECON_RULES = (
    _rule(1, Severity.ERROR, "7.1", "stitching inputs have their layout",
          "patches is (n, N, N) complex; offsets_x_px and offsets_y_px are (n,) finite floats; canvas is "
          "(M, M') complex; counts is real with the canvas shape; weight, when given, is (N, N).",
          check_layout, lambda a, rng: replace(a, PATCHES, a[PATCHES][:, None])),
    _rule(2, Severity.ERROR, "7.1", "offsets zero-centred",
          "On each axis the midpoint (min + max) / 2 of the placement offsets is within 1 px of 0.",
          check_offsets_centred, _uncentre),
    _rule(3, Severity.ERROR, "7.1", "canvas large enough",
          "Both canvas sides are >= N + 2 max(|dx|, |dy|).",
          check_canvas_size, _shrink_canvas),
    _rule(4, Severity.ERROR, "7.2", "shift-and-sum normalized by overlap",
          "canvas * counts equals the placed weighted patch sum where counts > 0, and canvas is 0 elsewhere; "
          "dividing by the number of patches (plain averaging) violates this.",
          check_normalized_sum, _plain_average),
    _rule(5, Severity.ERROR, "7.2", "counts are the placed weights",
          "counts equals, pixel by pixel, the sum of the placed patch weights (ones when no weight is given).",
          check_counts, _scaled_counts),
    _rule(6, Severity.ERROR, "7.3", "amplitude and phase are float32 canvas images",
          "amplitude and phase are float32 with the canvas shape.",
          check_amplitude_phase_layout, lambda a, rng: replace(a, PHASE, a[PHASE].astype(np.float64))),
    _rule(7, Severity.ERROR, "7.3", "amplitude is finite and non-negative",
          "Every amplitude value is finite and >= 0.",
          check_amplitude_values, _bad_amplitude),
    _rule(8, Severity.ERROR, "7.3", "phase in [-pi, pi]",
          "Every phase value is finite and in [-pi, pi].",
          check_phase_values, _unwrapped_phase),
)

register(RECON_RULES)
