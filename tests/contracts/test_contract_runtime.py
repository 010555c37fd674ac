"""The runtime families (GROUPED, BATCH, RECON, PHYSICS): catalogue examples and properties."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given

from contracts import CATALOGUE
from contracts.rules import Severity, rules_of_family
from contracts.runtime import check_family
from contracts.runtime_strategies import RUNTIME_FAMILIES, valid_runtime_inputs, violating_runtime_inputs

RUNTIME_IDS = sorted(rule_id for rule_id, rule in CATALOGUE.items() if rule.family in RUNTIME_FAMILIES)


def flagged_ids(family: str, arrays) -> list[str]:
    return sorted({violation.rule_id for violation in check_family(family, arrays, None, "<test>")})


def test_runtime_families_registered_with_rules():
    counts = {family: len(rules_of_family(family)) for family in RUNTIME_FAMILIES}
    assert counts == {"GROUPED": 11, "BATCH": 8, "RECON": 8, "PHYSICS": 7}


@pytest.mark.parametrize("rule_id", RUNTIME_IDS)
def test_runtime_rule_valid_example_passes_every_rule(rule_id):
    rule = CATALOGUE[rule_id]
    assert check_family(rule.family, rule.valid_example(), None, "<test>") == []


@pytest.mark.parametrize("rule_id", RUNTIME_IDS)
def test_runtime_rule_violating_example_flags_only_its_rule(rule_id):
    rule = CATALOGUE[rule_id]
    violations = check_family(rule.family, rule.violating_example(), None, "<test>")
    assert sorted({v.rule_id for v in violations}) == [rule_id]
    assert all(v.severity is Severity.ERROR for v in violations)
    assert all(not v.check_error for v in violations)
    assert all(v.fix and v.expected and v.seen for v in violations)


@pytest.mark.parametrize("family", RUNTIME_FAMILIES)
def test_runtime_property_valid_inputs_pass_every_rule(family):
    @given(valid_runtime_inputs(family))
    def check(arrays):
        assert check_family(family, arrays, None, "<test>") == []

    check()


@pytest.mark.parametrize("rule_id", RUNTIME_IDS)
def test_runtime_property_one_violation_flags_exactly_its_id(rule_id):
    family = CATALOGUE[rule_id].family

    @given(violating_runtime_inputs(rule_id))
    def check(arrays):
        assert flagged_ids(family, arrays) == [rule_id]

    check()


def test_runtime_crashing_check_becomes_check_error(monkeypatch):
    rule = CATALOGUE["RECON-004"]

    def explode(view):
        raise ZeroDivisionError("boom")

    monkeypatch.setitem(CATALOGUE, "RECON-004", rule.__class__(**{**rule.__dict__, "check": explode}))
    violations = check_family("RECON", rule.valid_example(), None, "<test>")
    assert [(v.rule_id, v.check_error) for v in violations] == [("RECON-004", True)]
    assert "ZeroDivisionError: boom" in violations[0].seen


def test_runtime_import_contracts_loads_no_torch_or_pandera():
    code = (
        "import sys, contracts; "
        "print(sorted(m for m in ('torch', 'pandera', 'pandas', 'xarray') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
