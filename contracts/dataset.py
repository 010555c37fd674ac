"""The DATASET family: rules for the canonical NPZ dataset, and checks on in-memory arrays.

A canonical dataset contains ``diffraction`` (n, height, width) float32 normalized
amplitudes, ``probeGuess`` (height, width) complex64, and ``xcoords`` and ``ycoords``
(n,) float64 patch centres in object pixels. Optional keys are ``objectGuess``
(object_rows, object_cols) complex64, ``Y`` (n, height, width) complex64 true object
patches and ``scan_index`` (n,) integers. Each rule below checks one property; checks
skip what another rule already reports (for example, a length check ignores an array
whose number of dimensions is wrong) so that one defect gives one violation.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np

from contracts.arrays import NUMERIC_KINDS, ArraySource, DatasetView, MemoryArraySource, find_first
from contracts.rules import Finding, Severity, Violation, register, rule_builder, rules_of_family, run_rules

logger = logging.getLogger(__name__)

FAMILY = "DATASET"

DIFFRACTION = "diffraction"
PROBE = "probeGuess"
OBJECT = "objectGuess"
XCOORDS = "xcoords"
YCOORDS = "ycoords"
PATCHES = "Y"
SCAN_INDEX = "scan_index"

REQUIRED_KEYS = (DIFFRACTION, PROBE, XCOORDS, YCOORDS)
COORDINATE_KEYS = (XCOORDS, YCOORDS)
# Normalized amplitudes stay well below this; a maximum at or above it is rejected.
AMPLITUDE_LIMIT = 10.0

_FLOAT32 = np.dtype(np.float32)
_FLOAT64 = np.dtype(np.float64)
_COMPLEX64 = np.dtype(np.complex64)

_LAYOUTS = {
    DIFFRACTION: "(n, H, W) float32 normalized amplitudes",
    PROBE: "(H, W) complex64 probe",
    XCOORDS: "(n,) float64 patch-centre columns in object pixels",
    YCOORDS: "(n,) float64 patch-centre rows in object pixels",
}


def check_dataset_arrays(arrays: Mapping[str, object], source: str = "<memory>") -> list[Violation]:
    """Check in-memory arrays against every DATASET rule and return all violations.

    ``arrays`` maps keys to arrays, like ``np.load`` of a canonical NPZ. Values that
    are not NumPy arrays (CPU torch tensors, lists) are converted with ``np.asarray``.
    ``source`` names the dataset in the violations.
    """
    view = memory_view(arrays, source)
    violations, _ = run_rules(rules_of_family(FAMILY), view, source)
    return violations


def memory_view(arrays: Mapping[str, object], label: str) -> DatasetView:
    return DatasetView({key: MemoryArraySource(key, _as_array(value)) for key, value in arrays.items()}, label)


def _as_array(value: object) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    try:
        return np.asarray(value)
    except ValueError:
        # Ragged or mixed content: NumPy can hold it only as an object array.
        boxed = np.empty((), dtype=object)
        boxed[()] = value
        return boxed


# ---------------------------------------------------------------------------
# Shared helpers for checks.


def _same_dtype(dtype: np.dtype, expected: np.dtype) -> bool:
    """Compare dtypes ignoring byte order, so big-endian float32 counts as float32."""
    return dtype.newbyteorder("=") == expected


def _dtype_name(dtype: np.dtype) -> str:
    if dtype.byteorder == ">":
        return f"{dtype.name} (big-endian)"
    return dtype.name if dtype.names is None else str(dtype)


def _is_numeric(source: ArraySource) -> bool:
    return source.dtype.kind in NUMERIC_KINDS and not source.dtype.hasobject


def _has_positive_extents(shape: tuple[int, ...], ndim: int) -> bool:
    return len(shape) == ndim and all(extent > 0 for extent in shape)


def _shape_of(view: DatasetView, key: str, ndim: int) -> tuple[int, ...] | None:
    """Return the shape of ``key`` when present with ``ndim`` dimensions, else None."""
    source = view.get(key)
    if source is None or source.dtype.hasobject or len(source.shape) != ndim:
        return None
    return source.shape


def _frame_shape(view: DatasetView) -> tuple[int, int] | None:
    """Return the pattern shape (H, W): from diffraction, else from the probe."""
    diffraction = _shape_of(view, DIFFRACTION, 3)
    if diffraction is not None:
        return diffraction[1], diffraction[2]
    probe = _shape_of(view, PROBE, 2)
    if probe is not None:
        return probe[0], probe[1]
    return None


def _nonfinite_finding(view: DatasetView, key: str, fix: str) -> list[Finding]:
    source = view.get(key)
    stats = view.stats(key)
    if source is None or stats is None or stats.nonfinite_count == 0:
        return []
    return [
        Finding(
            key=key,
            seen=f"{stats.nonfinite_count} of {stats.size} values are NaN or infinite",
            expected="finite values only",
            fix=fix,
            index=stats.first_nonfinite,
        )
    ]


def _ndim_finding(view: DatasetView, key: str, ndim: int, layout: str, fix: str) -> list[Finding]:
    source = view.get(key)
    if source is None or source.dtype.hasobject or _has_positive_extents(source.shape, ndim):
        return []
    return [Finding(key=key, seen=f"shape {source.shape}", expected=f"{layout}, every axis non-empty", fix=fix)]


def _dtype_finding(view: DatasetView, key: str, expected: np.dtype, fix: str) -> list[Finding]:
    source = view.get(key)
    if source is None or source.dtype.hasobject or _same_dtype(source.dtype, expected):
        return []
    return [Finding(key=key, seen=f"dtype {_dtype_name(source.dtype)}", expected=f"dtype {expected.name}", fix=fix)]


def _cast_fix(key: str, source: ArraySource | None, expected: np.dtype) -> str:
    if source is not None and source.dtype.kind in "iub" and expected.kind == "c":
        return f"store a complex array: {key} = {key}.astype(np.{expected.name})"
    return f"convert it: {key} = {key}.astype(np.{expected.name})"


# ---------------------------------------------------------------------------
# Section 2.1: keys.


def check_required_keys(view: DatasetView) -> list[Finding]:
    findings = []
    for key in REQUIRED_KEYS:
        if key in view:
            continue
        fix = f"add {key!r} as {_LAYOUTS[key]}"
        if key == DIFFRACTION and "diff3d" in view:
            fix = "rename 'diff3d' to 'diffraction' (legacy name), converted to (n, H, W) float32 amplitudes"
        findings.append(Finding(key=key, seen="key missing", expected=_LAYOUTS[key], fix=fix))
    return findings


def check_no_object_arrays(view: DatasetView) -> list[Finding]:
    return [
        Finding(
            key=key,
            seen=f"dtype {source.dtype} (object array, which only pickle can load)",
            expected="a numeric or string dtype",
            fix=(
                "store the contents as numeric arrays, or as JSON text in a 0-d unicode "
                "array such as np.array(json.dumps(meta)); object arrays are never loaded"
            ),
        )
        for key, source in view.sources.items()
        if source.dtype.hasobject
    ]


# ---------------------------------------------------------------------------
# Section 2.2: diffraction.


def check_diffraction_shape(view: DatasetView) -> list[Finding]:
    source = view.get(DIFFRACTION)
    fix = "store the patterns as (n, H, W), one pattern per scan position"
    if source is not None and len(source.shape) == 4 and 1 in (source.shape[1], source.shape[-1]):
        axis = 1 if source.shape[1] == 1 else 3
        fix = f"drop the channel axis: diffraction = np.squeeze(diffraction, axis={axis})"
    return _ndim_finding(view, DIFFRACTION, 3, "(n, H, W)", fix)


def check_diffraction_dtype(view: DatasetView) -> list[Finding]:
    source = view.get(DIFFRACTION)
    fix = "convert it: diffraction = diffraction.astype(np.float32)"
    if source is not None and source.dtype.kind in "iub":
        fix = (
            "integer patterns are photon counts: take np.sqrt, normalize, and store "
            "as float32"
        )
    return _dtype_finding(view, DIFFRACTION, _FLOAT32, fix)


def check_diffraction_finite(view: DatasetView) -> list[Finding]:
    return _nonfinite_finding(
        view, DIFFRACTION, "replace the bad pixels (for example with 0) or drop the affected patterns"
    )


def check_diffraction_nonnegative(view: DatasetView) -> list[Finding]:
    stats = view.stats(DIFFRACTION)
    if stats is None or stats.negative_count == 0:
        return []
    return [
        Finding(
            key=DIFFRACTION,
            seen=f"{stats.negative_count} negative values, min {stats.min:.6g}",
            expected="amplitudes >= 0",
            fix="amplitudes cannot be negative: clip background-subtracted counts at 0 before np.sqrt",
            index=stats.first_negative,
        )
    ]


def check_diffraction_max(view: DatasetView) -> list[Finding]:
    source = view.get(DIFFRACTION)
    stats = view.stats(DIFFRACTION)
    if source is None or stats is None or stats.max is None or stats.max < AMPLITUDE_LIMIT:
        return []
    return [
        Finding(
            key=DIFFRACTION,
            seen=f"max {stats.max:.6g}",
            expected=f"normalized amplitudes, max well under {AMPLITUDE_LIMIT:g}",
            fix=(
                "divide the whole array by one common factor (for example its maximum); "
                "if these are intensities, take np.sqrt first"
            ),
            index=find_first(source, lambda values: values >= AMPLITUDE_LIMIT),
        )
    ]


def check_diffraction_not_intensity(view: DatasetView) -> list[Finding]:
    stats = view.stats(DIFFRACTION)
    if stats is None or stats.max is None or not stats.all_integral or stats.max <= 1:
        return []
    return [
        Finding(
            key=DIFFRACTION,
            seen=f"every value is a whole number and the max is {stats.max:.6g} (photon counts)",
            expected="amplitudes: the square root of intensities, normalized",
            fix="diffraction = np.sqrt(counts), then divide by one common factor; store as float32",
        )
    ]


# ---------------------------------------------------------------------------
# Section 2.3: probe.


def check_probe_shape(view: DatasetView) -> list[Finding]:
    source = view.get(PROBE)
    fix = "store one probe as (H, W)"
    if source is not None and len(source.shape) > 2 and all(n == 1 for n in source.shape[:-2]):
        fix = "drop the leading length-1 axes: probeGuess = probeGuess.reshape(probeGuess.shape[-2:])"
    return _ndim_finding(view, PROBE, 2, "(H, W)", fix)


def check_probe_dtype(view: DatasetView) -> list[Finding]:
    return _dtype_finding(view, PROBE, _COMPLEX64, _cast_fix(PROBE, view.get(PROBE), _COMPLEX64))


def check_probe_finite(view: DatasetView) -> list[Finding]:
    return _nonfinite_finding(view, PROBE, "rebuild the probe without NaN or infinite pixels")


def check_frame_shapes(view: DatasetView) -> list[Finding]:
    diffraction = _shape_of(view, DIFFRACTION, 3)
    if diffraction is None:
        return []
    pattern = diffraction[1:]
    findings = []
    probe = _shape_of(view, PROBE, 2)
    if probe is not None and probe != pattern:
        fix = "crop or resample the probe to the pattern shape"
        if diffraction[:2] == probe:
            fix = "diffraction looks like (H, W, n): use np.transpose(diffraction, (2, 0, 1))"
        findings.append(
            Finding(key=PROBE, seen=f"probe shape {probe}", expected=f"the pattern shape {pattern}", fix=fix)
        )
    patches = _shape_of(view, PATCHES, 3)
    if patches is not None and patches[1:] != pattern:
        findings.append(
            Finding(
                key=PATCHES,
                seen=f"patch shape {patches[1:]}",
                expected=f"the pattern shape {pattern}",
                fix="extract Y patches with the same (H, W) as the patterns",
            )
        )
    return findings


# ---------------------------------------------------------------------------
# Section 2.4: scan positions.


def check_coordinates_shape(view: DatasetView) -> list[Finding]:
    findings = []
    for key in COORDINATE_KEYS:
        source = view.get(key)
        if source is None or source.dtype.hasobject or len(source.shape) == 1:
            continue
        findings.append(
            Finding(
                key=key,
                seen=f"shape {source.shape}",
                expected="(n,)",
                fix=f"flatten it: {key} = np.ravel({key}), one value per scan position",
            )
        )
    return findings


def check_coordinates_dtype(view: DatasetView) -> list[Finding]:
    findings = []
    for key in COORDINATE_KEYS:
        findings += _dtype_finding(view, key, _FLOAT64, f"convert it: {key} = {key}.astype(np.float64)")
    return findings


def check_coordinates_finite(view: DatasetView) -> list[Finding]:
    findings = []
    for key in COORDINATE_KEYS:
        findings += _nonfinite_finding(view, key, "drop the scan positions with missing coordinates and their patterns")
    return findings


# ---------------------------------------------------------------------------
# Section 2.5: object.


def check_object_present(view: DatasetView) -> list[Finding]:
    if OBJECT in view:
        return []
    return [
        Finding(
            key=OBJECT,
            seen="key missing",
            expected="an (M, M') complex64 object guess",
            fix="add objectGuess (for example np.ones((M, M'), np.complex64) covering every patch)",
        )
    ]


def check_object_shape(view: DatasetView) -> list[Finding]:
    return _ndim_finding(view, OBJECT, 2, "(M, M')", "store the object as one 2-D (rows, cols) array")


def check_object_dtype(view: DatasetView) -> list[Finding]:
    return _dtype_finding(view, OBJECT, _COMPLEX64, _cast_fix(OBJECT, view.get(OBJECT), _COMPLEX64))


def check_object_finite(view: DatasetView) -> list[Finding]:
    return _nonfinite_finding(view, OBJECT, "rebuild the object guess without NaN or infinite pixels")


def check_patches_inside_object(view: DatasetView) -> list[Finding]:
    obj = _shape_of(view, OBJECT, 2)
    frame = _frame_shape(view)
    x_source, y_source = view.get(XCOORDS), view.get(YCOORDS)
    if obj is None or frame is None or x_source is None or y_source is None:
        return []
    if not (_is_numeric(x_source) and _is_numeric(y_source)) or "c" in (x_source.dtype.kind, y_source.dtype.kind):
        return []
    if len(x_source.shape) != 1 or x_source.shape != y_source.shape:
        return []

    x = x_source.load().astype(np.float64)
    y = y_source.load().astype(np.float64)
    height, width = frame
    rows, cols = obj

    # A patch centred at (x, y) covers columns x - W/2 .. x + W/2 and rows y - H/2 .. y + H/2.
    outside_x = (x - width / 2 < 0) | (x + width / 2 > cols)
    outside_y = (y - height / 2 < 0) | (y + height / 2 > rows)
    # Non-finite coordinates are left to the finiteness rule.
    outside = (outside_x | outside_y) & np.isfinite(x) & np.isfinite(y)
    if not outside.any():
        return []

    first = int(np.flatnonzero(outside)[0])
    return [
        Finding(
            key=XCOORDS if outside_x[first] else YCOORDS,
            seen=(
                f"{int(outside.sum())} of {x.size} positions put their {height}x{width} patch outside "
                f"the {rows}x{cols} object; first: (x, y) = ({x[first]:.6g}, {y[first]:.6g})"
            ),
            expected=f"x in [{width / 2:g}, {cols - width / 2:g}] and y in [{height / 2:g}, {rows - height / 2:g}]",
            fix=(
                "pad objectGuess so that it covers every patch (and shift the coordinates by the "
                "padding), or drop the positions outside it"
            ),
            index=(first,),
        )
    ]


# ---------------------------------------------------------------------------
# Section 2.6: true object patches Y.


def check_patches_shape(view: DatasetView) -> list[Finding]:
    source = view.get(PATCHES)
    fix = "store the true patches as (n, H, W)"
    if source is not None and len(source.shape) == 4 and source.shape[-1] == 1:
        fix = "drop the channel axis: Y = Y[..., 0]"
    return _ndim_finding(view, PATCHES, 3, "(n, H, W)", fix)


def check_patches_dtype(view: DatasetView) -> list[Finding]:
    return _dtype_finding(view, PATCHES, _COMPLEX64, _cast_fix(PATCHES, view.get(PATCHES), _COMPLEX64))


def check_patches_finite(view: DatasetView) -> list[Finding]:
    return _nonfinite_finding(view, PATCHES, "rebuild the true patches without NaN or infinite pixels")


# ---------------------------------------------------------------------------
# Section 2.7: scan_index.


def check_scan_index_shape(view: DatasetView) -> list[Finding]:
    return _ndim_finding(
        view, SCAN_INDEX, 1, "(n,)", "flatten it: scan_index = np.ravel(scan_index), one value per position"
    )


def check_scan_index_dtype(view: DatasetView) -> list[Finding]:
    source = view.get(SCAN_INDEX)
    if source is None or source.dtype.hasobject or source.dtype.kind in "iu":
        return []
    return [
        Finding(
            key=SCAN_INDEX,
            seen=f"dtype {_dtype_name(source.dtype)}",
            expected="an integer dtype",
            fix="convert it: scan_index = scan_index.astype(np.int64)",
        )
    ]


# ---------------------------------------------------------------------------
# Section 2.8: lengths.


def check_lengths_agree(view: DatasetView) -> list[Finding]:
    dimensions = {DIFFRACTION: 3, PATCHES: 3, XCOORDS: 1, YCOORDS: 1, SCAN_INDEX: 1}
    lengths = {}
    for key, ndim in dimensions.items():
        shape = _shape_of(view, key, ndim)
        if shape is not None:
            lengths[key] = shape[0]
    if len(set(lengths.values())) <= 1:
        return []
    reference_key = next(iter(lengths))
    reference = lengths[reference_key]
    listing = ", ".join(f"{key} {n}" for key, n in lengths.items())
    return [
        Finding(
            key=key,
            seen=f"length {n} ({listing})",
            expected=f"length {reference}, the length of {reference_key}",
            fix="keep exactly one entry per scan position in every per-position array",
        )
        for key, n in lengths.items()
        if n != reference
    ]


# ---------------------------------------------------------------------------
# Examples: one valid dataset, and per rule a function that breaks only that rule.


def make_valid_dataset(
    n_positions: int = 12,
    patch_px: int = 16,
    seed: int = 0,
    *,
    with_patches: bool = True,
    with_scan_index: bool = True,
) -> dict[str, np.ndarray]:
    """Build a small dataset that passes every DATASET rule.

    The object is a random complex image, positions are random patch centres that keep
    each patch inside it, and ``diffraction`` is the far-field amplitude
    |FFT2(probe * patch)| scaled to a maximum of 1.
    """
    rng = np.random.default_rng(seed)
    margin = patch_px // 4 + 2
    side = patch_px + 2 * margin + 8
    obj = rng.uniform(0.5, 1.0, (side, side)) * np.exp(1j * rng.uniform(-np.pi, np.pi, (side, side)))
    axis = np.arange(patch_px) - (patch_px - 1) / 2
    probe = np.exp(-(axis[:, None] ** 2 + axis[None, :] ** 2) / (2 * (patch_px / 4) ** 2)).astype(np.complex128)
    half = patch_px / 2
    x = rng.uniform(half, side - half, n_positions)
    y = rng.uniform(half, side - half, n_positions)
    corner_col = np.clip(np.round(x - half).astype(int), 0, side - patch_px)
    corner_row = np.clip(np.round(y - half).astype(int), 0, side - patch_px)
    patches = np.stack(
        [obj[r : r + patch_px, c : c + patch_px] for r, c in zip(corner_row, corner_col)]
    )
    amplitude = np.abs(np.fft.fftshift(np.fft.fft2(probe * patches), axes=(-2, -1)))
    arrays = {
        DIFFRACTION: (amplitude / amplitude.max()).astype(np.float32),
        PROBE: probe.astype(np.complex64),
        XCOORDS: x.astype(np.float64),
        YCOORDS: y.astype(np.float64),
        OBJECT: obj.astype(np.complex64),
        "metadata_json": np.array('{"source": "contracts.dataset.make_valid_dataset"}'),
    }
    if with_patches:
        arrays[PATCHES] = patches.astype(np.complex64)
    if with_scan_index:
        arrays[SCAN_INDEX] = np.arange(n_positions, dtype=np.int64)
    return arrays


def _replace(arrays: dict[str, np.ndarray], key: str, value: np.ndarray) -> dict[str, np.ndarray]:
    changed = dict(arrays)
    changed[key] = value
    return changed


def _without(arrays: dict[str, np.ndarray], key: str) -> dict[str, np.ndarray]:
    return {k: v for k, v in arrays.items() if k != key}


def _poison(arrays: dict[str, np.ndarray], key: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Set one random element of ``key`` to NaN, +inf or -inf (in one component if complex)."""
    values = arrays[key].copy()
    bad = rng.choice([np.nan, np.inf, -np.inf])
    flat = values.reshape(-1)
    position = int(rng.integers(flat.size))
    if values.dtype.kind == "c":
        flat[position] = complex(bad, 0.0) if rng.integers(2) else complex(0.0, bad)
    else:
        flat[position] = bad
    return _replace(arrays, key, values)


def _set_one(arrays: dict[str, np.ndarray], key: str, value: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    values = arrays[key].copy()
    values.reshape(-1)[int(rng.integers(values.size))] = value
    return _replace(arrays, key, values)


def _drop_required(arrays: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    return _without(arrays, REQUIRED_KEYS[int(rng.integers(len(REQUIRED_KEYS)))])


def _add_object_array(arrays: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    notes = np.empty(2, dtype=object)
    notes[0], notes[1] = {"energy_keV": 8.8}, [1, 2, 3]
    return _replace(arrays, "notes", notes)


def _intensity(arrays: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    counts = rng.integers(0, 6, arrays[DIFFRACTION].shape).astype(np.float32)
    counts.reshape(-1)[0] = 5.0
    return _replace(arrays, DIFFRACTION, counts)


def _shift_outside(arrays: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    key = COORDINATE_KEYS[int(rng.integers(2))]
    rows, cols = arrays[OBJECT].shape
    extent = cols if key == XCOORDS else rows
    values = arrays[key].copy()
    values[int(rng.integers(values.size))] = -1.0 if rng.integers(2) else extent + 1.0
    return _replace(arrays, key, values)


def _shorten(arrays: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    key = COORDINATE_KEYS[int(rng.integers(2))]
    values = arrays[key]
    shorter = values[:-1] if values.size > 1 else np.append(values, values)
    return _replace(arrays, key, shorter)


def _coordinate_key(rng: np.random.Generator) -> str:
    return COORDINATE_KEYS[int(rng.integers(2))]


_rule = rule_builder(FAMILY, make_valid_dataset)


_ERROR, _WARNING = Severity.ERROR, Severity.WARNING

DATASET_RULES = (
    _rule(1, _ERROR, "2.1", "required keys present",
          "diffraction, probeGuess, xcoords and ycoords are present.",
          check_required_keys, _drop_required),
    _rule(2, _ERROR, "2.1", "no object arrays",
          "No array has an object dtype; such arrays need pickle and are never loaded.",
          check_no_object_arrays, _add_object_array),
    _rule(3, _ERROR, "2.2", "diffraction is (n, H, W)",
          "diffraction has three non-empty axes (n, H, W).",
          check_diffraction_shape, lambda a, rng: _replace(a, DIFFRACTION, a[DIFFRACTION][0])),
    _rule(4, _ERROR, "2.2", "diffraction is float32",
          "diffraction has dtype float32.",
          check_diffraction_dtype, lambda a, rng: _replace(a, DIFFRACTION, a[DIFFRACTION].astype(np.float64))),
    _rule(5, _ERROR, "2.2", "diffraction is finite",
          "Every diffraction value is finite.",
          check_diffraction_finite, lambda a, rng: _poison(a, DIFFRACTION, rng)),
    _rule(6, _ERROR, "2.2", "diffraction is non-negative",
          "Every finite diffraction value is >= 0.",
          check_diffraction_nonnegative, lambda a, rng: _set_one(a, DIFFRACTION, -rng.uniform(0.01, 1.0), rng)),
    _rule(7, _ERROR, "2.2", "diffraction is normalized",
          "The largest finite diffraction value is below 10.",
          check_diffraction_max, lambda a, rng: _set_one(a, DIFFRACTION, rng.uniform(10.0, 1e4), rng)),
    _rule(8, _ERROR, "2.2", "diffraction is amplitude, not intensity",
          "diffraction is not made only of whole numbers with a maximum above 1.",
          check_diffraction_not_intensity, _intensity),
    _rule(9, _ERROR, "2.3", "probeGuess is (H, W)",
          "probeGuess has two non-empty axes.",
          check_probe_shape, lambda a, rng: _replace(a, PROBE, a[PROBE][None])),
    _rule(10, _ERROR, "2.3", "probeGuess is complex64",
          "probeGuess has dtype complex64.",
          check_probe_dtype, lambda a, rng: _replace(a, PROBE, a[PROBE].astype(np.complex128))),
    _rule(11, _ERROR, "2.3", "probeGuess is finite",
          "Every probeGuess value has a finite real and imaginary part.",
          check_probe_finite, lambda a, rng: _poison(a, PROBE, rng)),
    _rule(12, _ERROR, "2.3", "frame shapes agree",
          "probeGuess and each Y patch have the pattern shape (H, W) of diffraction.",
          check_frame_shapes, lambda a, rng: _replace(a, PROBE, np.pad(a[PROBE], ((1, 1), (0, 0))))),
    _rule(13, _ERROR, "2.4", "scan coordinates are 1-D",
          "xcoords and ycoords each have one axis.",
          check_coordinates_shape,
          lambda a, rng: (lambda key: _replace(a, key, a[key][:, None]))(_coordinate_key(rng))),
    _rule(14, _ERROR, "2.4", "scan coordinates are float64",
          "xcoords and ycoords have dtype float64.",
          check_coordinates_dtype,
          lambda a, rng: (lambda key: _replace(a, key, a[key].astype(np.float32)))(_coordinate_key(rng))),
    _rule(15, _ERROR, "2.4", "scan coordinates are finite",
          "Every xcoords and ycoords value is finite.",
          check_coordinates_finite, lambda a, rng: _poison(a, _coordinate_key(rng), rng)),
    _rule(16, _WARNING, "2.5", "objectGuess present",
          "objectGuess is present (recommended).",
          check_object_present, lambda a, rng: _without(a, OBJECT)),
    _rule(17, _ERROR, "2.5", "objectGuess is 2-D",
          "objectGuess, when present, has two non-empty axes (M, M').",
          check_object_shape, lambda a, rng: _replace(a, OBJECT, a[OBJECT][None])),
    _rule(18, _ERROR, "2.5", "objectGuess is complex64",
          "objectGuess, when present, has dtype complex64.",
          check_object_dtype, lambda a, rng: _replace(a, OBJECT, a[OBJECT].astype(np.complex128))),
    _rule(19, _ERROR, "2.5", "objectGuess is finite",
          "Every objectGuess value has a finite real and imaginary part.",
          check_object_finite, lambda a, rng: _poison(a, OBJECT, rng)),
    _rule(20, _ERROR, "2.5", "patches inside objectGuess",
          "Every scan position keeps its H x W patch inside objectGuess.",
          check_patches_inside_object, _shift_outside),
    _rule(21, _ERROR, "2.6", "Y is (n, H, W)",
          "Y, when present, has three non-empty axes; a 4-D Y with a channel axis is rejected.",
          check_patches_shape, lambda a, rng: _replace(a, PATCHES, a[PATCHES][..., None])),
    _rule(22, _ERROR, "2.6", "Y is complex64",
          "Y, when present, has dtype complex64.",
          check_patches_dtype, lambda a, rng: _replace(a, PATCHES, a[PATCHES].astype(np.complex128))),
    _rule(23, _ERROR, "2.6", "Y is finite",
          "Every Y value has a finite real and imaginary part.",
          check_patches_finite, lambda a, rng: _poison(a, PATCHES, rng)),
    _rule(24, _ERROR, "2.7", "scan_index is 1-D",
          "scan_index, when present, has one non-empty axis.",
          check_scan_index_shape, lambda a, rng: _replace(a, SCAN_INDEX, a[SCAN_INDEX][:, None])),
    _rule(25, _ERROR, "2.7", "scan_index is integer",
          "scan_index, when present, has a signed or unsigned integer dtype.",
          check_scan_index_dtype, lambda a, rng: _replace(a, SCAN_INDEX, a[SCAN_INDEX].astype(np.float64))),
    _rule(26, _ERROR, "2.8", "lengths agree",
          "diffraction, Y, xcoords, ycoords and scan_index have the same length n.",
          check_lengths_agree, _shorten),
)

register(DATASET_RULES)
