"""Hypothesis strategies for the runtime families: valid inputs, and inputs that break one rule.

pandera 0.35 cannot draw xarray schemas, so these strategies draw the sizes and seeds of
each family's ``make_valid_*`` builder and apply a rule's own ``violate`` function, as
``contracts.strategies`` does for DATASET.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from hypothesis import strategies as st

from contracts import batch, grouped, physics, recon
from contracts.rules import CATALOGUE

logger = logging.getLogger(__name__)

RUNTIME_FAMILIES = (grouped.FAMILY, batch.FAMILY, recon.FAMILY, physics.FAMILY)


@st.composite
def valid_runtime_inputs(draw: st.DrawFn, family: str) -> dict[str, Any]:
    """Draw an input of ``family`` that passes every rule of the family."""
    seed = draw(st.integers(0, 2**32 - 1))
    if family == grouped.FAMILY:
        return grouped.make_valid_grouped(
            groups=draw(st.integers(1, 8)), gridsize=draw(st.integers(1, 3)),
            patch_px=draw(st.integers(2, 16)), seed=seed,
        )
    if family == batch.FAMILY:
        return batch.make_valid_batch(
            batch_size=draw(st.integers(1, 3)), gridsize=draw(st.integers(1, 2)),
            patch_px=draw(st.sampled_from(batch.SUPPORTED_PATCH_PX[:2])), seed=seed,
        )
    if family == recon.FAMILY:
        return recon.make_valid_recon(
            grid_side=draw(st.integers(1, 4)), patch_px=draw(st.integers(4, 12)),
            step_px=draw(st.floats(1.0, 6.0)), seed=seed,
        )
    if family == physics.FAMILY:
        return physics.make_valid_physics(
            count=draw(st.integers(1, 4)), patch_px=draw(st.sampled_from([8, 16, 32])),
            nphotons=draw(st.floats(1e3, 1e6)), seed=seed,
        )
    raise ValueError(f"unknown runtime family {family!r}; expected one of {', '.join(RUNTIME_FAMILIES)}")


@st.composite
def violating_runtime_inputs(draw: st.DrawFn, rule_id: str) -> dict[str, Any]:
    """Draw an input that breaks ``rule_id`` and no other rule of its family."""
    rule = CATALOGUE[rule_id]
    base = draw(valid_runtime_inputs(rule.family))
    seed = draw(st.integers(0, 2**32 - 1))
    return rule.violate(base, np.random.default_rng(seed))
