"""The contract property suite: every rule of the catalogue, checked on its own examples.

For every rule, the valid example of its family passes and the rule's minimal violating
example is flagged by that rule alone. Hypothesis then draws valid inputs of each family
and inputs that break one rule, with the strategies of the contracts package. The suite
ships inside the package so that ``ptycho-harness run`` executes it from an installed
wheel. It writes no Hypothesis example database.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from contracts import CATALOGUE, Severity
from contracts.dataset import check_dataset_arrays
from contracts.product import check_product_layout
from contracts.product.catalogue import DEPARTURE_RULE, RULE_PROFILES
from contracts.product.strategies import valid_products, violating_products
from contracts.raw import check_raw_arrays
from contracts.runtime import check_family
from contracts.runtime_strategies import RUNTIME_FAMILIES, valid_runtime_inputs, violating_runtime_inputs
from contracts.strategies import valid_datasets, violating_datasets

SUITE_SETTINGS = settings(
    max_examples=5,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

IN_MEMORY_IDS = sorted(rule_id for rule_id, rule in CATALOGUE.items() if rule.family != "PRODUCT")
PRODUCT_CASES = sorted(
    (rule_id, profile) for rule_id, profiles in RULE_PROFILES.items() for profile in profiles
)
NPZ_FAMILIES = ("DATASET", "RAW")


def flagged(family: str, example: Any, profile: str | None = None) -> list[Any]:
    """Return the violations that the checks of ``family`` report for an in-memory example."""
    if family == "DATASET":
        return check_dataset_arrays(example)
    if family == "RAW":
        return check_raw_arrays(example)
    if family == "PRODUCT":
        return list(check_product_layout(example, profile).violations)
    return check_family(family, example, None, "<suite>")


def checked_profile(rule_id: str, profile: str) -> str | None:
    """Return the profile to check a violating product against.

    The departure rule's violating example is a file of the other profile, so its profile
    is detected from the content rather than forced.
    """
    return None if rule_id == DEPARTURE_RULE else profile


def assert_flagged_by_exactly(rule_id: str, violations: list[Any]) -> None:
    rule = CATALOGUE[rule_id]
    error_ids = sorted({v.rule_id for v in violations if v.severity is Severity.ERROR})
    if rule.severity is Severity.ERROR:
        assert error_ids == [rule_id], f"{rule_id}: expected only {rule_id} among errors, got {error_ids}"
    else:
        assert error_ids == [], f"{rule_id} is a warning, but errors were reported: {error_ids}"
        assert rule_id in {v.rule_id for v in violations}, f"{rule_id} was not reported"


def error_ids_of(violations: list[Any]) -> list[str]:
    return sorted({v.rule_id for v in violations if v.severity is Severity.ERROR})


@pytest.mark.parametrize("rule_id", IN_MEMORY_IDS)
def prop_rule_valid_example_passes(rule_id):
    rule = CATALOGUE[rule_id]
    assert error_ids_of(flagged(rule.family, rule.valid_example())) == []


@pytest.mark.parametrize("rule_id", IN_MEMORY_IDS)
def prop_rule_violating_example_flags_only_its_rule(rule_id):
    rule = CATALOGUE[rule_id]
    assert_flagged_by_exactly(rule_id, flagged(rule.family, rule.violating_example()))


@pytest.mark.parametrize(("rule_id", "profile"), PRODUCT_CASES)
def prop_product_rule_violating_example_flags_only_its_rule(rule_id, profile):
    rule = CATALOGUE[rule_id]
    layout = rule.violate(_valid_product(profile), _rng())
    assert_flagged_by_exactly(rule_id, flagged("PRODUCT", layout, checked_profile(rule_id, profile)))


@pytest.mark.parametrize("family", NPZ_FAMILIES)
def prop_npz_family_valid_data_passes(family):
    @SUITE_SETTINGS
    @given(valid_datasets())
    def check(dataset):
        assert error_ids_of(flagged(family, dataset)) == []

    check()


@pytest.mark.parametrize("family", RUNTIME_FAMILIES)
def prop_runtime_family_valid_data_passes(family):
    @SUITE_SETTINGS
    @given(valid_runtime_inputs(family))
    def check(arrays):
        assert error_ids_of(flagged(family, arrays)) == []

    check()


@pytest.mark.parametrize("rule_id", IN_MEMORY_IDS)
def prop_drawn_violation_flags_only_its_rule(rule_id):
    family = CATALOGUE[rule_id].family
    strategy = violating_datasets(rule_id) if family in NPZ_FAMILIES else violating_runtime_inputs(rule_id)

    @SUITE_SETTINGS
    @given(strategy)
    def check(example):
        assert_flagged_by_exactly(rule_id, flagged(family, example))

    check()


@pytest.mark.parametrize("profile", sorted({profile for _, profile in PRODUCT_CASES}))
def prop_product_valid_data_passes(profile):
    @SUITE_SETTINGS
    @given(valid_products(profile))
    def check(layout):
        assert error_ids_of(flagged("PRODUCT", layout, profile)) == []

    check()


@pytest.mark.parametrize(("rule_id", "profile"), PRODUCT_CASES)
def prop_product_drawn_violation_flags_only_its_rule(rule_id, profile):
    @SUITE_SETTINGS
    @given(violating_products(rule_id, profile))
    def check(layout):
        assert_flagged_by_exactly(rule_id, flagged("PRODUCT", layout, checked_profile(rule_id, profile)))

    check()


def _valid_product(profile: str) -> Any:
    from contracts.product.catalogue import valid_example_for

    return valid_example_for(profile)


def _rng() -> Any:
    import numpy as np

    return np.random.default_rng(0)
