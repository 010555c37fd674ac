"""The contract property suite runner: outcomes from the plugin, files in the run folder."""

from __future__ import annotations

import json

from harness.properties import PROPERTIES_FILE_NAME, PROPERTIES_LOG_FILE_NAME, run_property_suite
from harness.runfolder import create_run_folder

SUITE_INI = "[pytest]\npython_files = prop_*.py\npython_classes =\npython_functions = prop_*\n"


def write_suite(folder, body: str):
    folder.mkdir()
    (folder / "pytest.ini").write_text(SUITE_INI)
    (folder / "prop_tiny.py").write_text(body)
    return folder


def test_properties_failing_property_is_reported(tmp_path):
    suite = write_suite(
        tmp_path / "suite",
        "def prop_holds():\n    assert True\n\n\ndef prop_breaks():\n    assert 1 == 2\n",
    )
    folder = create_run_folder(tmp_path / "reports")
    result = run_property_suite(folder, suite_dir=suite)
    assert not result.ok
    assert result.collected == 2
    assert result.passed == 1
    assert [node.split("::")[-1] for node in result.failed] == ["prop_breaks"]
    document = json.loads((folder.path / PROPERTIES_FILE_NAME).read_text())
    assert document["failed"] == list(result.failed)
    assert "prop_breaks" in (folder.path / PROPERTIES_LOG_FILE_NAME).read_text()


def test_properties_empty_suite_is_not_ok(tmp_path):
    suite = write_suite(tmp_path / "suite", "def helper():\n    return 1\n")
    result = run_property_suite(create_run_folder(tmp_path / "reports"), suite_dir=suite)
    assert result.collected == 0
    assert not result.ok


def test_properties_shipped_suite_holds(tmp_path):
    result = run_property_suite(create_run_folder(tmp_path / "reports"))
    assert result.failed == ()
    assert result.collected > 100
    assert result.ok
