"""Import a Ptychodus product (HDF5, NPZ or CXI): probe, object and scan positions, without diffraction.

A product stores one reconstruction: ``probe`` (H, W), (modes, H, W) or
(opr, modes, H, W), ``object`` (M, M') or (layers, M, M'), and the positions
``probe_position_x_m``/``probe_position_y_m`` in metres. An HDF5 product (both
profiles) stores them as root datasets with the pixel sizes and the object centre as
attributes. Ptychodus's NPZ product stores everything as top-level keys
(``contracts.product.npz``). A CXI product stores probe and object as images and the
positions as (x, y, z) translations (``contracts.convert.cxi``). The import keeps the
first OPR component of the first probe mode and the first object layer. It maps each position to object pixels with the object's
own geometry, column = (x - center_x_m) / pixel_width_m + M'/2, so the positions stay
aligned with the object. When a patch would leave the object, the object is padded
with ones (vacuum transmission) and the positions are shifted by the padding.

A product has no diffraction, so the output is not a canonical dataset yet:
``ptycho-harness simulate`` turns it into one.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from contracts.convert.common import CANVAS_MARGIN_PX, ConversionError, ConvertOptions, ImportedScan
from contracts.convert.legacy import read_npz_arrays
from contracts.dataset import OBJECT, PROBE, XCOORDS, YCOORDS
from contracts.product.npz import NPZ_PRODUCT_REQUIRED_KEYS

logger = logging.getLogger(__name__)

PRODUCT_DATASETS = ("probe", "object", "probe_position_x_m", "probe_position_y_m")
PIXEL_SIZE_ATTRIBUTES = ("pixel_height_m", "pixel_width_m")
# Probe and object pixel sizes that differ by more than this fraction cannot share one grid.
PIXEL_SIZE_TOLERANCE = 1e-6
SIMULATE_COMMAND = "ptycho-harness simulate {output} DATA.npz --nphotons 1e6 --seed 0"


def is_product_layout(names: set[str]) -> bool:
    """Tell whether the root names of an HDF5 file are those of a product."""
    return set(PRODUCT_DATASETS) <= names


def import_product(path: Path, options: ConvertOptions) -> ImportedScan:
    """Read a product and return probeGuess, objectGuess, xcoords and ycoords in object pixels.

    ``options.pixel_size_m`` replaces the stored probe and object pixel sizes.

    Raises:
        ConversionError: not readable HDF5, a required dataset missing or not stored in
            the file, an array of the wrong rank or dtype, positions of unequal length,
            or probe and object pixel sizes that are missing, not positive or unequal.
    """
    if options.patch_size_px is not None:
        raise ConversionError(
            f"{path}: --patch-size applies to CXI input only; a product's probe keeps its size "
            "(simulate --patch-size crops it)"
        )
    if _is_hdf5(path) and _is_cxi(path):
        arrays, pixel_sizes = _read_cxi_product(path)
    elif _is_hdf5(path):
        arrays, pixel_sizes = _read_product(path)
    else:
        arrays, pixel_sizes = _read_npz_product(path)
    _check_dtypes(path, arrays)
    changes: list[str] = []

    probe = _first_component("probe", arrays["probe"], changes, ("OPR component", "mode"))
    obj = _first_component("object", arrays["object"], changes, ("layer",))
    changes.append("probe: renamed to probeGuess")
    changes.append("object: renamed to objectGuess")

    pixel_size_m = _pixel_size(path, pixel_sizes, options.pixel_size_m, changes)
    x_m = arrays["probe_position_x_m"]
    y_m = arrays["probe_position_y_m"]
    if x_m.shape != y_m.shape or x_m.ndim != 1 or x_m.size == 0:
        raise ConversionError(
            f"{path}: probe_position_x_m has shape {x_m.shape} and probe_position_y_m {y_m.shape}; "
            "expected two equal non-empty (n,) arrays"
        )
    center_y_m, center_x_m = pixel_sizes["object_center"]
    rows, cols = obj.shape
    xcoords = (x_m - center_x_m) / pixel_size_m[1] + cols / 2
    ycoords = (y_m - center_y_m) / pixel_size_m[0] + rows / 2
    changes.append(
        f"probe_position_x_m, probe_position_y_m: xcoords = (x - {center_x_m:.6g}) / {pixel_size_m[1]:.6g} + "
        f"{cols / 2:g} and ycoords = (y - {center_y_m:.6g}) / {pixel_size_m[0]:.6g} + {rows / 2:g}, "
        "object pixels measured from the object's corner"
    )
    obj, xcoords, ycoords = _fit_patches(obj, xcoords, ycoords, probe.shape, changes)
    changes.append("diffraction: none in a product; run `ptycho-harness simulate` on the output to add it")

    canonical = {PROBE: probe, OBJECT: obj, XCOORDS: xcoords, YCOORDS: ycoords}
    metadata: dict[str, Any] = {
        "object_pixel_size_m": [float(pixel_size_m[0]), float(pixel_size_m[1])],
        "positions_unit": "object pixels",
        "next_step": "simulate",
    }
    return ImportedScan(arrays=canonical, changes=tuple(changes), metadata=metadata)


def _read_product(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read the four product datasets and the pixel sizes and centre of probe and object."""
    import h5py

    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise ConversionError(f"{path}: not a readable product (HDF5) file ({error})") from None
    with handle:
        arrays: dict[str, np.ndarray] = {}
        for name in PRODUCT_DATASETS:
            link = handle.get(name, getlink=True)
            if link is None:
                raise ConversionError(
                    f"{path}: not a product file; dataset {name!r} missing, expected {list(PRODUCT_DATASETS)}"
                )
            if not isinstance(link, h5py.HardLink) or not isinstance(handle[name], h5py.Dataset):
                raise ConversionError(
                    f"{path}: {name!r} is stored as {type(link).__name__}, not as a dataset in the file; "
                    "copy the linked data into the product first (validate lists every link)"
                )
            arrays[name] = np.asarray(handle[name][()])
        pixel_sizes = {
            "probe": tuple(_attribute(handle["probe"], name) for name in PIXEL_SIZE_ATTRIBUTES),
            "object": tuple(_attribute(handle["object"], name) for name in PIXEL_SIZE_ATTRIBUTES),
            "object_center": (
                _attribute(handle["object"], "center_y_m") or 0.0,
                _attribute(handle["object"], "center_x_m") or 0.0,
            ),
        }
    return arrays, pixel_sizes


def _read_npz_product(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read the arrays, pixel sizes and object centre of a Ptychodus NPZ product."""
    stored = read_npz_arrays(path)
    missing = sorted(NPZ_PRODUCT_REQUIRED_KEYS - set(stored))
    if missing:
        raise ConversionError(
            f"{path}: not a Ptychodus NPZ product; keys {missing} missing, expected {sorted(NPZ_PRODUCT_REQUIRED_KEYS)}"
        )
    arrays = {name: stored[name] for name in PRODUCT_DATASETS}
    pixel_sizes = {
        "probe": tuple(_scalar(stored.get(f"probe_{name}")) for name in PIXEL_SIZE_ATTRIBUTES),
        "object": tuple(_scalar(stored.get(f"object_{name}")) for name in PIXEL_SIZE_ATTRIBUTES),
        "object_center": (
            _scalar(stored.get("object_center_y_m")) or 0.0,
            _scalar(stored.get("object_center_x_m")) or 0.0,
        ),
    }
    return arrays, pixel_sizes


def _read_cxi_product(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read probe, object, translations, pixel sizes and object centre of a CXI product."""
    import h5py

    from contracts.convert import cxi

    with h5py.File(path, "r") as handle:
        missing = [name for name in (cxi.CXI_PROBE_IMAGE_PATH, cxi.CXI_OBJECT_IMAGE_PATH) if name not in handle]
        translation_path = next((name for name in cxi.TRANSLATION_PATHS if name in handle), None)
        if missing or translation_path is None:
            expected = [cxi.CXI_PROBE_IMAGE_PATH, cxi.CXI_OBJECT_IMAGE_PATH, cxi.TRANSLATION_PATHS[0]]
            raise ConversionError(f"{path}: not a CXI product; expected datasets at {expected}")
        translations = np.asarray(handle[translation_path][()], dtype=np.float64)
        arrays = {
            "probe": np.asarray(handle[cxi.CXI_PROBE_IMAGE_PATH][()]),
            "object": np.asarray(handle[cxi.CXI_OBJECT_IMAGE_PATH][()]),
        }
        extras = handle.get(cxi.CXI_EXTRAS_PATH)

        def extra(name: str) -> float | None:
            if extras is None or name not in extras:
                return None
            return _scalar(np.asarray(extras[name][()]))

        pixel_sizes = {
            "probe": tuple(extra(f"probe_{name}") for name in PIXEL_SIZE_ATTRIBUTES),
            "object": tuple(extra(f"object_{name}") for name in PIXEL_SIZE_ATTRIBUTES),
            "object_center": (extra("object_center_y_m") or 0.0, extra("object_center_x_m") or 0.0),
        }
    if translations.ndim != 2 or translations.shape[1] < 2:
        raise ConversionError(f"{path}: {translation_path} has shape {translations.shape}; expected (n, 3) metres")
    # The CXI product writer stores the probe positions as columns x, y (and z = 0).
    arrays["probe_position_x_m"] = translations[:, 0]
    arrays["probe_position_y_m"] = translations[:, 1]
    return arrays, pixel_sizes


def _is_cxi(path: Path) -> bool:
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            return "cxi_version" in handle or "entry_1" in handle
    except OSError:
        return False


def _check_dtypes(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Check that probe and object are complex and cast the positions to float64 in place."""
    for name in ("probe", "object"):
        if arrays[name].dtype.kind != "c":
            raise ConversionError(f"{path}: {name} has dtype {arrays[name].dtype}; expected complex64 or complex128")
    for name in ("probe_position_x_m", "probe_position_y_m"):
        if arrays[name].dtype.kind not in "iuf":
            raise ConversionError(f"{path}: {name} has dtype {arrays[name].dtype}; expected float metres")
        arrays[name] = arrays[name].astype(np.float64)


def _is_hdf5(path: Path) -> bool:
    from contracts.convert.cxi import is_hdf5

    return is_hdf5(path)


def _scalar(value: np.ndarray | None) -> float | None:
    if value is None:
        return None
    flat = np.asarray(value).reshape(-1)
    if flat.size != 1 or flat.dtype.kind not in "iuf":
        return None
    return float(flat[0])


def _attribute(node: Any, name: str) -> float | None:
    if name not in node.attrs:
        return None
    return _scalar(np.asarray(node.attrs[name]))


def _first_component(name: str, values: np.ndarray, changes: list[str], axes: tuple[str, ...]) -> np.ndarray:
    """Keep index 0 of every axis before the last two; ``axes`` names those axes at the maximum rank."""
    if values.ndim < 2 or values.ndim > 2 + len(axes) or 0 in values.shape:
        raise ConversionError(
            f"{name}: shape {values.shape}; expected 2 to {2 + len(axes)} non-empty axes "
            f"({', '.join(axes)}, rows, columns)"
        )
    leading = values.shape[:-2]
    if not leading:
        return values
    kept = values[(0,) * len(leading)]
    # A lower rank drops the outermost axes: a 3-D probe is (modes, H, W).
    names = axes[len(axes) - len(leading) :]
    dropped = [f"{count} {axis}s" for axis, count in zip(names, leading) if count > 1]
    described = ", ".join(dropped) if dropped else "length-1 axes"
    changes.append(f"{name}: kept the first of {described}, {values.shape} -> {kept.shape}")
    if dropped:
        logger.info("%s: kept the first entry of %s", name, described)
    return kept


def _pixel_size(
    path: Path, sizes: dict[str, Any], override_m: float | None, changes: list[str]
) -> tuple[float, float]:
    """Return the (rows, columns) pixel size in metres that probe and object share."""
    if override_m is not None:
        if not (math.isfinite(override_m) and override_m > 0):
            raise ConversionError(f"--pixel-size-m {override_m} is invalid; expected a positive size in metres")
        changes.append(f"pixel size: {override_m:.6g} m for probe and object from --pixel-size-m")
        return override_m, override_m
    for name in ("probe", "object"):
        for attribute, value in zip(PIXEL_SIZE_ATTRIBUTES, sizes[name]):
            if value is None or not (math.isfinite(value) and value > 0):
                seen = "missing" if value is None else f"{value:g}"
                raise ConversionError(
                    f"{path}: the {name} {attribute} is {seen}; expected a positive pixel size in metres, "
                    "which places the positions on the object's pixel grid. Pass --pixel-size-m with the "
                    f"pixel size of probe and object in metres{_object_hint(sizes)}"
                )
    probe_size, object_size = sizes["probe"], sizes["object"]
    for axis, probe_m, object_m in zip(("height", "width"), probe_size, object_size):
        if not math.isclose(probe_m, object_m, rel_tol=PIXEL_SIZE_TOLERANCE):
            raise ConversionError(
                f"{path}: probe pixel {axis} {probe_m:.6g} m differs from object pixel {axis} {object_m:.6g} m; "
                "the canonical dataset samples both on one grid. Resample the probe to the object's pixel "
                "size, or pass --pixel-size-m when the stored sizes are wrong"
            )
    changes.append(f"pixel size: {object_size[0]:.6g} m x {object_size[1]:.6g} m from the object (the probe agrees)")
    return object_size[0], object_size[1]


def _object_hint(sizes: dict[str, Any]) -> str:
    """Suggest the object's pixel size when it is valid."""
    height, width = sizes["object"]
    if height and width and height > 0 and width > 0 and math.isfinite(height) and math.isclose(height, width):
        return f" (the object's is {width:.6g} m: --pixel-size-m {width:.6g})"
    return ""


def _fit_patches(
    obj: np.ndarray, xcoords: np.ndarray, ycoords: np.ndarray, patch_shape: tuple[int, ...], changes: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pad the object with ones when a patch leaves it, shifting the positions by the padding."""
    half_rows, half_cols = patch_shape[0] / 2, patch_shape[1] / 2
    rows, cols = obj.shape
    top = _padding(half_rows - float(np.min(ycoords)))
    left = _padding(half_cols - float(np.min(xcoords)))
    bottom = _padding(float(np.max(ycoords)) + half_rows - rows)
    right = _padding(float(np.max(xcoords)) + half_cols - cols)
    if not (top or left or bottom or right):
        changes.append(f"xcoords, ycoords: every {patch_shape[0]}x{patch_shape[1]} patch lies inside the object")
        return obj, xcoords, ycoords
    padded = np.pad(obj, ((top, bottom), (left, right)), constant_values=1)
    changes.append(
        f"objectGuess: padded with ones (vacuum) by {top} rows at the top, {bottom} at the bottom, {left} columns "
        f"at the left and {right} at the right, {obj.shape} -> {padded.shape}, so that every patch lies inside it; "
        f"xcoords shifted by +{left} and ycoords by +{top}"
    )
    return padded, xcoords + left, ycoords + top


def _padding(overhang_px: float) -> int:
    """Return the pixels to add for a patch that overhangs by ``overhang_px``, with the canvas margin."""
    if overhang_px <= 0:
        return 0
    return int(math.ceil(overhang_px)) + CANVAS_MARGIN_PX
