"""Hypothesis strategies for PRODUCT layouts: valid products of each profile, and products that break one rule."""

from __future__ import annotations

import logging

import numpy as np
from hypothesis import strategies as st

from contracts.product.catalogue import RULE_PROFILES
from contracts.product.layout import PTYCHODUS, ProductLayout, make_valid_product
from contracts.rules import CATALOGUE

logger = logging.getLogger(__name__)


@st.composite
def valid_products(draw: st.DrawFn, profile: str) -> ProductLayout:
    """Draw a valid product of ``profile``: 1..12 positions, 4..16 px probes, 1..3 layers."""
    ptychodus = profile == PTYCHODUS
    return make_valid_product(
        profile,
        n_positions=draw(st.integers(1, 12)),
        probe_px=draw(st.integers(4, 16)),
        seed=draw(st.integers(0, 2**31 - 1)),
        probe_ndim=4 if ptychodus else draw(st.sampled_from((2, 3, 4))),
        n_modes=draw(st.integers(1, 3)),
        n_opr=draw(st.integers(1, 3)),
        n_layers=draw(st.integers(1, 3)),
        n_epochs=draw(st.integers(0, 5)),
        fixed_length_strings=draw(st.booleans()),
        integer_attributes=ptychodus and draw(st.booleans()),
    )


@st.composite
def violating_products(draw: st.DrawFn, rule_id: str, profile: str) -> ProductLayout:
    """Draw a product of ``profile`` that breaks ``rule_id`` and no other PRODUCT error rule."""
    if profile not in RULE_PROFILES[rule_id]:
        raise ValueError(f"{rule_id} has no violator for the {profile} profile; see RULE_PROFILES")
    base = draw(valid_products(profile))
    seed = draw(st.integers(0, 2**32 - 1))
    return CATALOGUE[rule_id].violate(base, np.random.default_rng(seed))
