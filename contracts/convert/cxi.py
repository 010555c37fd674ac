"""Import far-field ptychography scans from CXI (HDF5) files; recognise and reject near-field ones.

Read: patterns at ``entry_1/instrument_1/detector_1/data`` (or ``entry_1/data_1/data``),
sample translations in metres at ``entry_1/sample_1/geometry_1/translation`` (or
``entry_1/data_1/translation``), the photon energy in joules at
``entry_1/instrument_1/source_1/energy``, and the detector ``distance`` and
``x_pixel_size``/``y_pixel_size`` in metres. The detector is cropped about its centre to
N x N, and translations become object pixels of size lambda * z / (N * detector pixel).

The project's forward model is far-field (one Fourier transform from exit wave to
detector). A far-field detector of pixel size p at distance z samples a sample-plane
window of width L = lambda * z / p. The probe must fit in half of it (oversampling of at least
2), and neighbouring positions must overlap, so the scan step must be below L / 2. A
scan whose median nearest-neighbour step is at least L / 2 cannot be a far-field
ptychography scan and is rejected as near-field, as is a file that names itself near-field.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from contracts.convert.common import (
    PATCH_SIZES_PX,
    ConversionError,
    ConvertOptions,
    ImportedScan,
    counts_to_amplitude,
    place_on_canvas,
)
from contracts.dataset import DIFFRACTION, PROBE, SCAN_INDEX, XCOORDS, YCOORDS

logger = logging.getLogger(__name__)

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
PLANCK_EV_S = 4.135667696e-15
SPEED_OF_LIGHT_M_S = 299_792_458.0
ELECTRON_VOLT_J = 1.602176634e-19
PLANCK_J_S = PLANCK_EV_S * ELECTRON_VOLT_J

DATA_PATHS = ("entry_1/instrument_1/detector_1/data", "entry_1/data_1/data")
TRANSLATION_PATHS = ("entry_1/sample_1/geometry_1/translation", "entry_1/data_1/translation")
ENERGY_PATH = "entry_1/instrument_1/source_1/energy"
WAVELENGTH_PATH = "entry_1/instrument_1/source_1/wavelength"
DISTANCE_PATH = "entry_1/instrument_1/detector_1/distance"
PIXEL_SIZE_PATHS = ("entry_1/instrument_1/detector_1/x_pixel_size", "entry_1/instrument_1/detector_1/y_pixel_size")
MASK_PATH = "entry_1/instrument_1/detector_1/mask"
PROBE_PATHS = ("entry_1/instrument_1/source_1/probe", "entry_1/instrument_1/source_1/illumination")
# A CXI product as the CXI product writer of Ptychodus (ptychodus/plugins/cxi_file.py, CXI
# spec 1.6) stores it: probe and object as images, pixel sizes and object centre under
# entry_1/ptychodus, and no patterns.
CXI_PROBE_IMAGE_PATH = "entry_1/image_1/data"
CXI_OBJECT_IMAGE_PATH = "entry_1/image_2/data"
CXI_EXTRAS_PATH = "entry_1/ptychodus"
# Kinds of CXI content that ``read_cxi_kind`` returns.
CXI_SCAN, CXI_PATTERNS_ONLY, CXI_PRODUCT = "scan", "patterns only", "product"
# A far-field scan needs a median nearest-neighbour step below this fraction of the
# far-field window lambda * z / p (probe at most half the window, steps below the probe).
FAR_FIELD_MAX_STEP_FRACTION = 0.5
# Words in a node name or a string attribute or value that mark a file as near-field.
NEAR_FIELD_MARKERS = ("near_field", "near-field", "nearfield", "near field", "fresnel", "holograph")


def is_hdf5(path: Path) -> bool:
    with open(path, "rb") as stream:
        return stream.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE


def import_cxi(path: Path, options: ConvertOptions) -> ImportedScan:
    """Read a far-field CXI scan and return canonical arrays cropped to N x N.

    Raises:
        ConversionError: not HDF5, no patterns or translations, geometry missing with no
            --pixel-size-m, a detector smaller than N, or a near-field scan.
    """
    import h5py

    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise ConversionError(f"{path}: not a readable CXI (HDF5) file ({error})") from None
    with handle:
        reject_named_near_field(path, handle)
        data_path, patterns = _read_first(handle, DATA_PATHS, path, "diffraction patterns")
        translation_path, translations = _read_first(handle, TRANSLATION_PATHS, path, "translations")
        geometry = read_geometry(handle)
        mask = np.asarray(handle[MASK_PATH][()]) if MASK_PATH in handle else None
        probe = _read_probe(handle)

    changes: list[str] = [f"{data_path}: read as the patterns", f"{translation_path}: read as the positions (metres)"]
    patterns, translations = _check_shapes(path, patterns, translations)
    reject_near_field_geometry(path, translations, geometry)
    patch_px = _choose_patch_size(path, patterns.shape, options.patch_size_px, changes)
    counts = _crop_centre(patterns, patch_px, changes)
    if mask is not None:
        changes.append(
            f"{MASK_PATH}: {int(np.count_nonzero(mask))} flagged detector pixels; the mask is not applied"
        )
    diffraction, normalization = counts_to_amplitude(counts, changes, "data")

    pixel_size_m = _object_pixel_size(path, geometry, patch_px, options.pixel_size_m, changes)
    # NOTE: CXI writers differ on the sign of sample translations and on detector basis
    # vectors. Here the probe position is minus the sample translation, and the basis
    # vectors are not applied. A mirrored reconstruction means the writer's convention differs.
    x_px = -translations[:, 0] / pixel_size_m[1]
    y_px = -translations[:, 1] / pixel_size_m[0]
    changes.append(
        "translation: probe positions = -translation / object pixel size, column 0 to xcoords and "
        "column 1 to ycoords"
    )
    xcoords, ycoords, canvas = place_on_canvas(x_px, y_px, patch_px, changes)
    n_patterns = counts.shape[0]

    if probe is not None and probe.shape == (patch_px, patch_px):
        changes.append("probeGuess: read from the file")
    else:
        probe = _estimate_probe(diffraction)
        changes.append(
            "probeGuess: estimated as the inverse FFT of the mean amplitude pattern (zero phase, centred); "
            "replace it with a measured probe when one exists"
        )
    changes.append(f"scan_index: added as 0..{n_patterns - 1} in storage order")
    changes.append("objectGuess: none in the input, so none is written")

    canonical = {
        DIFFRACTION: diffraction,
        PROBE: probe,
        XCOORDS: xcoords,
        YCOORDS: ycoords,
        SCAN_INDEX: np.arange(n_patterns, dtype=np.int64),
    }
    metadata: dict[str, Any] = {
        "object_canvas_px": list(canvas),
        "object_pixel_size_m": [float(pixel_size_m[0]), float(pixel_size_m[1])],
        "positions_unit": "object pixels",
        **{key: value for key, value in geometry.items() if value is not None},
    }
    return ImportedScan(
        arrays=canonical, changes=tuple(changes), metadata=metadata, diffraction_normalization=normalization
    )


def _read_first(handle: Any, paths: tuple[str, ...], path: Path, description: str) -> tuple[str, np.ndarray]:
    for candidate in paths:
        if candidate in handle:
            return candidate, np.asarray(handle[candidate][()])
    raise ConversionError(f"{path}: no {description}; expected a dataset at one of {list(paths)}")


def _read_scalar(handle: Any, name: str) -> float | None:
    if name not in handle:
        return None
    value = np.asarray(handle[name][()], dtype=np.float64).reshape(-1)
    return float(value[0]) if value.size else None


def read_geometry(handle: Any) -> dict[str, float | None]:
    """Read the wavelength (from the energy when stored), detector distance and pixel sizes, in SI units."""
    energy_j = _read_scalar(handle, ENERGY_PATH)
    wavelength_m = _read_scalar(handle, WAVELENGTH_PATH)
    if energy_j is not None and energy_j > 0:
        from_energy = PLANCK_J_S * SPEED_OF_LIGHT_M_S / energy_j
        if wavelength_m is not None and not math.isclose(from_energy, wavelength_m, rel_tol=1e-2):
            logger.warning(
                "stored wavelength %.6g m differs from the %.6g m of the stored energy; using the energy",
                wavelength_m, from_energy,
            )
        wavelength_m = from_energy
    return {
        "energy_j": energy_j,
        "wavelength_m": wavelength_m,
        "detector_distance_m": _read_scalar(handle, DISTANCE_PATH),
        "detector_pixel_size_x_m": _read_scalar(handle, PIXEL_SIZE_PATHS[0]),
        "detector_pixel_size_y_m": _read_scalar(handle, PIXEL_SIZE_PATHS[1]),
    }


def _read_probe(handle: Any) -> np.ndarray | None:
    for candidate in PROBE_PATHS:
        if candidate in handle:
            value = np.asarray(handle[candidate][()])
            if value.ndim == 2 and value.dtype.kind == "c":
                return value
    return None


def reject_named_near_field(path: Path, handle: Any) -> None:
    """Raise ConversionError when a node name, string attribute or short string value marks near-field data."""
    found: list[str] = []

    def inspect(name: str, node: Any) -> None:
        texts = [name]
        texts += [str(value) for value in node.attrs.values() if isinstance(value, (str, bytes))]
        if hasattr(node, "dtype") and node.dtype.kind in "SUO" and node.size <= 16:
            texts += [str(value) for value in np.asarray(node[()]).reshape(-1)]
        for text in texts:
            lowered = text.lower()
            if any(marker in lowered for marker in NEAR_FIELD_MARKERS):
                found.append(f"{name}: {text[:80]!r}")

    handle.visititems(inspect)
    if found:
        raise ConversionError(
            f"{path}: near-field ptychography ({found[0]}); this project's forward model is far-field "
            "(one Fourier transform to the detector), so near-field data cannot be converted"
        )


def _check_shapes(path: Path, patterns: np.ndarray, translations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if patterns.ndim != 3 or patterns.dtype.kind not in "iuf":
        raise ConversionError(
            f"{path}: patterns have shape {patterns.shape} and dtype {patterns.dtype}; expected (n, H, W) counts"
        )
    if translations.ndim != 2 or translations.shape[0] != patterns.shape[0] or translations.shape[1] < 2:
        raise ConversionError(
            f"{path}: translations have shape {translations.shape}; expected ({patterns.shape[0]}, 3) "
            "(x, y, z) in metres, one row per pattern"
        )
    return patterns, translations.astype(np.float64)


def reject_near_field_geometry(path: Path, translations: np.ndarray, geometry: dict[str, float | None]) -> None:
    """Raise ConversionError when the scan step is too large for far-field data; see ``geometry_verdict``."""
    verdict = geometry_verdict(path, translations, geometry)
    if verdict.near_field:
        raise ConversionError(verdict.message)


@dataclass(frozen=True)
class GeometryVerdict:
    """Whether a CXI scan is near-field: True, False, or None when the geometry is incomplete.

    ``message`` states the step, the far-field window and the ratio, or what is missing.
    """

    near_field: bool | None
    message: str


def geometry_verdict(path: Path, translations: np.ndarray, geometry: dict[str, float | None]) -> GeometryVerdict:
    """Compare the median scan step with the far-field window lambda*z/p of ``geometry``."""
    wavelength_m = geometry["wavelength_m"]
    distance_m = geometry["detector_distance_m"]
    pixel_m = geometry["detector_pixel_size_x_m"] or geometry["detector_pixel_size_y_m"]
    if not (wavelength_m and distance_m and pixel_m) or translations.shape[0] < 2:
        logger.warning("%s: geometry incomplete, so the near-field check did not run", path)
        return GeometryVerdict(
            None,
            f"{path}: the near-field check did not run because the energy or wavelength, the detector "
            "distance, the detector pixel size or a second position is missing",
        )
    window_m = wavelength_m * distance_m / pixel_m
    step_m = median_nearest_neighbour_step(translations[:, :2])
    ratio = step_m / window_m
    logger.info(
        "%s: median scan step %.4g m is %.3g of the far-field window lambda*z/p = %.4g m",
        path, step_m, ratio, window_m,
    )
    window = (
        f"the far-field window lambda*z/p = {wavelength_m:.4g} m * {distance_m:.4g} m / {pixel_m:.4g} m = "
        f"{window_m:.4g} m"
    )
    if ratio >= FAR_FIELD_MAX_STEP_FRACTION:
        return GeometryVerdict(
            True,
            f"{path}: near-field geometry: the median nearest-neighbour scan step {step_m:.4g} m is "
            f"{ratio:.2f} of {window}, at least the {FAR_FIELD_MAX_STEP_FRACTION} that a "
            "far-field scan allows (probe within half the window, neighbouring positions overlapping). "
            "This project's forward model is far-field, so near-field data cannot be converted",
        )
    return GeometryVerdict(
        False,
        f"{path}: far-field geometry: the median nearest-neighbour scan step {step_m:.4g} m is {ratio:.2f} of "
        f"{window}, below {FAR_FIELD_MAX_STEP_FRACTION}",
    )


def read_cxi_kind(path: Path) -> str | None:
    """Return what a CXI file contains: a scan, patterns without translations, or a product.

    None when the HDF5 file is not CXI (neither ``cxi_version`` nor ``entry_1``).

    Raises:
        OSError: the file is not readable HDF5.
    """
    import h5py

    with h5py.File(path, "r") as handle:
        if "cxi_version" not in handle and "entry_1" not in handle:
            return None
        has_patterns = any(candidate in handle for candidate in DATA_PATHS)
        has_translations = any(candidate in handle for candidate in TRANSLATION_PATHS)
        has_images = CXI_PROBE_IMAGE_PATH in handle and CXI_OBJECT_IMAGE_PATH in handle
    if has_images and not has_patterns:
        return CXI_PRODUCT
    if has_patterns and not has_translations:
        return CXI_PATTERNS_ONLY
    return CXI_SCAN


def read_cxi_verdict(path: Path) -> GeometryVerdict | None:
    """Return the near-field verdict of a CXI file, or None when the HDF5 file is not CXI.

    A node name or string that marks the file as near-field gives a near-field verdict
    without reading the geometry.

    Raises:
        OSError: the file is not readable HDF5.
    """
    import h5py

    with h5py.File(path, "r") as handle:
        if "cxi_version" not in handle and "entry_1" not in handle:
            return None
        try:
            reject_named_near_field(path, handle)
        except ConversionError as error:
            return GeometryVerdict(True, str(error))
        translations = None
        for candidate in TRANSLATION_PATHS:
            if candidate in handle:
                translations = np.asarray(handle[candidate][()], dtype=np.float64)
                break
        geometry = read_geometry(handle)
    if translations is None or translations.ndim != 2 or translations.shape[1] < 2:
        return GeometryVerdict(
            None, f"{path}: the near-field check did not run because no (n, 2) or (n, 3) translations were found"
        )
    return geometry_verdict(path, translations, geometry)


def median_nearest_neighbour_step(points: np.ndarray, block: int = 1024) -> float:
    """Return the median distance from each point to its nearest other point.

    Distances are computed in blocks of ``block`` rows, so memory grows with n, not n^2.
    """
    nearest = np.empty(points.shape[0])
    for start in range(0, points.shape[0], block):
        rows = points[start : start + block]
        distances = np.sqrt(np.sum((rows[:, None, :] - points[None, :, :]) ** 2, axis=-1))
        distances[np.arange(rows.shape[0]), np.arange(start, start + rows.shape[0])] = np.inf
        nearest[start : start + rows.shape[0]] = distances.min(axis=1)
    return float(np.median(nearest))


def _choose_patch_size(path: Path, shape: tuple[int, ...], requested: int | None, changes: list[str]) -> int:
    smallest_side = min(shape[1], shape[2])
    if requested is not None:
        if requested not in PATCH_SIZES_PX:
            raise ConversionError(f"--patch-size {requested} is invalid; expected one of {list(PATCH_SIZES_PX)}")
        if requested > smallest_side:
            raise ConversionError(
                f"{path}: --patch-size {requested} exceeds the {shape[1]}x{shape[2]} detector; "
                f"choose at most {smallest_side}"
            )
        return requested
    fitting = [size for size in PATCH_SIZES_PX if size <= smallest_side]
    if not fitting:
        raise ConversionError(
            f"{path}: the {shape[1]}x{shape[2]} detector is smaller than the smallest patch size "
            f"{PATCH_SIZES_PX[0]}; the canonical dataset needs N in {list(PATCH_SIZES_PX)}"
        )
    chosen = fitting[-1]
    changes.append(f"patch size: chose N = {chosen}, the largest of {list(PATCH_SIZES_PX)} that fits the detector")
    logger.info("%s: patch size N = %d chosen to fit the %dx%d detector", path, chosen, shape[1], shape[2])
    return chosen


def _crop_centre(patterns: np.ndarray, patch_px: int, changes: list[str]) -> np.ndarray:
    _, height, width = patterns.shape
    if (height, width) == (patch_px, patch_px):
        return patterns
    top = (height - patch_px) // 2
    left = (width - patch_px) // 2
    changes.append(
        f"data: cropped the {height}x{width} detector about its centre to rows {top}..{top + patch_px - 1} "
        f"and columns {left}..{left + patch_px - 1}"
    )
    return patterns[:, top : top + patch_px, left : left + patch_px]


def _object_pixel_size(
    path: Path, geometry: dict[str, float | None], patch_px: int, override_m: float | None, changes: list[str]
) -> tuple[float, float]:
    """Return the object pixel size (rows, cols) in metres."""
    if override_m is not None:
        if not (math.isfinite(override_m) and override_m > 0):
            raise ConversionError(f"--pixel-size-m {override_m} is invalid; expected a positive size in metres")
        changes.append(f"object pixel size: {override_m:.6g} m from --pixel-size-m")
        return override_m, override_m
    wavelength_m = geometry["wavelength_m"]
    distance_m = geometry["detector_distance_m"]
    pixel_x_m = geometry["detector_pixel_size_x_m"] or geometry["detector_pixel_size_y_m"]
    pixel_y_m = geometry["detector_pixel_size_y_m"] or pixel_x_m
    missing = [
        name for name, value in
        (("energy or wavelength", wavelength_m), ("detector distance", distance_m), ("detector pixel size", pixel_x_m))
        if not value
    ]
    if missing:
        raise ConversionError(
            f"{path}: cannot compute the object pixel size, {', '.join(missing)} missing; "
            "pass --pixel-size-m with the object pixel size in metres"
        )
    size_y = wavelength_m * distance_m / (patch_px * pixel_y_m)
    size_x = wavelength_m * distance_m / (patch_px * pixel_x_m)
    changes.append(
        f"object pixel size: lambda*z/(N*p) = {size_y:.6g} m (rows) x {size_x:.6g} m (columns), "
        f"with lambda = {wavelength_m:.6g} m, z = {distance_m:.6g} m, N = {patch_px}"
    )
    return size_y, size_x


def _estimate_probe(diffraction: np.ndarray) -> np.ndarray:
    """Estimate a probe as the centred inverse FFT of the mean amplitude, with zero phase.

    With A = |FFT2(psi)| / N (centred), this probe has sum |P|^2 = sum of the mean A^2.
    """
    mean_amplitude = np.sqrt(np.mean(np.square(diffraction), axis=0))
    size = mean_amplitude.shape[0]
    field = np.fft.ifft2(np.fft.ifftshift(mean_amplitude)) * size
    return np.fft.fftshift(field)
