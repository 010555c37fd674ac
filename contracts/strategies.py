"""Hypothesis strategies for DATASET data: valid datasets, and datasets that break one rule.

Strategies build on ``contracts.dataset.make_valid_dataset`` and each rule's ``violate``
function, so the property suite exercises exactly what the catalogue promises.
"""

from __future__ import annotations

import logging

import numpy as np
from hypothesis import strategies as st

from contracts.dataset import make_valid_dataset
from contracts.rules import CATALOGUE

logger = logging.getLogger(__name__)

MIN_PATCH_PX, MAX_PATCH_PX = 8, 64
MAX_POSITIONS = 16


@st.composite
def valid_datasets(draw: st.DrawFn, *, all_keys: bool = False) -> dict[str, np.ndarray]:
    """Draw a valid canonical dataset: n in 1..16, H = W in 8..64, right dtypes.

    With ``all_keys`` the optional ``Y`` and ``scan_index`` are always present; otherwise
    each is present or not at random.
    """
    n_positions = draw(st.integers(1, MAX_POSITIONS))
    patch_px = draw(st.integers(MIN_PATCH_PX, MAX_PATCH_PX))
    seed = draw(st.integers(0, 2**32 - 1))
    with_patches = True if all_keys else draw(st.booleans())
    with_scan_index = True if all_keys else draw(st.booleans())
    return make_valid_dataset(
        n_positions, patch_px, seed, with_patches=with_patches, with_scan_index=with_scan_index
    )


@st.composite
def violating_datasets(draw: st.DrawFn, rule_id: str) -> dict[str, np.ndarray]:
    """Draw a dataset that breaks ``rule_id`` and no other rule of its family."""
    rule = CATALOGUE[rule_id]
    base = draw(valid_datasets(all_keys=True))
    seed = draw(st.integers(0, 2**32 - 1))
    return rule.violate(base, np.random.default_rng(seed))
