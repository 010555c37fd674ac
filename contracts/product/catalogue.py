"""The PRODUCT rules: IDs, severities, spec sections, and the mutation that breaks each one.

Each violator takes a valid ``ProductLayout`` of one of the rule's profiles
(``RULE_PROFILES``) and returns a layout that breaks that rule and no other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from contracts.product import checks
from contracts.product.checks import (
    INDEXES,
    LAYER_SPACING,
    LOSS_EPOCHS,
    LOSS_VALUES,
    OBJECT,
    OPR_WEIGHTS,
    POSITION_X,
    POSITION_Y,
    PROBE,
)
from contracts.product.layout import PROFILES, PTYCHODUS, WRITTEN, ProductLayout, make_valid_product
from contracts.rules import Rule, Severity, register

logger = logging.getLogger(__name__)

FAMILY = "PRODUCT"
DEPARTURE_RULE = "PRODUCT-024"

LayoutViolator = Callable[[ProductLayout, np.random.Generator], ProductLayout]


def _pick(rng: np.random.Generator, options: tuple[Any, ...] | list[Any]) -> Any:
    return options[int(rng.integers(len(options)))]


def _poison(data: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Copy ``data`` with one random element set to NaN or an infinity (one component if complex)."""
    poisoned = data.copy()
    flat = poisoned.reshape(-1)
    position = int(rng.integers(flat.size))
    bad = _pick(rng, (np.nan, np.inf, -np.inf))
    flat[position] = complex(bad, 0.0) if poisoned.dtype.kind == "c" else bad
    return poisoned


def _data(layout: ProductLayout, name: str) -> np.ndarray:
    return np.asarray(layout.datasets[name].data)


# ---------------------------------------------------------------------------
# Violators, in rule order.


def _add_external_link(layout: ProductLayout, rng: np.random.Generator) -> ProductLayout:
    return layout.with_external_link(_pick(rng, ("raw_patterns", "detector_mask")), "elsewhere.h5", "/entry/data")


def _use_other_profile_name(layout: ProductLayout, rng: np.random.Generator) -> ProductLayout:
    if layout.profile == PTYCHODUS:
        return layout.with_attribute(_pick(rng, ("probe_energy_eV", "mass_attenuation_m2_kg")), np.float64(1.0))
    name = _pick(rng, ("focus_object_distance_m", "tilt_angle_deg", "far_field"))
    return layout.with_attribute(name, np.bool_(True) if name == "far_field" else np.float64(0.0))


def _drop_required_attribute(layout: ProductLayout, rng: np.random.Generator) -> ProductLayout:
    energy = checks.PROFILES[layout.profile].energy_attribute
    return layout.without_attribute(_pick(rng, ("name", "detector_object_distance_m", energy)))


def _break_string_attribute(layout: ProductLayout, rng: np.random.Generator) -> ProductLayout:
    value = _pick(rng, (np.int64(7), np.bytes_(b"\xff\xfe not UTF-8"), np.array(["a", "b"], dtype="S1")))
    return layout.with_attribute(_pick(rng, ("name", "comments")), value)


def _break_number_attribute(layout: ProductLayout, rng: np.random.Generator) -> ProductLayout:
    names = checks.PROFILES[layout.profile].number_attributes
    present = [name for name in names if name in layout.attributes]
    value = _pick(rng, ("1.5", np.array([1.0, 2.0]), np.complex128(1 + 1j)))
    if layout.profile == WRITTEN and rng.integers(2):
        value = np.int64(2)
    return layout.with_attribute(_pick(rng, present), value)


def _break_attribute_range(layout: ProductLayout, rng: np.random.Generator) -> ProductLayout:
    profile = checks.PROFILES[layout.profile]
    name = _pick(rng, ("detector_object_distance_m", profile.energy_attribute, "exposure_time_s"))
    value = _pick(rng, (-1.0, np.nan, np.inf))
    if name != "exposure_time_s" and rng.integers(2):
        value = 0.0
    return layout.with_attribute(name, np.float64(value))


def _drop_required_dataset(layout: ProductLayout, rng: np.random.Generator) -> ProductLayout:
    name = _pick(rng, checks.required_datasets(checks.PROFILES[layout.profile]))
    if name == LOSS_VALUES:
        return layout.without_dataset(LOSS_VALUES).without_dataset(LOSS_EPOCHS)
    return layout.without_dataset(name)


def _break_probe_shape(layout: ProductLayout, rng: np.random.Generator) -> ProductLayout:
    probe = _data(layout, PROBE)
    if layout.profile == PTYCHODUS:
        # A 3-D probe is shaped as the written profile allows, not as Ptychodus 1.7 writes.
        return layout.with_dataset(PROBE, probe[0])
    broken = _pick(rng, ("5-D", "1-D", "empty"))
    if broken == "5-D":
        return layout.with_dataset(PROBE, probe.reshape((1,) * (5 - probe.ndim) + probe.shape))
    if broken == "1-D":
        return layout.with_dataset(PROBE, probe.reshape(-1))
    return layout.with_dataset(PROBE, np.zeros((0,) + probe.shape[1:], probe.dtype))


def _break_probe_dtype(layout: ProductLayout, rng: np.random.Generator) -> ProductLayout:
    probe = _data(layout, PROBE)
    return layout.with_dataset(PROBE, np.abs(probe).astype(_pick(rng, (np.float32, np.float64))))


def _poison_probe(layout: ProductLayout, rng: np.random.Generator) -> ProductLayout:
    return layout.with_dataset(PROBE, _poison(_data(layout, PROBE), rng))


def _break_pixel_size(dataset: str) -> LayoutViolator:
    def violate(layout: ProductLayout, rng: np.random.Generator) -> ProductLayout:
        name = _pick(rng, checks.PIXEL_SIZES)
        if rng.integers(4) == 0:
            return layout.without_dataset_attribute(dataset, name)
        return layout.with_dataset_attribute(dataset, name, _pick(rng, (0.0, -8e-9, np.nan)))

    return violate


def _break_object_shape(layout: ProductLayout, rng: np.random.Generator) -> ProductLayout:
    obj = _data(layout, OBJECT)
    if layout.profile == PTYCHODUS:
        # One 2-D layer keeps the layer spacing (L - 1 = 0 values) consistent.
        return layout.with_dataset(OBJECT, obj[0]).with_dataset(LAYER_SPACING, np.zeros(0))
    if rng.integers(2):
        return layout.with_dataset(OBJECT, obj.reshape(-1))
    return layout.with_dataset(OBJECT, obj.reshape((1,) * (4 - obj.ndim) + obj.shape))


def _break_object_dtype(layout: ProductLayout, rng: np.random.Generator) -> ProductLayout:
    return layout.with_dataset(OBJECT, np.angle(_data(layout, OBJECT)))


def _poison_object(layout: ProductLayout, rng: np.random.Generator) -> ProductLayout:
    return layout.with_dataset(OBJECT, _poison(_data(layout, OBJECT), rng))


def _break_object_center(layout: ProductLayout, rng: np.random.Generator) -> ProductLayout:
    name = _pick(rng, checks.OBJECT_CENTER)
    if rng.integers(3) == 0:
        return layout.without_dataset_attribute(OBJECT, name)
    return layout.with_dataset_attribute(OBJECT, name, _pick(rng, (np.nan, "0.0")))


def _break_layer_spacing(layout: ProductLayout, rng: np.random.Generator) -> ProductLayout:
    spacing = _data(layout, LAYER_SPACING)
    if spacing.size and rng.integers(2):
        bad = spacing.copy()
        bad[int(rng.integers(bad.size))] = _pick(rng, (-1e-6, 0.0, np.nan))
        return layout.with_dataset(LAYER_SPACING, bad)
    # The older layout: one value per layer instead of one per gap.
    return layout.with_dataset(LAYER_SPACING, np.append(spacing, np.inf))


def _break_scan_array(layout: ProductLayout, rng: np.random.Generator) -> ProductLayout:
    choice = _pick(rng, ("x 2-D", "y int", "indexes float"))
    if choice == "x 2-D":
        return layout.with_dataset(POSITION_X, _data(layout, POSITION_X)[:, None])
    if choice == "y int":
        return layout.with_dataset(POSITION_Y, np.zeros(_data(layout, POSITION_Y).shape, np.int64))
    return layout.with_dataset(INDEXES, _data(layout, INDEXES).astype(np.float64))


def _break_scan_lengths(layout: ProductLayout, rng: np.random.Generator) -> ProductLayout:
    name = _pick(rng, (POSITION_X, POSITION_Y))
    values = _data(layout, name)
    if rng.integers(2):
        return layout.with_dataset(name, _poison(values, rng))
    return layout.with_dataset(name, np.append(values, values[:1]))


def _break_index_range(layout: ProductLayout, rng: np.random.Generator) -> ProductLayout:
    indexes = _data(layout, INDEXES).copy()
    weights = layout.datasets[PROBE].attributes.get(OPR_WEIGHTS)
    limit = np.asarray(weights).shape[0] if layout.profile == WRITTEN and weights is not None else indexes.size
    indexes[int(rng.integers(indexes.size))] = _pick(rng, (-1, limit, limit + 5))
    return layout.with_dataset(INDEXES, indexes)


def _break_opr_placement(layout: ProductLayout, rng: np.random.Generator) -> ProductLayout:
    if layout.profile == WRITTEN:
        n_positions = _data(layout, INDEXES).size
        probe = _data(layout, PROBE)
        modes = probe.shape[0] if probe.ndim == 4 else 1
        return layout.with_dataset(OPR_WEIGHTS, np.ones((n_positions, modes)))
    weights = _data(layout, OPR_WEIGHTS)
    probe = _data(layout, PROBE)
    changed = layout.without_dataset(OPR_WEIGHTS)
    if probe.shape[0] == 1:
        # Root weights are required only for more than one OPR mode.
        changed = changed.with_dataset(PROBE, np.concatenate([probe, probe]))
        weights = np.concatenate([weights, weights], axis=1)
    # Keep as many ptychodus names as before, so the file is still detected as ptychodus.
    return changed.with_dataset_attribute(PROBE, OPR_WEIGHTS, weights) if rng.integers(2) else changed


def _break_opr_shape(layout: ProductLayout, rng: np.random.Generator) -> ProductLayout:
    probe = _data(layout, PROBE)
    modes = probe.shape[0] if probe.ndim == 4 else 1
    n_positions = _data(layout, INDEXES).size
    bad = _pick(
        rng,
        (np.ones((n_positions, modes + 1)), np.ones(n_positions * modes), np.ones((n_positions, modes), np.int64)),
    )
    if layout.profile == PTYCHODUS:
        if rng.integers(2):
            return layout.with_dataset(OPR_WEIGHTS, _poison(_data(layout, OPR_WEIGHTS), rng))
        return layout.with_dataset(OPR_WEIGHTS, bad)
    return layout.with_dataset_attribute(PROBE, OPR_WEIGHTS, bad)


def _break_loss_history(layout: ProductLayout, rng: np.random.Generator) -> ProductLayout:
    values = _data(layout, LOSS_VALUES)
    choice = _pick(rng, ("2-D", "complex", "epochs"))
    if choice == "2-D":
        return layout.with_dataset(LOSS_VALUES, values[:, None])
    if choice == "complex":
        return layout.with_dataset(LOSS_VALUES, values.astype(np.complex128))
    return layout.with_dataset(LOSS_EPOCHS, np.arange(values.size + 1))


def _to_ptychodus(layout: ProductLayout, rng: np.random.Generator) -> ProductLayout:
    n_positions = _data(layout, INDEXES).size
    probe_px = _data(layout, PROBE).shape[-1]
    return make_valid_product(PTYCHODUS, n_positions, probe_px, int(rng.integers(2**31)))


# ---------------------------------------------------------------------------
# The catalogue.


def _written_example() -> ProductLayout:
    return make_valid_product(WRITTEN)


def _ptychodus_example() -> ProductLayout:
    return make_valid_product(PTYCHODUS)


_ERROR, _WARNING = Severity.ERROR, Severity.WARNING
_BOTH = tuple(PROFILES)

# (number, severity, section, title, statement, check, violator, profiles the violator accepts)
_TABLE: tuple[tuple[int, Severity, str, str, str, Callable[..., Any], LayoutViolator, tuple[str, ...]], ...] = (
    (1, _ERROR, "4.1", "no external or dangling links",
     "Every member is stored in the file: an external link or a dangling soft link is reported with its target.",
     checks.check_no_external_links, _add_external_link, _BOTH),
    (2, _ERROR, "4.1", "names follow one profile",
     "No root attribute uses a name of the other profile.",
     checks.check_profile_names, _use_other_profile_name, _BOTH),
    (3, _ERROR, "4.2", "required root attributes present",
     "name, detector_object_distance_m and the profile's energy attribute are present.",
     checks.check_required_attributes, _drop_required_attribute, _BOTH),
    (4, _ERROR, "4.2", "string attributes are text",
     "name, comments and polarization are scalar UTF-8 strings, variable- or fixed-length.",
     checks.check_string_attributes, _break_string_attribute, _BOTH),
    (5, _ERROR, "4.2", "numeric attributes are real scalars",
     "Numeric root attributes are float scalars (integers too in the ptychodus profile); far_field is boolean.",
     checks.check_number_attributes, _break_number_attribute, _BOTH),
    (6, _ERROR, "4.2", "attribute values in physical range",
     "Energy and distance are > 0, exposure, photon count and mass attenuation >= 0, all finite.",
     checks.check_attribute_ranges, _break_attribute_range, _BOTH),
    (7, _ERROR, "4.3", "required datasets present",
     "probe, object, object_layer_spacing_m, the three scan arrays and the loss values are root datasets.",
     checks.check_required_datasets, _drop_required_dataset, _BOTH),
    (8, _ERROR, "4.4", "probe rank",
     "probe is 2-D, 3-D or 4-D (written) or 4-D (ptychodus), every axis non-empty.",
     checks.check_probe_shape, _break_probe_shape, _BOTH),
    (9, _ERROR, "4.4", "probe is complex",
     "probe has a complex dtype.",
     checks.check_probe_dtype, _break_probe_dtype, _BOTH),
    (10, _ERROR, "4.4", "probe is finite",
     "Every probe value has a finite real and imaginary part.",
     checks.check_probe_finite, _poison_probe, _BOTH),
    (11, _ERROR, "4.4", "probe pixel sizes positive",
     "probe has pixel_width_m and pixel_height_m attributes, finite and > 0.",
     checks.check_probe_pixel_size, _break_pixel_size(PROBE), _BOTH),
    (12, _ERROR, "4.5", "object rank",
     "object is 2-D or 3-D (written) or 3-D (ptychodus), every axis non-empty.",
     checks.check_object_shape, _break_object_shape, _BOTH),
    (13, _ERROR, "4.5", "object is complex",
     "object has a complex dtype.",
     checks.check_object_dtype, _break_object_dtype, _BOTH),
    (14, _ERROR, "4.5", "object is finite",
     "Every object value has a finite real and imaginary part.",
     checks.check_object_finite, _poison_object, _BOTH),
    (15, _ERROR, "4.5", "object centre present",
     "object has finite center_x_m and center_y_m attributes.",
     checks.check_object_center, _break_object_center, _BOTH),
    (16, _ERROR, "4.5", "object pixel sizes positive",
     "object has pixel_width_m and pixel_height_m attributes, finite and > 0.",
     checks.check_object_pixel_size, _break_pixel_size(OBJECT), _BOTH),
    (17, _ERROR, "4.5", "layer spacing has L - 1 values",
     "object_layer_spacing_m has shape (L - 1,) for L object layers, finite values > 0.",
     checks.check_layer_spacing, _break_layer_spacing, _BOTH),
    (18, _ERROR, "4.6", "scan arrays are 1-D and typed",
     "probe_position_x_m and probe_position_y_m are 1-D float, probe_position_indexes 1-D integer.",
     checks.check_scan_arrays, _break_scan_array, _BOTH),
    (19, _ERROR, "4.6", "scan arrays agree",
     "The three scan arrays have one length, and the positions are finite.",
     checks.check_scan_lengths_and_values, _break_scan_lengths, _BOTH),
    (20, _ERROR, "4.6", "position indexes in range",
     "probe_position_indexes lie in [0, K - 1] (written) or [0, n - 1] (ptychodus).",
     checks.check_index_range, _break_index_range, _BOTH),
    (21, _ERROR, "4.7", "opr_weights placement",
     "opr_weights is a probe attribute, never a root dataset (written); a root dataset when the probe has OPR modes (ptychodus).",
     checks.check_opr_placement, _break_opr_placement, _BOTH),
    (22, _ERROR, "4.7", "opr_weights shape",
     "opr_weights is a finite (K, opr) float array with one column per OPR mode.",
     checks.check_opr_shape, _break_opr_shape, _BOTH),
    (23, _ERROR, "4.8", "loss history",
     "loss_values (or costs, written profile) is 1-D float and finite; loss_epochs has its length and integer epochs.",
     checks.check_loss_history, _break_loss_history, _BOTH),
    (24, _WARNING, "4.9", "departures from the written contract",
     "A ptychodus-profile file is reported with each difference from the written contract and its exact rename.",
     checks.check_departures, _to_ptychodus, (WRITTEN,)),
)

PRODUCT_RULES = tuple(
    Rule(
        id=f"{FAMILY}-{number:03d}",
        family=FAMILY,
        severity=severity,
        section=section,
        title=title,
        statement=statement,
        check=check,
        valid_example=_written_example,
        violate=violate,
    )
    for number, severity, section, title, statement, check, violate, _ in _TABLE
)
# Profiles whose valid layouts each rule's violator accepts.
RULE_PROFILES: dict[str, tuple[str, ...]] = {f"{FAMILY}-{row[0]:03d}": row[7] for row in _TABLE}

register(PRODUCT_RULES)


def valid_example_for(profile: str) -> ProductLayout:
    """Return the catalogue's valid example layout of ``profile``."""
    return _ptychodus_example() if profile == PTYCHODUS else _written_example()
