"""Import the project's legacy NPZ layout (the RAW family) into canonical keys and shapes.

Each raw trait that ``contracts.raw`` reports is undone here. ``diff3d`` becomes
``diffraction`` and (H, W, n) patterns are transposed. Integer or whole-number float
intensities become normalized amplitudes. A channel axis on ``Y`` is dropped, and a
missing ``scan_index`` is numbered in storage order. Other keys are kept unchanged.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from contracts.convert.common import (
    ConversionError,
    ConvertOptions,
    ImportedScan,
    counts_to_amplitude,
    looks_like_counts,
)
from contracts.dataset import DIFFRACTION, PATCHES, PROBE, SCAN_INDEX
from contracts.errors import InputError
from contracts.npz import NpzArchive
from contracts.raw import LEGACY_PATTERNS, is_hwn_order

logger = logging.getLogger(__name__)

METADATA = "metadata_json"


def read_npz_arrays(path: Path) -> dict[str, np.ndarray]:
    """Load every member of an NPZ without pickle; object arrays are rejected.

    Raises:
        ConversionError: the file cannot be read, or a member is an object array.
    """
    try:
        with NpzArchive(path) as archive:
            for key, member in archive.members.items():
                if member.header.dtype.hasobject:
                    raise ConversionError(
                        f"{path}: array {key!r} has an object dtype, which only pickle can load; "
                        "remove it or store it as numbers or JSON text, then convert again"
                    )
            return {key: archive.source(key).load() for key in archive.members}
    except InputError as error:
        raise ConversionError(str(error)) from None


def import_legacy(path: Path, options: ConvertOptions) -> ImportedScan:
    """Read a legacy or raw NPZ and return its arrays in canonical keys and shapes.

    Raises:
        ConversionError: no pattern array, patterns that are not 3-D, or an option that
            does not apply to this layout.
    """
    _reject_options(path, options)
    arrays = read_npz_arrays(path)
    changes: list[str] = []
    metadata: dict[str, Any] = {}

    key, patterns = _take_patterns(path, arrays, changes)
    patterns = _order_axes(key, patterns, arrays.get(PROBE), changes)
    diffraction, normalization = _to_amplitude(key, patterns, changes)
    arrays[DIFFRACTION] = diffraction
    _squeeze_probe(arrays, changes)
    _squeeze_patch_channel(arrays, changes)
    _number_positions(arrays, diffraction.shape[0], changes)
    source_metadata = arrays.pop(METADATA, None)
    if source_metadata is not None:
        metadata["source_metadata"] = _decode_metadata(source_metadata)
        changes.append("metadata_json: the input's metadata is kept under 'source_metadata'")
    return ImportedScan(
        arrays=arrays, changes=tuple(changes), metadata=metadata, diffraction_normalization=normalization
    )


def _reject_options(path: Path, options: ConvertOptions) -> None:
    if options.pixel_size_m is not None:
        raise ConversionError(
            f"{path}: --pixel-size-m applies to CXI input only; positions in an NPZ are already in pixels"
        )
    if options.patch_size_px is not None:
        raise ConversionError(
            f"{path}: --patch-size applies to CXI input only; an NPZ keeps the pattern size it was saved with"
        )


def _take_patterns(path: Path, arrays: dict[str, np.ndarray], changes: list[str]) -> tuple[str, np.ndarray]:
    if LEGACY_PATTERNS in arrays:
        if DIFFRACTION in arrays:
            raise ConversionError(
                f"{path}: both 'diff3d' and 'diffraction' are present; keep the one that contains the "
                "patterns and convert again"
            )
        changes.append("diff3d: renamed to diffraction")
        return LEGACY_PATTERNS, arrays.pop(LEGACY_PATTERNS)
    if DIFFRACTION in arrays:
        return DIFFRACTION, arrays.pop(DIFFRACTION)
    counts_keys = [key for key, value in arrays.items() if value.ndim == 3 and value.dtype.kind in "iu"]
    hint = ""
    if counts_keys:
        # NOTE: convert does not import counts under other names, because their positions
        # usually need a pixel size that the file does not store.
        hint = (
            f". {counts_keys[0]!r} looks like photon counts under another name: run `ptycho-harness validate "
            "IN`, whose RAW-007 to RAW-009 violations give the exact conversion"
        )
    raise ConversionError(
        f"{path}: no diffraction patterns; expected an array 'diff3d' or 'diffraction', found "
        f"{sorted(arrays) or 'no arrays'}{hint}"
    )


def _order_axes(key: str, patterns: np.ndarray, probe: np.ndarray | None, changes: list[str]) -> np.ndarray:
    if patterns.ndim != 3:
        raise ConversionError(
            f"{key}: shape {patterns.shape}; expected 3-D patterns as (n, H, W) or (H, W, n)"
        )
    probe_shape = probe.shape if probe is not None and probe.ndim == 2 else None
    if not is_hwn_order(patterns.shape, probe_shape):
        return patterns
    changes.append(
        f"{key}: moved the pattern axis first, (H, W, n) {patterns.shape} -> (n, H, W) "
        f"{(patterns.shape[2], patterns.shape[0], patterns.shape[1])} with np.transpose(..., (2, 0, 1))"
    )
    return np.ascontiguousarray(np.transpose(patterns, (2, 0, 1)))


def _to_amplitude(key: str, patterns: np.ndarray, changes: list[str]) -> tuple[np.ndarray, float | None]:
    if not looks_like_counts(patterns):
        return patterns, None
    if patterns.dtype.kind == "f":
        changes.append(
            f"{key}: treated as photon counts because every value is a whole number and the max is above 1"
        )
    else:
        changes.append(f"{key}: treated as photon counts because its dtype is {patterns.dtype.name}")
    return counts_to_amplitude(patterns, changes, key)


def _squeeze_probe(arrays: dict[str, np.ndarray], changes: list[str]) -> None:
    probe = arrays.get(PROBE)
    if probe is None or probe.ndim <= 2 or any(n != 1 for n in probe.shape[:-2]):
        return
    arrays[PROBE] = probe.reshape(probe.shape[-2:])
    changes.append(f"probeGuess: dropped length-1 axes, {probe.shape} -> {arrays[PROBE].shape}")


def _squeeze_patch_channel(arrays: dict[str, np.ndarray], changes: list[str]) -> None:
    patches = arrays.get(PATCHES)
    if patches is None or patches.ndim != 4 or patches.shape[-1] != 1:
        return
    arrays[PATCHES] = patches[..., 0]
    changes.append(f"Y: dropped the channel axis, {patches.shape} -> {arrays[PATCHES].shape}")


def _number_positions(arrays: dict[str, np.ndarray], n_patterns: int, changes: list[str]) -> None:
    if SCAN_INDEX in arrays:
        return
    arrays[SCAN_INDEX] = np.arange(n_patterns, dtype=np.int64)
    changes.append(f"scan_index: added as 0..{n_patterns - 1} in storage order (it was missing)")


def _decode_metadata(value: np.ndarray) -> object:
    item = value[()] if value.ndim == 0 else value.tolist()
    text = item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
