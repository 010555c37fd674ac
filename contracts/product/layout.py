"""In-memory descriptions of product files, the writer that stores them, and valid examples.

A ``ProductLayout`` lists root attributes, root datasets with their attributes, and
external links. ``write_layout`` stores it with h5py, so the rule examples and the
property tests go through the same reader as files on disk. Attribute values are
written as given: a Python ``str`` becomes a variable-length string, ``np.bytes_`` a
fixed-length one, ``np.bool_`` an HDF5 enum and ``np.int64`` an integer.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import h5py
import numpy as np

logger = logging.getLogger(__name__)

WRITTEN = "written"
PTYCHODUS = "ptychodus"
PROFILES = (WRITTEN, PTYCHODUS)


@dataclass(frozen=True)
class DatasetLayout:
    """One root dataset: its values and its attributes."""

    data: np.ndarray
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProductLayout:
    """A product file described in memory.

    ``external_links`` maps a root name to ``(target_file, target_path)``. ``profile``
    records the profile the layout was built for; it is not written to the file.
    """

    attributes: Mapping[str, Any]
    datasets: Mapping[str, DatasetLayout]
    external_links: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    profile: str = WRITTEN

    def with_attribute(self, name: str, value: Any) -> ProductLayout:
        return replace(self, attributes={**self.attributes, name: value})

    def without_attribute(self, name: str) -> ProductLayout:
        return replace(self, attributes={k: v for k, v in self.attributes.items() if k != name})

    def with_dataset(self, name: str, data: np.ndarray, attributes: Mapping[str, Any] | None = None) -> ProductLayout:
        """Replace or add dataset ``name``; its attributes stay unless ``attributes`` is given."""
        old = self.datasets.get(name)
        kept: Mapping[str, Any] = {}
        if attributes is not None:
            kept = attributes
        elif old is not None:
            kept = old.attributes
        return replace(self, datasets={**self.datasets, name: DatasetLayout(data, dict(kept))})

    def without_dataset(self, name: str) -> ProductLayout:
        return replace(self, datasets={k: v for k, v in self.datasets.items() if k != name})

    def with_dataset_attribute(self, dataset: str, name: str, value: Any) -> ProductLayout:
        old = self.datasets[dataset]
        return self.with_dataset(dataset, old.data, {**old.attributes, name: value})

    def without_dataset_attribute(self, dataset: str, name: str) -> ProductLayout:
        old = self.datasets[dataset]
        return self.with_dataset(dataset, old.data, {k: v for k, v in old.attributes.items() if k != name})

    def with_external_link(self, name: str, target_file: str, target_path: str) -> ProductLayout:
        return replace(self, external_links={**self.external_links, name: (target_file, target_path)})


def write_layout(layout: ProductLayout, target: str | os.PathLike[str] | io.BytesIO) -> None:
    """Store ``layout`` as an HDF5 file at ``target`` (a path or a writable BytesIO)."""
    with h5py.File(target, "w") as h5_file:
        for name, value in layout.attributes.items():
            h5_file.attrs[name] = value
        for name, dataset in layout.datasets.items():
            stored = h5_file.create_dataset(name, data=dataset.data)
            for attribute, value in dataset.attributes.items():
                stored.attrs[attribute] = value
        for name, (target_file, target_path) in layout.external_links.items():
            h5_file[name] = h5py.ExternalLink(target_file, target_path)
    if not isinstance(target, io.BytesIO):
        logger.info("wrote product layout to %s", Path(target))


def layout_bytes(layout: ProductLayout) -> io.BytesIO:
    """Return ``layout`` stored as an in-memory HDF5 file, positioned at its start."""
    buffer = io.BytesIO()
    write_layout(layout, buffer)
    buffer.seek(0)
    return buffer


def make_valid_product(
    profile: str = WRITTEN,
    n_positions: int = 12,
    probe_px: int = 16,
    seed: int = 0,
    *,
    probe_ndim: int = 3,
    n_modes: int = 2,
    n_opr: int = 2,
    n_layers: int = 1,
    n_epochs: int = 3,
    fixed_length_strings: bool = False,
    integer_attributes: bool = False,
) -> ProductLayout:
    """Build a small product that passes every PRODUCT rule of ``profile``.

    ``probe_ndim`` (2, 3 or 4) and ``n_opr`` shape the probe of the written profile; a
    4-D written probe with ``n_opr`` > 1 carries ``opr_weights`` as a probe attribute.
    The ptychodus profile always writes a 4-D probe (n_opr, n_modes, H, W), a 3-D
    object and root ``opr_weights`` (n_positions, n_opr). ``integer_attributes`` stores
    whole-valued numeric attributes as int64 (ptychodus profile only), and
    ``n_epochs`` = 0 writes the empty float64 ``loss_epochs`` that Ptychodus 1.7 writes.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of: {', '.join(PROFILES)}")
    rng = np.random.default_rng(seed)
    ptychodus = profile == PTYCHODUS
    if ptychodus:
        probe_ndim = 4
    probe_shape = _probe_shape(probe_ndim, n_opr, n_modes, probe_px)
    probe = (rng.normal(size=probe_shape) + 1j * rng.normal(size=probe_shape)).astype(np.complex64)

    object_px = probe_px * 3
    object_shape: tuple[int, ...] = (n_layers, object_px, object_px)
    if not ptychodus and n_layers == 1 and seed % 2 == 0:
        object_shape = (object_px, object_px)
    obj = np.exp(1j * rng.uniform(-np.pi, np.pi, object_shape)).astype(np.complex128)

    pixel_m = 8e-9
    half_span_m = probe_px * pixel_m
    x_m = rng.uniform(-half_span_m, half_span_m, n_positions)
    y_m = rng.uniform(-half_span_m, half_span_m, n_positions)
    losses = np.sort(rng.uniform(0.1, 1.0, n_epochs))[::-1].copy()

    text = np.bytes_ if fixed_length_strings else str
    attributes: dict[str, Any] = {
        "name": text(f"product-{seed}"),
        "comments": text("built by contracts.product.make_valid_product"),
        "detector_object_distance_m": np.float64(2.0),
        "exposure_time_s": np.float64(0.1),
        "probe_photon_count": np.float64(1e9),
        "tomography_angle_deg": np.float64(0.0),
    }
    probe_attributes: dict[str, Any] = {"pixel_width_m": pixel_m, "pixel_height_m": pixel_m}
    datasets: dict[str, DatasetLayout] = {}
    if ptychodus:
        whole = np.int64 if integer_attributes else np.float64
        attributes.update(
            {
                "detector_object_distance_m": whole(2),
                "photon_energy_eV": whole(10000),
                "mass_attenuation_m2_per_kg": np.float64(0.0),
                "focus_object_distance_m": np.float64(0.0),
                "tilt_angle_deg": np.float64(0.0),
                "far_field": np.bool_(True),
            }
        )
        datasets["opr_weights"] = DatasetLayout(rng.uniform(0.1, 1.0, (n_positions, n_opr)))
        epochs = np.arange(n_epochs) if n_epochs else np.zeros(0, dtype=np.float64)
    else:
        attributes.update({"probe_energy_eV": np.float64(10000.0), "mass_attenuation_m2_kg": np.float64(0.0)})
        if probe_ndim == 4 and n_opr > 1:
            probe_attributes["opr_weights"] = rng.uniform(0.1, 1.0, (n_positions, n_opr))
        epochs = np.arange(n_epochs)

    datasets.update(
        {
            "probe": DatasetLayout(probe, probe_attributes),
            "object": DatasetLayout(
                obj,
                {"center_x_m": 0.0, "center_y_m": 0.0, "pixel_width_m": pixel_m, "pixel_height_m": pixel_m},
            ),
            "object_layer_spacing_m": DatasetLayout(np.full(max(0, _layer_count(object_shape) - 1), 1e-6)),
            "probe_position_indexes": DatasetLayout(np.arange(n_positions, dtype=np.int64)),
            "probe_position_x_m": DatasetLayout(x_m),
            "probe_position_y_m": DatasetLayout(y_m),
            "loss_epochs": DatasetLayout(epochs),
            "loss_values": DatasetLayout(losses),
        }
    )
    return ProductLayout(attributes=attributes, datasets=datasets, profile=profile)


def _probe_shape(ndim: int, n_opr: int, n_modes: int, probe_px: int) -> tuple[int, ...]:
    if ndim == 2:
        return (probe_px, probe_px)
    if ndim == 3:
        return (n_modes, probe_px, probe_px)
    if ndim == 4:
        return (n_opr, n_modes, probe_px, probe_px)
    raise ValueError(f"probe_ndim {ndim} is not supported; expected 2, 3 or 4")


def _layer_count(object_shape: tuple[int, ...]) -> int:
    return object_shape[0] if len(object_shape) == 3 else 1
