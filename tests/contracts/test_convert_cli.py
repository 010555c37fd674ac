"""``ptycho-harness convert`` run as a user runs it: in a subprocess, checking exit status."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from contract_files import save_npz
from convert_files import legacy_arrays, write_cxi
from test_contract_cli import describe, harness_command

from harness.commands.convert import SOURCE_FORMATS


def run_convert(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = harness_command() + ["convert", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


@pytest.fixture
def legacy_file(tmp_path: Path) -> Path:
    return save_npz(tmp_path / "legacy.npz", legacy_arrays())


def test_cli_convert_legacy_exits_0_and_lists_changes(legacy_file, tmp_path):
    output = tmp_path / "out.npz"
    result = run_convert(legacy_file, output)
    assert result.returncode == 0, describe(result)
    assert "diff3d: renamed to diffraction" in result.stdout
    assert "probeGuess: complex128 -> complex64, max relative error" in result.stdout
    assert result.stdout.rstrip().endswith(f"OK: {output} validates clean (0 warning(s))")
    validated = subprocess.run(harness_command() + ["validate", str(output)], capture_output=True, text=True, timeout=120)
    assert validated.returncode == 0, describe(validated)


def test_cli_convert_json_document(legacy_file, tmp_path):
    result = run_convert(legacy_file, tmp_path / "out.npz", "--json")
    assert result.returncode == 0, describe(result)
    document = json.loads(result.stdout)
    assert document["exit_status"] == 0
    assert document["source_format"] == "legacy"
    assert document["validation"]["family"] == "DATASET"
    assert {loss["key"] for loss in document["precision_losses"]} == {"Y", "diffraction", "objectGuess", "probeGuess"}


def test_cli_convert_still_violating_exits_1(tmp_path):
    arrays = legacy_arrays()
    arrays["ycoords"] = arrays["ycoords"][:-2]
    result = run_convert(save_npz(tmp_path / "in.npz", arrays), tmp_path / "out.npz")
    assert result.returncode == 1, describe(result)
    assert "DATASET-026" in result.stdout
    assert "FAIL:" in result.stdout.splitlines()[-1]


def test_cli_convert_rejects_input_as_output_exits_2(legacy_file, tmp_path):
    link = tmp_path / "link.npz"
    link.symlink_to(legacy_file)
    before = legacy_file.read_bytes()
    result = run_convert(legacy_file, link, "--force")
    assert result.returncode == 2, describe(result)
    assert "is the input file" in result.stderr
    assert "Traceback" not in result.stderr
    assert legacy_file.read_bytes() == before


def test_cli_convert_existing_output_exits_2_unless_force(legacy_file, tmp_path):
    output = tmp_path / "out.npz"
    output.write_bytes(b"keep me")
    refused = run_convert(legacy_file, output)
    assert refused.returncode == 2, describe(refused)
    assert "pass --force" in refused.stderr
    assert output.read_bytes() == b"keep me"
    forced = run_convert(legacy_file, output, "--force")
    assert forced.returncode == 0, describe(forced)


def test_cli_convert_near_field_exits_2(tmp_path):
    source = write_cxi(tmp_path / "near.cxi", attributes={"geometry": "near field"})
    result = run_convert(source, tmp_path / "out.npz", "--json")
    assert result.returncode == 2, describe(result)
    assert "Traceback" not in result.stderr
    assert "far-field" in json.loads(result.stdout)["error"]


@pytest.mark.parametrize(
    "content", [b"", b"not a scan", b"PK\x03\x04 truncated"], ids=["empty", "text", "truncated-zip"]
)
def test_cli_convert_unreadable_input_exits_2(tmp_path, content):
    source = tmp_path / "in.npz"
    source.write_bytes(content)
    result = run_convert(source, tmp_path / "out.npz")
    assert result.returncode == 2, describe(result)
    assert "Traceback" not in result.stderr
    assert str(source) in result.stderr


def test_cli_convert_bad_from_choice_exits_2(legacy_file, tmp_path):
    result = run_convert(legacy_file, tmp_path / "out.npz", "--from", "matlab")
    assert result.returncode == 2, describe(result)
    assert "invalid choice: 'matlab'" in result.stderr


def test_cli_convert_does_not_import_torch(legacy_file, tmp_path):
    script = (
        "import sys\n"
        "from harness.cli import main\n"
        f"status = main(['convert', {str(legacy_file)!r}, {str(tmp_path / 'out.npz')!r}])\n"
        "assert 'torch' not in sys.modules, 'convert imported torch'\n"
        "sys.exit(status)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, describe(result)


def test_cli_source_formats_match_contracts_package():
    from contracts.convert import SOURCE_FORMATS as LIBRARY_FORMATS

    assert SOURCE_FORMATS == LIBRARY_FORMATS
