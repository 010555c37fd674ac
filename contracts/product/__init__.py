"""The PRODUCT family: Ptychodus HDF5 product files, checked against one of two profiles.

The "written" profile is the product contract of this project (it matches files from
older Ptychodus releases); the "ptychodus" profile is what Ptychodus 1.7 writes. Each
file is checked against the profile it follows, detected from its names, unless the
caller forces one. ``check_product_file`` reads files. ``check_product_layout`` checks
in-memory layouts (the rule examples): it stores them as an in-memory HDF5 file first,
so both go through the same reader.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import h5py

from contracts.product.catalogue import DEPARTURE_RULE, FAMILY, PRODUCT_RULES, RULE_PROFILES, valid_example_for
from contracts.product.checks import detect_profile
from contracts.product.layout import (
    PROFILES,
    PTYCHODUS,
    WRITTEN,
    DatasetLayout,
    ProductLayout,
    layout_bytes,
    make_valid_product,
    write_layout,
)
from contracts.product.reader import ProductView, has_hdf5_signature, open_product, read_view
from contracts.rules import Violation, run_rules

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProductCheck:
    """The result of checking one product: every violation, the rules run and the profile used.

    ``profile_reason`` is why that profile applies: forced by the caller, or the names
    that detection found.
    """

    violations: tuple[Violation, ...]
    rules_checked: int
    profile: str
    profile_reason: str


def check_product_file(path: str | os.PathLike[str], profile: str | None = None) -> ProductCheck:
    """Check an HDF5 product file against every PRODUCT rule.

    ``profile`` ("written" or "ptychodus") forces a profile; None detects it.

    Raises:
        InputError: the file is missing, empty, not HDF5 or truncated.
        ValueError: ``profile`` is not a known profile name.
    """
    _check_profile_name(profile)
    with open_product(path) as view:
        return _run(view, profile)


def check_product_layout(layout: ProductLayout, profile: str | None = None, source: str = "<memory>") -> ProductCheck:
    """Check an in-memory ``ProductLayout`` against every PRODUCT rule, like a file."""
    _check_profile_name(profile)
    with h5py.File(layout_bytes(layout), "r") as h5_file:
        return _run(read_view(h5_file, source), profile)


def _run(view: ProductView, profile: str | None) -> ProductCheck:
    if profile is None:
        view.profile, reason = detect_profile(view)
        logger.info("%s: checking against the %s profile (%s)", view.label, view.profile, reason)
    else:
        view.profile, reason = profile, "forced by the caller"
        logger.info("%s: checking against the %s profile (forced)", view.label, profile)
    violations, count = run_rules(PRODUCT_RULES, view, view.label)
    return ProductCheck(tuple(violations), count, view.profile, reason)


def _check_profile_name(profile: str | None) -> None:
    if profile is not None and profile not in PROFILES:
        raise ValueError(f"unknown product profile {profile!r}; expected one of: {', '.join(PROFILES)}")


__all__ = [
    "DEPARTURE_RULE",
    "FAMILY",
    "PRODUCT_RULES",
    "PROFILES",
    "PTYCHODUS",
    "RULE_PROFILES",
    "WRITTEN",
    "DatasetLayout",
    "ProductCheck",
    "ProductLayout",
    "check_product_file",
    "check_product_layout",
    "has_hdf5_signature",
    "make_valid_product",
    "valid_example_for",
    "write_layout",
]
