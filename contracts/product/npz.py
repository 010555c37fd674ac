"""The NPZ product layout that Ptychodus's NPZ product writer produces, and its recognition.

Ptychodus (``ptychodus/plugins/npz_product_file.py``, read at commit 155c0659) saves a
product with ``numpy.savez``, every item as a top-level key. The metadata are 0-d arrays.
The probe comes with its pixel size, the object with its centre, pixel size and layer
spacing, then the positions in metres and the loss history. The file has no diffraction,
so it is neither a canonical nor a raw dataset.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

logger = logging.getLogger(__name__)

# Keys that Ptychodus's NPZ product writer writes for every product (opr_weights only with OPR modes).
NPZ_PRODUCT_KEYS = frozenset(
    {
        "name",
        "comments",
        "detector_object_distance_m",
        "probe_energy_eV",
        "probe_photon_count",
        "exposure_time_s",
        "mass_attenuation_m2_kg",
        "probe",
        "probe_pixel_width_m",
        "probe_pixel_height_m",
        "probe_position_indexes",
        "probe_position_x_m",
        "probe_position_y_m",
        "object",
        "object_center_x_m",
        "object_center_y_m",
        "object_pixel_width_m",
        "object_pixel_height_m",
        "object_layer_spacing_m",
        "loss_epochs",
        "loss_values",
    }
)
# The keys that the product import needs; a file with these is recognised as a product.
NPZ_PRODUCT_REQUIRED_KEYS = frozenset(
    {
        "probe",
        "object",
        "probe_position_x_m",
        "probe_position_y_m",
        "probe_pixel_width_m",
        "probe_pixel_height_m",
        "object_pixel_width_m",
        "object_pixel_height_m",
    }
)


def is_npz_product(keys: Collection[str]) -> bool:
    """Tell whether NPZ member names are those of a Ptychodus NPZ product."""
    return NPZ_PRODUCT_REQUIRED_KEYS <= set(keys)


def describe_npz_product(keys: Collection[str]) -> str:
    """Return a sentence that states which of the writer's keys the file has."""
    present = NPZ_PRODUCT_KEYS & set(keys)
    missing = sorted(NPZ_PRODUCT_KEYS - present)
    text = f"{len(present)} of the {len(NPZ_PRODUCT_KEYS)} keys that Ptychodus's NPZ product writer writes"
    if missing:
        text += f" (missing: {', '.join(missing)})"
    return text
