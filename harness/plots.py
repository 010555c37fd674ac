"""Amplitude and phase pictures of complex images, written atomically as PNG files."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


def write_complex_pictures(
    image: np.ndarray,
    out_dir: Path,
    *,
    title: str = "object",
    mask: np.ndarray | None = None,
    origin_x_px: float = 0.0,
    origin_y_px: float = 0.0,
) -> tuple[Path, Path]:
    """Write ``amplitude.png`` and ``phase.png`` of a (rows, cols) complex image into ``out_dir``.

    Pixels where ``mask`` is false are drawn blank. Axes are in object pixels, starting
    at the given origin.

    Returns:
        The paths of the amplitude and the phase picture.
    """
    image = np.asarray(image)
    if image.ndim != 2 or not np.iscomplexobj(image):
        raise ValueError(f"image has shape {image.shape} and dtype {image.dtype}, expected a 2-D complex array")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    shown = np.ones(image.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    amplitude = np.where(shown, np.abs(image), np.nan)
    phase = np.where(shown, np.angle(image), np.nan)
    extent = (
        origin_x_px - 0.5, origin_x_px + image.shape[1] - 0.5,
        origin_y_px + image.shape[0] - 0.5, origin_y_px - 0.5,
    )
    amplitude_path = _save_picture(
        amplitude, out_dir / "amplitude.png", f"{title}: amplitude", "amplitude", "gray", extent, None
    )
    phase_path = _save_picture(
        phase, out_dir / "phase.png", f"{title}: phase", "phase (rad)", "twilight", extent, (-np.pi, np.pi)
    )
    return amplitude_path, phase_path


def _save_picture(
    values: np.ndarray,
    path: Path,
    title: str,
    colorbar_label: str,
    colormap: str,
    extent: tuple[float, float, float, float],
    limits: tuple[float, float] | None,
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.5, 4.5), dpi=100)
    axes = figure.add_subplot()
    vmin, vmax = limits if limits is not None else (None, None)
    picture = axes.imshow(values, cmap=colormap, extent=extent, vmin=vmin, vmax=vmax, interpolation="nearest")
    axes.set_title(title)
    axes.set_xlabel("x (object pixels)")
    axes.set_ylabel("y (object pixels)")
    figure.colorbar(picture, ax=axes, label=colorbar_label)

    descriptor, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            figure.savefig(handle, format="png")
        os.chmod(temp_name, 0o644)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    logger.info("wrote %s", path)
    return path
