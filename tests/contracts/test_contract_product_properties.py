"""Property-based tests of the PRODUCT rules, with strategies from contracts.product."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from contracts import CATALOGUE
from contracts.product import DEPARTURE_RULE, PROFILES, PTYCHODUS, RULE_PROFILES, check_product_layout
from contracts.product.strategies import valid_products, violating_products

PRODUCT_CASES = sorted(
    (rule_id, profile)
    for rule_id in CATALOGUE
    if rule_id.startswith("PRODUCT-")
    for profile in RULE_PROFILES[rule_id]
)


@given(data=st.data(), profile=st.sampled_from(PROFILES))
def test_product_valid_product_passes_its_profile(data, profile):
    layout = data.draw(valid_products(profile))
    result = check_product_layout(layout)
    assert result.profile == profile
    departures = {DEPARTURE_RULE} if profile == PTYCHODUS else set()
    assert {v.rule_id for v in result.violations} <= departures


@given(data=st.data(), case=st.sampled_from(PRODUCT_CASES))
def test_product_violation_flagged_by_exactly_its_rule(data, case):
    rule_id, profile = case
    layout = data.draw(violating_products(rule_id, profile))
    result = check_product_layout(layout)
    flagged = {v.rule_id for v in result.violations}
    if profile == PTYCHODUS:
        flagged.discard(DEPARTURE_RULE)
    assert sorted(flagged) == [rule_id]
    assert not any(v.check_error for v in result.violations)
