"""Text, JSON and markdown renderings of validation results."""

from __future__ import annotations

import json

from contracts import validate_file
from contracts.dataset import make_valid_dataset
from contracts.report import render_json, render_markdown, render_text, summarize
from contracts.validate import UnreadableFile


def reports(npz_writer):
    clean = validate_file(npz_writer(make_valid_dataset()))
    arrays = make_valid_dataset(n_positions=3, patch_px=8)
    arrays["diffraction"][2, 0, 1] = -1.5
    del arrays["objectGuess"]
    broken = validate_file(npz_writer(arrays))
    return clean, broken


def test_report_text_groups_rows_per_file_with_verdict(npz_writer):
    clean, broken = reports(npz_writer)
    text = render_text([clean, broken], [UnreadableFile("gone.npz", "gone.npz: file not found")])
    assert f"PASS {clean.path} (DATASET): 0 errors, 0 warnings, 26 rules checked" in text
    assert f"FAIL {broken.path} (DATASET): 1 errors, 1 warnings, 26 rules checked" in text
    assert "diffraction[2, 0, 1]" in text
    assert "UNREADABLE gone.npz: file not found" in text
    assert text.rstrip().endswith("3 files checked: 1 clean, 1 with errors, 1 unreadable")


def test_report_json_round_trips(npz_writer):
    clean, broken = reports(npz_writer)
    document = json.loads(render_json([clean, broken]))
    assert document["files"][1]["violations"][0] == broken.violations[0].to_dict()
    assert document["files"][1]["violations"][0]["index"] == [2, 0, 1]
    assert document["summary"] == summarize([clean, broken])


def test_report_summary_exit_status_precedence(npz_writer):
    clean, broken = reports(npz_writer)
    unreadable = [UnreadableFile("x.npz", "x.npz: file not found")]
    assert summarize([clean])["exit_status"] == 0
    assert summarize([clean, broken])["exit_status"] == 1
    assert summarize([clean, broken], unreadable)["exit_status"] == 2


def test_report_markdown_escapes_pipes(npz_writer):
    clean, broken = reports(npz_writer)
    text = render_markdown([broken], [UnreadableFile("a|b.npz", "a|b.npz: file not found")])
    assert "| DATASET-006 | error | diffraction[2, 0, 1] |" in text
    assert "a\\|b.npz" in text


def test_report_file_report_ok_ignores_warnings(npz_writer):
    arrays = make_valid_dataset()
    del arrays["objectGuess"]
    report = validate_file(npz_writer(arrays))
    assert report.ok
    assert report.to_dict()["warnings"] == 1
    assert report.rules_checked == 26
