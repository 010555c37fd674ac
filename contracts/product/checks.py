"""The two PRODUCT profiles, profile detection, and one check per PRODUCT rule.

Each check receives a ``ProductView`` whose ``profile`` is already set and returns
``Finding`` records. As in the DATASET family, a check skips what another rule reports:
a missing dataset is reported once, by the required-datasets rule, and shape rules
leave wrong-dimensioned arrays out of value and length checks.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from contracts.arrays import find_first
from contracts.product.layout import PTYCHODUS, WRITTEN
from contracts.product.reader import AttributeValue, ProductView
from contracts.rules import Finding

logger = logging.getLogger(__name__)

PROBE = "probe"
OBJECT = "object"
LAYER_SPACING = "object_layer_spacing_m"
INDEXES = "probe_position_indexes"
POSITION_X = "probe_position_x_m"
POSITION_Y = "probe_position_y_m"
OPR_WEIGHTS = "opr_weights"
LOSS_VALUES = "loss_values"
LOSS_ALIAS = "costs"
LOSS_EPOCHS = "loss_epochs"
# The name older Ptychodus releases gave the layer spacing (one value per layer).
OLD_LAYER_SPACING = "object_layer_distance_m"

PIXEL_SIZES = ("pixel_width_m", "pixel_height_m")
OBJECT_CENTER = ("center_x_m", "center_y_m")


@dataclass(frozen=True)
class Profile:
    """One way of writing a product file: attribute names, dimensions and accepted types."""

    name: str
    energy_attribute: str
    mass_attenuation_attribute: str
    probe_ndims: tuple[int, ...]
    object_ndims: tuple[int, ...]
    extra_numbers: tuple[str, ...]
    extra_strings: tuple[str, ...]
    booleans: tuple[str, ...]
    integer_numbers: bool
    loss_names: tuple[str, ...]

    @property
    def own_attributes(self) -> tuple[str, ...]:
        """Root attribute names that only this profile uses."""
        return (self.energy_attribute, self.mass_attenuation_attribute, *self.extra_numbers, *self.extra_strings, *self.booleans)

    @property
    def string_attributes(self) -> tuple[str, ...]:
        return ("name", "comments", *self.extra_strings)

    @property
    def number_attributes(self) -> tuple[str, ...]:
        return (
            "detector_object_distance_m",
            self.energy_attribute,
            "exposure_time_s",
            "probe_photon_count",
            self.mass_attenuation_attribute,
            "tomography_angle_deg",
            *self.extra_numbers,
        )


WRITTEN_PROFILE = Profile(
    name=WRITTEN,
    energy_attribute="probe_energy_eV",
    mass_attenuation_attribute="mass_attenuation_m2_kg",
    probe_ndims=(2, 3, 4),
    object_ndims=(2, 3),
    extra_numbers=(),
    extra_strings=(),
    booleans=(),
    integer_numbers=False,
    loss_names=(LOSS_VALUES, LOSS_ALIAS),
)
PTYCHODUS_PROFILE = Profile(
    name=PTYCHODUS,
    energy_attribute="photon_energy_eV",
    mass_attenuation_attribute="mass_attenuation_m2_per_kg",
    probe_ndims=(4,),
    object_ndims=(3,),
    extra_numbers=("focus_object_distance_m", "tilt_angle_deg"),
    extra_strings=("polarization",),
    booleans=("far_field",),
    integer_numbers=True,
    loss_names=(LOSS_VALUES,),
)
PROFILES: Mapping[str, Profile] = {WRITTEN: WRITTEN_PROFILE, PTYCHODUS: PTYCHODUS_PROFILE}
# Ptychodus 1.7 name -> written-contract name, for attributes that were renamed.
RENAMES = {
    PTYCHODUS_PROFILE.energy_attribute: WRITTEN_PROFILE.energy_attribute,
    PTYCHODUS_PROFILE.mass_attenuation_attribute: WRITTEN_PROFILE.mass_attenuation_attribute,
}
# Lower bounds of physical attributes: (bound, strict). Angles only need to be finite.
_LOWER_BOUNDS = {
    "detector_object_distance_m": (0.0, True),
    "probe_energy_eV": (0.0, True),
    "photon_energy_eV": (0.0, True),
    "exposure_time_s": (0.0, False),
    "probe_photon_count": (0.0, False),
    "mass_attenuation_m2_kg": (0.0, False),
    "mass_attenuation_m2_per_kg": (0.0, False),
}


def other_profile(profile: Profile) -> Profile:
    return PTYCHODUS_PROFILE if profile.name == WRITTEN else WRITTEN_PROFILE


def profile_markers(view: ProductView) -> dict[str, list[str]]:
    """List, per profile, the names in the file that only that profile uses."""
    markers: dict[str, list[str]] = {}
    for profile in PROFILES.values():
        markers[profile.name] = [f"attribute {name}" for name in profile.own_attributes if name in view.attributes]
    if OPR_WEIGHTS in view.datasets:
        markers[PTYCHODUS].append("root dataset opr_weights")
    if OPR_WEIGHTS in view.dataset_attributes(PROBE):
        markers[WRITTEN].append("probe attribute opr_weights")
    return markers


def detect_profile(view: ProductView) -> tuple[str, str]:
    """Choose the profile a file follows; return it with the reason, in words.

    The profile with more of its own names in the file wins. A file with none, or as
    many of each, is checked against the written contract.
    """
    markers = profile_markers(view)
    written, ptychodus = markers[WRITTEN], markers[PTYCHODUS]
    if len(ptychodus) > len(written):
        return PTYCHODUS, "found " + ", ".join(ptychodus)
    if written:
        return WRITTEN, "found " + ", ".join(written)
    return WRITTEN, "no profile-specific names found, so the written contract applies"


def _profile(view: ProductView) -> Profile:
    return PROFILES[view.profile]


def _numeric_dtype(kind: str) -> bool:
    return kind in "iuf"


def _ndim(view: ProductView, name: str) -> int | None:
    info = view.datasets.get(name)
    return None if info is None else len(info.source.shape)


def _valid_shape(view: ProductView, name: str, ndims: tuple[int, ...]) -> tuple[int, ...] | None:
    """Return the shape of dataset ``name`` when its rank is one of ``ndims`` and no axis is empty."""
    info = view.datasets.get(name)
    if info is None:
        return None
    shape = info.source.shape
    if len(shape) not in ndims or any(n == 0 for n in shape):
        return None
    return shape


def _opr_mode_count(view: ProductView) -> int | None:
    """Return the number of OPR modes: axis 0 of a valid 4-D probe, else 1; None when the probe is invalid."""
    shape = _valid_shape(view, PROBE, _profile(view).probe_ndims)
    if shape is None:
        return None
    return shape[0] if len(shape) == 4 else 1


def _layer_count(view: ProductView) -> int | None:
    shape = _valid_shape(view, OBJECT, _profile(view).object_ndims)
    if shape is None:
        return None
    return shape[0] if len(shape) == 3 else 1


# ---------------------------------------------------------------------------
# Section 4.1: links and profile names.


def check_no_external_links(view: ProductView) -> list[Finding]:
    findings = []
    for link in view.links:
        if link.kind == "external":
            seen = f"an external link to {link.target_path!r} in file {link.target_file!r}"
            fix = (
                f"copy the data into this file (for example with h5py: f.copy of the target) "
                f"and replace the link at {link.path}; links are not followed when validating"
            )
        else:
            seen = f"a soft link to {link.target_path!r}, which does not exist in this file"
            fix = f"point the link at {link.path} to an existing object, or remove it"
        findings.append(Finding(key=link.path.lstrip("/"), seen=seen, expected="data stored in this file", fix=fix))
    return findings


def check_profile_names(view: ProductView) -> list[Finding]:
    profile = _profile(view)
    other = other_profile(profile)
    markers = profile_markers(view)
    mixed = bool(markers[WRITTEN]) and bool(markers[PTYCHODUS])
    findings = []
    for name in other.own_attributes:
        if name not in view.attributes:
            continue
        counterpart = _counterpart(name)
        seen = f"attribute {name}, a {other.name}-profile name"
        if mixed:
            seen += f" (the file mixes the profiles: {', '.join(markers[profile.name])} belong to the {profile.name} profile)"
        if counterpart is not None and counterpart in view.attributes:
            fix = f"keep one of {name} and {counterpart}: remove {name}"
        elif counterpart is not None:
            fix = f"rename attribute {name} to {counterpart}"
        else:
            fix = f"remove attribute {name}, or validate with --profile {other.name}"
        expected = f"only {profile.name}-profile names" + (f" ({counterpart})" if counterpart else "")
        findings.append(Finding(key=f"/@{name}", seen=seen, expected=expected, fix=fix))
    return findings


def _counterpart(name: str) -> str | None:
    for ptychodus_name, written_name in RENAMES.items():
        if name == ptychodus_name:
            return written_name
        if name == written_name:
            return ptychodus_name
    return None


# ---------------------------------------------------------------------------
# Section 4.2: root attributes.


def check_required_attributes(view: ProductView) -> list[Finding]:
    profile = _profile(view)
    findings = []
    for name in ("name", "detector_object_distance_m", profile.energy_attribute):
        if name in view.attributes:
            continue
        counterpart = _counterpart(name)
        if counterpart is not None and counterpart in view.attributes:
            # The other profile's name is present: the profile-names rule reports the rename.
            continue
        expected = "a string" if name == "name" else f"a positive real number in {name.rsplit('_', 1)[-1]}"
        findings.append(
            Finding(key=f"/@{name}", seen="attribute missing", expected=expected, fix=f"set h5_file.attrs[{name!r}]")
        )
    return findings


def check_string_attributes(view: ProductView) -> list[Finding]:
    findings = []
    for name in _profile(view).string_attributes:
        value = view.attributes.get(name)
        if value is None or value.kind == "string":
            continue
        findings.append(
            Finding(
                key=f"/@{name}",
                seen=value.description,
                expected="a scalar UTF-8 string (variable- or fixed-length)",
                fix=f"store text: h5_file.attrs[{name!r}] = str(value)",
            )
        )
    return findings


def check_number_attributes(view: ProductView) -> list[Finding]:
    profile = _profile(view)
    findings = []
    for name in profile.number_attributes:
        value = view.attributes.get(name)
        if value is None or value.kind == "float" or (value.kind == "integer" and profile.integer_numbers):
            continue
        expected = "a real scalar (integer or float)" if profile.integer_numbers else "a float scalar"
        findings.append(
            Finding(
                key=f"/@{name}",
                seen=value.description,
                expected=expected,
                fix=f"store a number: h5_file.attrs[{name!r}] = np.float64(value)",
            )
        )
    for name in profile.booleans:
        value = view.attributes.get(name)
        if value is None or value.kind == "bool":
            continue
        findings.append(
            Finding(
                key=f"/@{name}",
                seen=value.description,
                expected="a boolean (h5py stores numpy.bool_ as an HDF5 enum)",
                fix=f"store h5_file.attrs[{name!r}] = np.bool_(value)",
            )
        )
    return findings


def check_attribute_ranges(view: ProductView) -> list[Finding]:
    findings = []
    for name in _profile(view).number_attributes:
        value = view.attributes.get(name)
        if value is None or value.number is None:
            continue
        bound, strict = _LOWER_BOUNDS.get(name, (None, False))
        problem = _range_problem(value.number, bound, strict)
        if problem is None:
            continue
        findings.append(
            Finding(key=f"/@{name}", seen=f"{name} = {value.number:.6g}", expected=problem, fix=f"store the measured {name}")
        )
    return findings


def _range_problem(number: float, bound: float | None, strict: bool) -> str | None:
    """Return what was expected when ``number`` is out of range, else None."""
    if not math.isfinite(number):
        return "a finite value"
    if bound is None:
        return None
    if strict and number <= bound:
        return f"a value > {bound:g}"
    if not strict and number < bound:
        return f"a value >= {bound:g}"
    return None


# ---------------------------------------------------------------------------
# Section 4.3: required datasets.


def required_datasets(profile: Profile) -> tuple[str, ...]:
    return (PROBE, OBJECT, LAYER_SPACING, INDEXES, POSITION_X, POSITION_Y, profile.loss_names[0])


def check_required_datasets(view: ProductView) -> list[Finding]:
    profile = _profile(view)
    missing: list[tuple[str, str]] = []
    for name in required_datasets(profile):
        names = profile.loss_names if name == LOSS_VALUES else (name,)
        if any(n in view.datasets or n in view.linked_names for n in names):
            continue
        if any(n in view.groups for n in names):
            missing.append((name, "a group, not a dataset"))
        elif _older_name(view, name) is not None:
            missing.append((name, f"dataset missing; the older name {_older_name(view, name)} is present"))
        else:
            missing.append((name, "dataset missing"))
    absent = [name for name, seen in missing if seen == "dataset missing"]
    total = len(required_datasets(profile))
    findings = []
    for name, seen in missing:
        fix = _required_fix(view, name)
        if len(absent) > 1 and name in absent:
            seen += f"; {len(absent)} of {total} required datasets are absent, so the file looks half-written"
            fix = "the writer probably stopped early: write the product file again"
        findings.append(Finding(key=name, seen=seen, expected=_REQUIRED_LAYOUTS[name], fix=fix))
    return findings


def _older_name(view: ProductView, name: str) -> str | None:
    older = {LAYER_SPACING: OLD_LAYER_SPACING, LOSS_VALUES: LOSS_ALIAS}.get(name)
    return older if older is not None and older in view.datasets else None


_REQUIRED_LAYOUTS = {
    PROBE: "a complex probe dataset",
    OBJECT: "a complex object dataset",
    LAYER_SPACING: "(L - 1,) layer spacings in metres, for an object of L layers",
    INDEXES: "(n,) integer probe position indexes",
    POSITION_X: "(n,) probe x positions in metres",
    POSITION_Y: "(n,) probe y positions in metres",
    LOSS_VALUES: "(epochs,) loss values",
}


def _required_fix(view: ProductView, name: str) -> str:
    if name == LAYER_SPACING and _older_name(view, name) is not None:
        return (
            f"rename {OLD_LAYER_SPACING} (the older name, one value per layer) to {LAYER_SPACING} "
            "and keep only the L - 1 spacings between consecutive layers (none for one layer)"
        )
    if name == LOSS_VALUES and _older_name(view, name) is not None:
        return f"rename {LOSS_ALIAS} (the older name) to {LOSS_VALUES}"
    if name in view.groups:
        return f"store {name} as a dataset, not a group"
    return f"add the dataset {name!r}"


# ---------------------------------------------------------------------------
# Sections 4.4 and 4.5: probe and object arrays.


def _shape_finding(view: ProductView, name: str, ndims: tuple[int, ...], layout: str) -> list[Finding]:
    info = view.datasets.get(name)
    if info is None or _valid_shape(view, name, ndims) is not None:
        return []
    allowed = " or ".join(f"{n}-D" for n in ndims)
    fix = f"store the {name} as {layout}"
    return [
        Finding(
            key=name,
            seen=f"shape {info.source.shape}",
            expected=f"{allowed} {layout}, every axis non-empty ({view.profile} profile)",
            fix=fix,
        )
    ]


def _complex_finding(view: ProductView, name: str) -> list[Finding]:
    info = view.datasets.get(name)
    if info is None or info.source.dtype.kind == "c":
        return []
    return [
        Finding(
            key=name,
            seen=f"dtype {info.source.dtype}",
            expected="a complex dtype (complex64 or complex128)",
            fix=f"store the complex {name}: {name}.astype(np.complex64)",
        )
    ]


def _finite_finding(view: ProductView, name: str, fix: str) -> list[Finding]:
    stats = view.arrays.stats(name)
    if stats is None or stats.nonfinite_count == 0:
        return []
    return [
        Finding(
            key=name,
            seen=f"{stats.nonfinite_count} of {stats.size} values are NaN or infinite",
            expected="finite values only",
            fix=fix,
            index=stats.first_nonfinite,
        )
    ]


def _geometry_findings(view: ProductView, dataset: str, names: tuple[str, ...], positive: bool) -> list[Finding]:
    if dataset not in view.datasets:
        return []
    attributes = view.dataset_attributes(dataset)
    findings = []
    for name in names:
        value = attributes.get(name)
        expected = "a finite value > 0 in metres" if positive else "a finite value in metres"
        if value is None:
            seen = "attribute missing"
        elif value.number is None:
            seen = value.description
        elif not math.isfinite(value.number) or (positive and value.number <= 0):
            seen = f"{name} = {value.number:.6g}"
        else:
            continue
        fix = f"set {dataset}.attrs[{name!r}] to the {'pixel size' if positive else 'centre position'} in metres"
        findings.append(Finding(key=f"{dataset}/@{name}", seen=seen, expected=expected, fix=fix))
    return findings


def check_probe_shape(view: ProductView) -> list[Finding]:
    profile = _profile(view)
    layout = "(opr, modes, H, W)" if profile.probe_ndims == (4,) else "(H, W), (modes, H, W) or (opr, modes, H, W)"
    return _shape_finding(view, PROBE, profile.probe_ndims, layout)


def check_probe_dtype(view: ProductView) -> list[Finding]:
    return _complex_finding(view, PROBE)


def check_probe_finite(view: ProductView) -> list[Finding]:
    return _finite_finding(view, PROBE, "rebuild the probe without NaN or infinite pixels")


def check_probe_pixel_size(view: ProductView) -> list[Finding]:
    return _geometry_findings(view, PROBE, PIXEL_SIZES, positive=True)


def check_object_shape(view: ProductView) -> list[Finding]:
    profile = _profile(view)
    layout = "(layers, M, M')" if profile.object_ndims == (3,) else "(M, M') or (layers, M, M')"
    return _shape_finding(view, OBJECT, profile.object_ndims, layout)


def check_object_dtype(view: ProductView) -> list[Finding]:
    return _complex_finding(view, OBJECT)


def check_object_finite(view: ProductView) -> list[Finding]:
    return _finite_finding(view, OBJECT, "rebuild the object without NaN or infinite pixels")


def check_object_center(view: ProductView) -> list[Finding]:
    return _geometry_findings(view, OBJECT, OBJECT_CENTER, positive=False)


def check_object_pixel_size(view: ProductView) -> list[Finding]:
    return _geometry_findings(view, OBJECT, PIXEL_SIZES, positive=True)


def check_layer_spacing(view: ProductView) -> list[Finding]:
    info = view.datasets.get(LAYER_SPACING)
    layers = _layer_count(view)
    if info is None or layers is None:
        return []
    shape, dtype = info.source.shape, info.source.dtype
    expected = f"shape ({layers - 1},): one spacing in metres between each pair of the {layers} object layers"
    if shape != (layers - 1,) or not _numeric_dtype(dtype.kind):
        return [
            Finding(
                key=LAYER_SPACING,
                seen=f"shape {shape}, dtype {dtype}",
                expected=expected,
                fix=f"store {layers - 1} float spacings (an empty array for one layer)",
            )
        ]
    stats = view.arrays.stats(LAYER_SPACING)
    if stats is None or (stats.nonfinite_count == 0 and (stats.min is None or stats.min > 0)):
        return []
    bad = find_first(info.source, lambda values: ~(np.isfinite(values) & (values > 0)))
    return [
        Finding(
            key=LAYER_SPACING,
            seen=f"min {stats.min}, {stats.nonfinite_count} non-finite values",
            expected="finite spacings > 0 in metres",
            fix="store the distance between consecutive layers, in metres",
            index=bad,
        )
    ]


# ---------------------------------------------------------------------------
# Section 4.6: scan positions.


def check_scan_arrays(view: ProductView) -> list[Finding]:
    findings = []
    for name, kinds, expected in (
        (POSITION_X, "f", "(n,) float, metres"),
        (POSITION_Y, "f", "(n,) float, metres"),
        (INDEXES, "iu", "(n,) integer"),
    ):
        info = view.datasets.get(name)
        if info is None:
            continue
        shape, dtype = info.source.shape, info.source.dtype
        if len(shape) == 1 and dtype.kind in kinds:
            continue
        fix = f"store {name} as a 1-D {'integer' if kinds == 'iu' else 'float'} array: np.ravel({name})"
        if len(shape) == 1:
            fix = f"convert it: {name}.astype(np.{'int64' if kinds == 'iu' else 'float64'})"
        findings.append(Finding(key=name, seen=f"shape {shape}, dtype {dtype}", expected=expected, fix=fix))
    return findings


def _scan_lengths(view: ProductView) -> dict[str, int]:
    lengths = {}
    for name in (INDEXES, POSITION_X, POSITION_Y):
        info = view.datasets.get(name)
        if info is not None and len(info.source.shape) == 1:
            lengths[name] = info.source.shape[0]
    return lengths


def check_scan_lengths_and_values(view: ProductView) -> list[Finding]:
    lengths = _scan_lengths(view)
    findings = []
    if len(set(lengths.values())) > 1:
        listing = ", ".join(f"{name} {n}" for name, n in lengths.items())
        reference_name, reference = next(iter(lengths.items()))
        findings += [
            Finding(
                key=name,
                seen=f"length {n} ({listing})",
                expected=f"length {reference}, the length of {reference_name}",
                fix="store one index, one x and one y per scan position",
            )
            for name, n in lengths.items()
            if n != reference
        ]
    for name in (POSITION_X, POSITION_Y):
        info = view.datasets.get(name)
        if info is not None and len(info.source.shape) == 1 and info.source.dtype.kind == "f":
            findings += _finite_finding(view, name, "drop the scan positions whose coordinates are not finite")
    return findings


def check_index_range(view: ProductView) -> list[Finding]:
    lengths = _scan_lengths(view)
    info = view.datasets.get(INDEXES)
    if info is None or INDEXES not in lengths or len(set(lengths.values())) != 1 or info.source.dtype.kind not in "iu":
        return []
    count = lengths[INDEXES]
    stats = view.arrays.stats(INDEXES)
    if stats is None or stats.min is None or stats.max is None:
        return []
    limit, meaning = count, f"scan indexes in [0, n - 1] with n = {count} positions"
    weights = view.dataset_attributes(PROBE).get(OPR_WEIGHTS)
    if view.profile == WRITTEN and weights is not None and weights.array is not None and weights.array.ndim == 2:
        limit = weights.array.shape[0]
        meaning = f"probe indexes in [0, K - 1] with K = {limit} rows of the probe's opr_weights"
    if stats.min >= 0 and stats.max <= limit - 1:
        return []
    bad = find_first(info.source, lambda values: (values < 0) | (values > limit - 1))
    return [
        Finding(
            key=INDEXES,
            seen=f"values from {stats.min:g} to {stats.max:g}",
            expected=meaning,
            fix="renumber the positions, or drop those whose index is out of range",
            index=bad,
        )
    ]


# ---------------------------------------------------------------------------
# Section 4.7: OPR weights.


def check_opr_placement(view: ProductView) -> list[Finding]:
    at_root = OPR_WEIGHTS in view.datasets or OPR_WEIGHTS in view.groups
    on_probe = OPR_WEIGHTS in view.dataset_attributes(PROBE)
    if view.profile == WRITTEN:
        if not at_root:
            return []
        fix = "move it to the probe: probe.attrs['opr_weights'] = weights, then delete the root dataset"
        if on_probe:
            fix = "delete the root dataset opr_weights; the probe attribute already contains the weights"
        return [
            Finding(
                key=OPR_WEIGHTS,
                seen="a root dataset opr_weights",
                expected="opr_weights only as an attribute of the probe (written profile)",
                fix=fix,
            )
        ]
    modes = _opr_mode_count(view)
    if at_root or modes is None or modes <= 1:
        return []
    seen = f"no root dataset opr_weights for a probe with {modes} OPR modes"
    fix = "store the (n, opr) weights as a root dataset opr_weights"
    if on_probe:
        seen += " (the weights are a probe attribute, as in the written profile: the file mixes the profiles)"
        fix = "move the probe attribute opr_weights to a root dataset opr_weights"
    return [Finding(key=OPR_WEIGHTS, seen=seen, expected="a root dataset opr_weights (ptychodus profile)", fix=fix)]


def check_opr_shape(view: ProductView) -> list[Finding]:
    modes = _opr_mode_count(view)
    if view.profile == WRITTEN:
        value = view.dataset_attributes(PROBE).get(OPR_WEIGHTS)
        key = f"{PROBE}/@{OPR_WEIGHTS}"
        if value is None:
            return []
        # A scalar or string attribute becomes a 0-d array, which the shape test rejects.
        weights = value.array if value.array is not None else np.asarray(value.number)
    else:
        info = view.datasets.get(OPR_WEIGHTS)
        key = OPR_WEIGHTS
        if info is None:
            return []
        weights = info.source.load()
    if weights is None or modes is None:
        return []
    columns = f"(K, {modes}) float weights, one column per OPR mode of the probe"
    if weights.ndim != 2 or weights.dtype.kind != "f" or weights.shape[1] != modes or weights.shape[0] == 0:
        return [
            Finding(
                key=key,
                seen=f"shape {weights.shape}, dtype {weights.dtype}",
                expected=columns,
                fix=f"store {modes} float weights per row (probe axis 0 counts the OPR modes)",
            )
        ]
    if np.isfinite(weights).all():
        return []
    first = tuple(int(i) for i in np.argwhere(~np.isfinite(weights))[0])
    return [
        Finding(key=key, seen="NaN or infinite weights", expected="finite weights", fix="recompute the weights", index=first)
    ]


# ---------------------------------------------------------------------------
# Section 4.8: loss history.


def check_loss_history(view: ProductView) -> list[Finding]:
    profile = _profile(view)
    name = next((n for n in profile.loss_names if n in view.datasets), None)
    if name is None:
        return []
    info = view.datasets[name]
    shape, dtype = info.source.shape, info.source.dtype

    if len(shape) != 1 or dtype.kind != "f":
        return [
            Finding(
                key=name,
                seen=f"shape {shape}, dtype {dtype}",
                expected="(epochs,) float loss values",
                fix=f"store one float per epoch: np.ravel({name}).astype(np.float64)",
            )
        ]
    findings = _finite_finding(view, name, "store the loss of each epoch as a finite number")

    epochs = view.datasets.get(LOSS_EPOCHS)
    if epochs is None:
        return findings
    epoch_shape, epoch_dtype = epochs.source.shape, epochs.source.dtype
    empty_float = profile.name == PTYCHODUS and epoch_shape == (0,) and epoch_dtype.kind == "f"
    if epoch_shape != shape or (epoch_dtype.kind not in "iu" and not empty_float):
        findings.append(
            Finding(
                key=LOSS_EPOCHS,
                seen=f"shape {epoch_shape}, dtype {epoch_dtype}",
                expected=f"shape {shape} integer epochs, one per loss value",
                fix="store the epoch number of each loss value as int64",
            )
        )
    return findings


# ---------------------------------------------------------------------------
# Section 4.9: departures of the ptychodus profile from the written contract.


def check_departures(view: ProductView) -> list[Finding]:
    if view.profile != PTYCHODUS:
        return []
    findings = []
    for name, written_name in RENAMES.items():
        if name in view.attributes:
            findings.append(
                Finding(
                    key=f"/@{name}",
                    seen=f"attribute {name} (Ptychodus 1.7 name)",
                    expected=f"{written_name} in the written contract",
                    fix=f"for readers of the written contract, rename {name} to {written_name}",
                )
            )
    for name in (*PTYCHODUS_PROFILE.extra_numbers, *PTYCHODUS_PROFILE.extra_strings, *PTYCHODUS_PROFILE.booleans):
        value = view.attributes.get(name)
        if value is not None:
            findings.append(
                Finding(
                    key=f"/@{name}",
                    seen=f"attribute {name}: {value.description}",
                    expected="no such attribute in the written contract",
                    fix=f"readers of the written contract ignore {name}; remove it if they reject unknown attributes",
                )
            )
    findings += _integer_attribute_departures(view.attributes)
    if OPR_WEIGHTS in view.datasets:
        findings.append(
            Finding(
                key=OPR_WEIGHTS,
                seen="a root dataset opr_weights",
                expected="opr_weights as a probe attribute in the written contract",
                fix="for readers of the written contract, move it to probe.attrs['opr_weights']",
            )
        )
    epochs = view.datasets.get(LOSS_EPOCHS)
    if epochs is not None and epochs.source.shape == (0,) and epochs.source.dtype.kind == "f":
        findings.append(
            Finding(
                key=LOSS_EPOCHS,
                seen=f"an empty {epochs.source.dtype} loss_epochs",
                expected="integer loss_epochs in the written contract",
                fix="store an empty int64 array: np.zeros(0, np.int64)",
            )
        )
    return findings


def _integer_attribute_departures(attributes: Mapping[str, AttributeValue]) -> list[Finding]:
    findings = []
    for name in PTYCHODUS_PROFILE.number_attributes:
        value = attributes.get(name)
        if value is not None and value.kind == "integer":
            findings.append(
                Finding(
                    key=f"/@{name}",
                    seen=f"{name} stored as {value.stored_as}",
                    expected="a float64 attribute in the written contract",
                    fix=f"store np.float64({name})",
                )
            )
    return findings
