"""The RAW family: legacy and raw NPZ layouts, each reported with the conversion that fixes it.

A raw dataset differs from the canonical one (``contracts.dataset``) in nine known ways.
It uses the legacy key ``diff3d`` and integer photon counts instead of float32
amplitudes. Its patterns are stored as (H, W, n), its arrays in double precision, and
``Y`` has a trailing channel axis. ``scan_index`` is missing. A measured file may also
store its counts under a key of its own, its positions in metres, and frames larger
than the largest patch size. Each rule below flags one of these and names the exact
conversion. ``ptycho-harness convert`` performs the first six. A canonical dataset
passes every RAW rule, so the family shares its valid example with DATASET.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

import numpy as np

from contracts.arrays import DatasetView
from contracts.dataset import (
    DIFFRACTION,
    OBJECT,
    PATCHES,
    PROBE,
    SCAN_INDEX,
    XCOORDS,
    YCOORDS,
    make_valid_dataset,
    memory_view,
)
from contracts.rules import Finding, Severity, Violation, register, rule_builder, rules_of_family, run_rules

logger = logging.getLogger(__name__)

FAMILY = "RAW"

LEGACY_PATTERNS = "diff3d"
CONVERT_HINT = "or run `ptycho-harness convert IN OUT`, which does this and lists every change"
COMPLEX_KEYS = (PROBE, OBJECT, PATCHES)
# Keys with one entry per scan position in a canonical dataset (used by the examples).
PER_POSITION_KEYS = (DIFFRACTION, PATCHES, XCOORDS, YCOORDS, SCAN_INDEX)
# Keys of the canonical layout plus the legacy pattern key; every other member is unknown.
KNOWN_KEYS = frozenset((DIFFRACTION, LEGACY_PATTERNS, PROBE, OBJECT, PATCHES, XCOORDS, YCOORDS, SCAN_INDEX))
# Patch sizes N the runtime tensors accept, as in contracts.convert.common; larger frames must be
# cropped or binned.
PATCH_SIZES_PX = (64, 128, 256)
# Positions whose every finite value is below this magnitude are read as metres: a scan
# in object pixels spans more than one pixel, while a scan in metres spans um to mm.
METRE_SCALE_LIMIT_M = 1e-3
# Empty object pixels kept between the outermost patch and the canvas edge (as in convert).
CANVAS_MARGIN_PX = 8


def check_raw_arrays(arrays: Mapping[str, object], source: str = "<memory>") -> list[Violation]:
    """Check in-memory arrays against every RAW rule and return all violations."""
    view = memory_view(arrays, source)
    violations, _ = run_rules(rules_of_family(FAMILY), view, source)
    return violations


def pattern_key(view: DatasetView) -> str | None:
    """Return the key of the diffraction patterns: ``diff3d`` when present, else ``diffraction``."""
    for key in (LEGACY_PATTERNS, DIFFRACTION):
        source = view.get(key)
        if source is not None and not source.dtype.hasobject:
            return key
    return None


def unknown_counts_key(view: DatasetView) -> str | None:
    """Return the key of photon counts stored under a non-canonical name, or None.

    Only a file without ``diff3d`` and ``diffraction`` has one: the first key, in
    sorted order, outside ``KNOWN_KEYS`` whose array is 3-D, non-empty and integer.
    """
    if pattern_key(view) is not None:
        return None
    for key in sorted(view.sources):
        if key in KNOWN_KEYS:
            continue
        source = view.get(key)
        if source is None or source.dtype.kind not in "iu" or len(source.shape) != 3:
            continue
        if min(source.shape) > 0:
            return key
    return None


def is_hwn_order(shape: tuple[int, ...], probe_shape: tuple[int, ...] | None) -> bool:
    """Tell whether a 3-D pattern array is stored as (H, W, n) rather than (n, H, W).

    With a 2-D probe the frame shape is known, and the patterns are (H, W, n) when their
    first two axes, and not their last two, match it. Without a probe, square frames
    are assumed, so (H, H, n) with n != H counts as (H, W, n). When n == H == W both
    orders read the same, and (n, H, W) is assumed.
    """
    if len(shape) != 3:
        return False
    if probe_shape is not None and len(probe_shape) == 2:
        return tuple(shape[:2]) == tuple(probe_shape) and tuple(shape[1:]) != tuple(probe_shape)
    return shape[0] == shape[1] != shape[2]


def raw_traits(view: DatasetView) -> list[str]:
    """List the raw-layout traits that headers alone reveal; empty for a canonical layout.

    Family detection uses these, so only traits that a canonical file never has count:
    the ``diff3d`` key, integer patterns, square frames stored as (H, W, n), and 3-D
    integer counts under an unknown key in a file without patterns. A complex128 array
    or a 4-D ``Y`` alone is a broken canonical file, not a raw one.
    """
    traits = []
    if LEGACY_PATTERNS in view:
        traits.append("legacy key 'diff3d'")
    key = pattern_key(view)
    if key is None:
        counts_key = unknown_counts_key(view)
        if counts_key is not None:
            source = view.get(counts_key)
            assert source is not None
            traits.append(
                f"integer counts {source.dtype.name} {source.shape} under the unknown key {counts_key!r} "
                "and no 'diffraction'"
            )
        return traits
    source = view.get(key)
    assert source is not None
    if source.dtype.kind in "iu":
        traits.append(f"{key} has integer dtype {source.dtype.name} (photon counts)")
    shape = source.shape
    if len(shape) == 3 and shape[0] == shape[1] and is_hwn_order(shape, _probe_shape(view)):
        traits.append(f"{key} has shape {shape}, square frames stored as (H, W, n)")
    return traits


# ---------------------------------------------------------------------------
# Shared helpers for checks.


def _probe_shape(view: DatasetView) -> tuple[int, ...] | None:
    probe = view.get(PROBE)
    if probe is None or probe.dtype.hasobject or len(probe.shape) != 2:
        return None
    return probe.shape


def _frames(view: DatasetView, key: str) -> tuple[int, int, int] | None:
    """Return (n, H, W) of a 3-D pattern array, whichever axis order it is stored in."""
    source = view.get(key)
    if source is None or len(source.shape) != 3:
        return None
    a, b, c = source.shape
    if is_hwn_order(source.shape, _probe_shape(view)):
        return c, a, b
    return a, b, c


def _count_normalization(view: DatasetView, key: str) -> tuple[float, float] | None:
    """Return (f, target) with f = sqrt(target / mean over patterns of sum(counts)).

    ``target`` is H * W / 4, which is (N/2)^2 for square N x N frames. Negative counts
    are clipped at 0 first, as the conversion does. None when the array is not 3-D or
    contains no positive count.
    """
    frames = _frames(view, key)
    source = view.get(key)
    if frames is None or source is None:
        return None
    n_patterns, height, width = frames
    total = 0.0
    for _, values in source.chunks():
        total += float(np.sum(np.clip(values, 0, None), dtype=np.float64))
    if n_patterns == 0 or total <= 0:
        return None
    target = height * width / 4
    return math.sqrt(target / (total / n_patterns)), target


def _factor_text(view: DatasetView, key: str) -> str:
    """State the count normalization factor f of ``key``: its value when computable, else its formula."""
    normalization = _count_normalization(view, key)
    if normalization is None:
        return "f = sqrt((N/2)**2 / mean over patterns of sum(counts))"
    f, target = normalization
    return f"f = {f:.6g}, which makes the mean over patterns of sum(diffraction**2) equal (N/2)**2 = {target:g}"


def _is_double(dtype: np.dtype, kind: str) -> bool:
    return dtype.kind == kind and dtype.itemsize == (16 if kind == "c" else 8)


# ---------------------------------------------------------------------------
# Section 3.1: legacy key.


def check_legacy_key(view: DatasetView) -> list[Finding]:
    if LEGACY_PATTERNS not in view:
        return []
    if DIFFRACTION in view:
        return [
            Finding(
                key=LEGACY_PATTERNS,
                seen="both 'diff3d' and 'diffraction' are present",
                expected="only 'diffraction'",
                fix="keep one copy of the patterns: del arrays['diff3d'] once 'diffraction' is canonical",
            )
        ]
    return [
        Finding(
            key=LEGACY_PATTERNS,
            seen="legacy key 'diff3d' and no 'diffraction'",
            expected="'diffraction' as (n, H, W) float32 amplitudes",
            fix=(
                "rename it: arrays['diffraction'] = arrays.pop('diff3d'), after the dtype and "
                f"axis conversions that the other RAW rules name; {CONVERT_HINT}"
            ),
        )
    ]


# ---------------------------------------------------------------------------
# Section 3.2: integer intensity.


def check_integer_intensity(view: DatasetView) -> list[Finding]:
    key = pattern_key(view)
    source = view.get(key) if key is not None else None
    if source is None or source.dtype.kind not in "iu":
        return []
    factor = _factor_text(view, key)
    return [
        Finding(
            key=key,
            seen=f"dtype {source.dtype.name} (integer photon counts)",
            expected="float32 amplitudes: sqrt(counts) times one common factor",
            fix=(
                f"diffraction = (np.sqrt(np.clip({key}, 0, None).astype(np.float64)) * f)"
                f".astype(np.float32) with {factor}; {CONVERT_HINT}"
            ),
        )
    ]


# ---------------------------------------------------------------------------
# Section 3.3: axis order.


def check_axis_order(view: DatasetView) -> list[Finding]:
    key = pattern_key(view)
    source = view.get(key) if key is not None else None
    if source is None or not is_hwn_order(source.shape, _probe_shape(view)):
        return []
    return [
        Finding(
            key=key,
            seen=f"shape {source.shape}, patterns along the last axis (H, W, n)",
            expected=f"(n, H, W) = {(source.shape[2], source.shape[0], source.shape[1])}",
            fix=f"diffraction = np.ascontiguousarray(np.transpose({key}, (2, 0, 1))); {CONVERT_HINT}",
        )
    ]


# ---------------------------------------------------------------------------
# Section 3.4: double precision.


def check_double_precision(view: DatasetView) -> list[Finding]:
    findings = []
    key = pattern_key(view)
    source = view.get(key) if key is not None else None
    if source is not None and _is_double(source.dtype, "f"):
        findings.append(
            Finding(
                key=key,
                seen="dtype float64",
                expected="float32",
                fix=(
                    f"diffraction = {key}.astype(np.float32); `ptycho-harness convert IN OUT` "
                    "does this and reports the maximum relative error it causes"
                ),
            )
        )
    for key in COMPLEX_KEYS:
        source = view.get(key)
        if source is None or not _is_double(source.dtype, "c"):
            continue
        findings.append(
            Finding(
                key=key,
                seen="dtype complex128",
                expected="complex64",
                fix=(
                    f"{key} = {key}.astype(np.complex64); `ptycho-harness convert IN OUT` "
                    "does this and reports the maximum relative error it causes"
                ),
            )
        )
    return findings


# ---------------------------------------------------------------------------
# Section 3.5: channel axis on Y.


def check_patch_channel_axis(view: DatasetView) -> list[Finding]:
    source = view.get(PATCHES)
    if source is None or len(source.shape) != 4 or source.shape[-1] != 1:
        return []
    return [
        Finding(
            key=PATCHES,
            seen=f"shape {source.shape}, a trailing channel axis (n, H, W, 1)",
            expected=f"(n, H, W) = {source.shape[:3]}",
            fix=f"drop the channel axis: Y = Y[..., 0]; {CONVERT_HINT}",
        )
    ]


# ---------------------------------------------------------------------------
# Section 3.6: scan_index.


def check_scan_index_present(view: DatasetView) -> list[Finding]:
    key = pattern_key(view) or unknown_counts_key(view)
    if SCAN_INDEX in view or key is None:
        return []
    frames = _frames(view, key)
    count = str(frames[0]) if frames is not None else "n"
    return [
        Finding(
            key=SCAN_INDEX,
            seen="key missing",
            expected="(n,) integer scan index, one entry per pattern",
            fix=f"scan_index = np.arange({count}, dtype=np.int64) when the patterns are in scan order; {CONVERT_HINT}",
        )
    ]


# ---------------------------------------------------------------------------
# Section 3.7: patterns under an unknown key.


def check_unknown_pattern_key(view: DatasetView) -> list[Finding]:
    key = unknown_counts_key(view)
    source = view.get(key) if key is not None else None
    if source is None:
        return []
    counts = f"arrays.pop({key!r})"
    if is_hwn_order(source.shape, _probe_shape(view)):
        counts = f"np.transpose({counts}, (2, 0, 1))"
    return [
        Finding(
            key=key,
            seen=(
                f"{source.dtype.name} {source.shape} photon counts under {key!r}, "
                "and neither 'diffraction' nor 'diff3d'"
            ),
            expected="the patterns under 'diffraction' as (n, H, W) float32 amplitudes",
            fix=(
                f"rename the counts and take their square root: arrays['diffraction'] = "
                f"(np.sqrt(np.clip({counts}, 0, None).astype(np.float64)) * f).astype(np.float32) "
                f"with {_factor_text(view, key)}; frames larger than {PATCH_SIZES_PX[-1]} x "
                f"{PATCH_SIZES_PX[-1]} are cropped or binned first (RAW-009) and f is then computed "
                "on the result"
            ),
        )
    ]


# ---------------------------------------------------------------------------
# Section 3.8: positions in metres.


def metre_position_keys(view: DatasetView) -> list[str]:
    """List the unknown keys that hold (n, 2) or (n, 3) float positions in metres.

    Every finite value must be below ``METRE_SCALE_LIMIT_M`` in magnitude and at least
    one must be non-zero.
    """
    found = []
    for key in sorted(view.sources):
        source = view.get(key)
        if key in KNOWN_KEYS or source is None or source.dtype.kind != "f":
            continue
        if len(source.shape) != 2 or source.shape[0] == 0 or source.shape[1] not in (2, 3):
            continue
        stats = view.stats(key)
        if stats is None or stats.min is None or stats.max is None:
            continue
        largest = max(abs(stats.min), abs(stats.max))
        if 0 < largest < METRE_SCALE_LIMIT_M:
            found.append(key)
    return found


def check_positions_in_metres(view: DatasetView) -> list[Finding]:
    if XCOORDS in view and YCOORDS in view:
        return []
    findings = []
    patch = _patch_size_text(view)
    for key in metre_position_keys(view):
        source = view.get(key)
        stats = view.stats(key)
        # metre_position_keys returns only keys whose arrays exist and have finite bounds.
        assert source is not None
        assert stats is not None
        assert stats.min is not None
        assert stats.max is not None
        findings.append(
            Finding(
                key=key,
                seen=(
                    f"{source.dtype.name} {source.shape} positions from {stats.min:.4g} to {stats.max:.4g}, "
                    "read as metres, and no xcoords/ycoords"
                ),
                expected="xcoords and ycoords, each (n,) float64 in object pixels",
                fix=(
                    "divide by the object pixel size, which this file does not store: pixel_size_m = "
                    f"wavelength_m * detector_distance_m / ({patch} * detector_pixel_m) for {patch} x {patch} "
                    f"frames. Then xcoords = {key}[:, 0] / pixel_size_m and ycoords = {key}[:, 1] / "
                    "pixel_size_m (swap the columns when the instrument stores (y, x)), and add "
                    f"{patch}/2 - min + {CANVAS_MARGIN_PX} to each so that every patch lies inside the object"
                ),
            )
        )
    return findings


def _patch_size_text(view: DatasetView) -> str:
    """Return the patch size N after RAW-009's crop, as text: a number when the patterns tell it, else 'N'."""
    key = pattern_key(view) or unknown_counts_key(view)
    frames = _frames(view, key) if key is not None else None
    if frames is None:
        return "N"
    side = min(frames[1], frames[2])
    if side <= PATCH_SIZES_PX[-1]:
        return str(side)
    return str(PATCH_SIZES_PX[-1])


# ---------------------------------------------------------------------------
# Section 3.9: frame size.


def check_frame_size(view: DatasetView) -> list[Finding]:
    key = pattern_key(view) or unknown_counts_key(view)
    frames = _frames(view, key) if key is not None else None
    if frames is None:
        return []
    n_patterns, height, width = frames
    largest = PATCH_SIZES_PX[-1]
    if height <= largest and width <= largest:
        return []

    size = max(n for n in PATCH_SIZES_PX if n <= min(height, width))
    top = (height - size) // 2
    left = (width - size) // 2
    fix = (
        f"crop about the zero frequency to N = {size}: {key}[:, {top}:{top + size}, {left}:{left + size}] "
        "when the direct beam is at the frame centre (shift the window when it is not); the detector pixel "
        f"stays, so the object pixel lambda*z/(N*p) grows by {height / size:g}"
    )
    if height % size == 0 and width % size == 0:
        bin_rows, bin_cols = height // size, width // size
        fix += (
            f". Or bin {bin_rows} x {bin_cols}: {key}.reshape({n_patterns}, {size}, {bin_rows}, {size}, "
            f"{bin_cols}).sum(axis=(2, 4)), which keeps the object pixel and shrinks the field of view "
            f"of a patch by {bin_rows}, so the probe must still fit in half of it"
        )
    return [
        Finding(
            key=key,
            seen=f"frames of {height} x {width} pixels",
            expected=f"N x N frames with N in {list(PATCH_SIZES_PX)}, the patch sizes the runtime accepts",
            fix=fix,
        )
    ]


# ---------------------------------------------------------------------------
# Examples: the canonical dataset is valid; each violator adds one raw trait.


def _replace(arrays: dict[str, np.ndarray], key: str, value: np.ndarray) -> dict[str, np.ndarray]:
    changed = dict(arrays)
    changed[key] = value
    return changed


def _rename_patterns(arrays: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {(LEGACY_PATTERNS if key == DIFFRACTION else key): value for key, value in arrays.items()}


def _to_counts(arrays: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    dtype = rng.choice([np.uint16, np.uint32, np.int32, np.int64])
    counts = np.rint(np.square(arrays[DIFFRACTION].astype(np.float64)) * 1000)
    return _replace(arrays, DIFFRACTION, counts.astype(dtype))


def _to_hwn(arrays: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    changed = dict(arrays)
    n_positions, height, _ = changed[DIFFRACTION].shape
    if n_positions == height:
        # (H, H, H) reads the same in both orders, so drop one position to keep it visible.
        for key in PER_POSITION_KEYS:
            if key in changed:
                changed[key] = changed[key][:-1]
    changed[DIFFRACTION] = np.ascontiguousarray(np.transpose(changed[DIFFRACTION], (1, 2, 0)))
    return changed


def _to_double(arrays: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    key = str(rng.choice([DIFFRACTION, *(k for k in COMPLEX_KEYS if k in arrays)]))
    wide = np.float64 if key == DIFFRACTION else np.complex128
    return _replace(arrays, key, arrays[key].astype(wide))


def _counts_under_unknown_key(arrays: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    changed = {key: value for key, value in arrays.items() if key != DIFFRACTION}
    name = str(rng.choice(["reciprocal", "data", "frames"]))
    changed[name] = np.rint(np.square(arrays[DIFFRACTION].astype(np.float64)) * 1000).astype(np.int32)
    return changed


def _positions_to_metres(arrays: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    changed = {key: value for key, value in arrays.items() if key not in (XCOORDS, YCOORDS)}
    pixel_size_m = float(rng.uniform(5e-9, 5e-8))
    changed["position"] = np.stack([arrays[XCOORDS], arrays[YCOORDS]], axis=1) * pixel_size_m
    return changed


def _enlarge_frames(arrays: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    patterns = arrays[DIFFRACTION]
    n_patterns, height, width = patterns.shape
    side = PATCH_SIZES_PX[-1] + int(rng.integers(1, 9))
    top, left = (side - height) // 2, (side - width) // 2
    enlarged = np.zeros((n_patterns, side, side), dtype=patterns.dtype)
    enlarged[:, top : top + height, left : left + width] = patterns
    return _replace(arrays, DIFFRACTION, enlarged)


_rule = rule_builder(FAMILY, make_valid_dataset)


_ERROR, _WARNING = Severity.ERROR, Severity.WARNING

RAW_RULES = (
    _rule(1, _ERROR, "3.1", "no legacy diff3d key",
          "The patterns are stored under 'diffraction', not the legacy key 'diff3d'.",
          check_legacy_key, _rename_patterns),
    _rule(2, _ERROR, "3.2", "patterns are not integer counts",
          "The patterns do not have an integer dtype; integer patterns are photon counts.",
          check_integer_intensity, _to_counts),
    _rule(3, _ERROR, "3.3", "patterns are (n, H, W), not (H, W, n)",
          "The pattern axis comes first.",
          check_axis_order, _to_hwn),
    _rule(4, _ERROR, "3.4", "no double-precision arrays",
          "The patterns are not float64 and probeGuess, objectGuess and Y are not complex128.",
          check_double_precision, _to_double),
    _rule(5, _ERROR, "3.5", "Y has no channel axis",
          "Y is not stored as (n, H, W, 1).",
          check_patch_channel_axis, lambda a, rng: _replace(a, PATCHES, a[PATCHES][..., None])),
    _rule(6, _WARNING, "3.6", "scan_index present",
          "scan_index is present.",
          check_scan_index_present, lambda a, rng: {k: v for k, v in a.items() if k != SCAN_INDEX}),
    _rule(7, _ERROR, "3.7", "no counts under an unknown key",
          "A file without 'diffraction' or 'diff3d' has no 3-D integer array under another key.",
          check_unknown_pattern_key, _counts_under_unknown_key),
    _rule(8, _ERROR, "3.8", "no positions in metres",
          "A file without xcoords and ycoords has no (n, 2) or (n, 3) float array of metre-scale positions.",
          check_positions_in_metres, _positions_to_metres),
    _rule(9, _ERROR, "3.9", "frames at most 256 x 256",
          "The patterns are at most 256 x 256 pixels, the largest patch size the runtime accepts.",
          check_frame_size, _enlarge_frames),
)

register(RAW_RULES)
