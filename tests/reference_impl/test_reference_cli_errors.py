"""Bad input to ``simulate``, ``infer`` and ``train``: exit status 2, a plain message, no traceback.

Each test runs the CLI in a subprocess, as a user would, and checks the exit status, the
message, that stderr has no traceback, and that no file was written or overwritten.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main


def _run_cli(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "harness", *map(str, args)], capture_output=True, text=True, timeout=300
    )


def _assert_usage_error(result: subprocess.CompletedProcess, pattern: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert re.search(pattern, result.stderr), result.stderr


def _simulate(source: Path, out: Path, *options: str) -> subprocess.CompletedProcess:
    return _run_cli("simulate", source, out, "--nphotons", "1e6", *options)


@pytest.fixture
def empty_file(tmp_path: Path) -> Path:
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    return path


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    path = tmp_path / "text.npz"
    path.write_text("probe, object and scan positions\n")
    return path


def test_simulate_empty_input_exit_2(tmp_path: Path, empty_file: Path) -> None:
    out = tmp_path / "s.npz"
    result = _simulate(empty_file, out, "--seed", "1")
    _assert_usage_error(result, r"empty\.npz: the file is empty \(0 bytes\)")
    assert not out.exists()


def test_simulate_text_input_not_npz(tmp_path: Path, text_file: Path) -> None:
    out = tmp_path / "s.npz"
    result = _simulate(text_file, out, "--seed", "1")
    _assert_usage_error(result, r"text\.npz: not a readable NPZ \(zip\) archive")
    assert "allow_pickle" not in result.stderr
    assert not out.exists()


@pytest.mark.parametrize("seed", ["-1", str(2**63)])
def test_simulate_seed_out_of_range(tmp_path: Path, tiny_source: Path, seed: str) -> None:
    out = tmp_path / "s.npz"
    result = _simulate(tiny_source, out, "--seed", seed)
    _assert_usage_error(result, rf"--seed {seed} is invalid; expected an integer from 0 to {2**63 - 1}")
    assert not out.exists()


def test_simulate_missing_output_folder(tmp_path: Path, tiny_source: Path) -> None:
    out = tmp_path / "nodir" / "p7.npz"
    result = _simulate(tiny_source, out, "--seed", "1")
    _assert_usage_error(result, r"output folder .*nodir not found; create it first")
    assert not out.parent.exists()


def test_simulate_output_is_folder(tmp_path: Path, tiny_source: Path) -> None:
    target = tmp_path / "dirtarget"
    target.mkdir()
    (target / "keep.txt").write_text("keep")
    result = _simulate(tiny_source, target, "--seed", "1", "--overwrite")
    _assert_usage_error(result, r"output .*dirtarget is a folder; expected a file path")
    assert sorted(path.name for path in target.iterdir()) == ["keep.txt"]


def test_simulate_n_positions_above_source(tmp_path: Path, tiny_source: Path) -> None:
    out = tmp_path / "s.npz"
    result = _simulate(tiny_source, out, "--seed", "1", "--n-positions", "99999")
    _assert_usage_error(result, r"--n-positions 99999 exceeds the 24 positions in .*source\.npz")
    assert not out.exists()


@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        (["--n-positions", "-3"], r"--n-positions -3 is invalid; expected at least 1"),
        (["--patch-size", "0"], r"--patch-size 0 is invalid; expected at least 1"),
        (["--nphotons", "0"], r"--nphotons 0 is invalid; expected a positive number"),
    ],
)
def test_simulate_option_wording(tmp_path: Path, tiny_source: Path, options: list[str], pattern: str) -> None:
    out = tmp_path / "s.npz"
    result = _simulate(tiny_source, out, "--seed", "1", *options)
    _assert_usage_error(result, pattern)
    assert not out.exists()


def test_infer_out_is_existing_file(tmp_path: Path, tiny_dataset: Path) -> None:
    out = tmp_path / "sim.npz"
    out.write_bytes(b"keep")
    result = _run_cli("infer", tiny_dataset, "--out", out)
    _assert_usage_error(result, r"--out .*sim\.npz is an existing file; expected a folder")
    assert out.read_bytes() == b"keep"


def test_infer_text_dataset_not_npz(tmp_path: Path, text_file: Path) -> None:
    out = tmp_path / "inference"
    result = _run_cli("infer", text_file, "--out", out)
    _assert_usage_error(result, r"text\.npz: not a readable NPZ \(zip\) archive")
    assert "allow_pickle" not in result.stderr
    assert not out.exists()


def test_infer_empty_dataset(tmp_path: Path, empty_file: Path) -> None:
    out = tmp_path / "inference"
    result = _run_cli("infer", empty_file, "--out", out)
    _assert_usage_error(result, r"empty\.npz: the file is empty \(0 bytes\)")
    assert not out.exists()


def test_infer_missing_checkpoint(tmp_path: Path, tiny_dataset: Path) -> None:
    out = tmp_path / "inference"
    result = _run_cli("infer", tiny_dataset, "--checkpoint", tmp_path / "missing.ckpt", "--out", out)
    _assert_usage_error(result, r"checkpoint .*missing\.ckpt not found; pass a \.ckpt written by `ptycho-harness train`")
    assert not out.exists()


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        (b"", r"checkpoint .*bad\.ckpt is an empty file \(0 bytes\); pass a \.ckpt written by"),
        (
            b"epochs: 3\n",
            r"checkpoint .*bad\.ckpt is not a PyTorch/Lightning checkpoint \(zip or pickle archive\); "
            r"pass a \.ckpt written by",
        ),
    ],
)
def test_infer_bad_checkpoint_file(tmp_path: Path, tiny_dataset: Path, content: bytes, pattern: str) -> None:
    checkpoint = tmp_path / "bad.ckpt"
    checkpoint.write_bytes(content)
    out = tmp_path / "inference"
    result = _run_cli("infer", tiny_dataset, "--checkpoint", checkpoint, "--out", out)
    _assert_usage_error(result, pattern)
    assert "weights_only" not in result.stderr
    assert not out.exists()


def test_infer_help_says_quality_informational() -> None:
    result = _run_cli("infer", "--help")
    assert result.returncode == 0
    # argparse wraps the description at spaces and hyphens, so whitespace is compared out.
    text = "".join(result.stdout.split())
    assert "Thequalitylineisinformation" in text
    assert "`ptycho-harnessrun`isthecommandthatfailsonit" in text


def test_train_zero_epochs_names_only_epochs(tmp_path: Path, tiny_dataset: Path) -> None:
    out = tmp_path / "t2.ckpt"
    result = _run_cli("train", tiny_dataset, "--out", out, "--epochs", "0")
    _assert_usage_error(result, r"--epochs 0 is invalid; expected at least 1")
    assert "--batch-size" not in result.stderr
    assert not out.exists()


def test_train_each_invalid_option_named(tmp_path: Path, tiny_dataset: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "t2.ckpt"
    code = main([
        "train", str(tiny_dataset), "--out", str(out), "--batch-size", "0", "--seed", "-1",
        "--learning-rate", "0", "--gridsize", "0", "--channels", "16,x",
    ])
    err = capsys.readouterr().err
    assert code == 2
    assert "--epochs" not in err
    assert "--batch-size 0 is invalid; expected at least 1" in err
    assert "--seed -1 is invalid" in err
    assert "--learning-rate 0 is invalid; expected a positive number" in err
    assert "--gridsize 0 is invalid; expected at least 1" in err
    assert "--channels '16,x' is invalid" in err
    assert not out.exists()


def test_train_text_dataset_not_npz(tmp_path: Path, text_file: Path) -> None:
    out = tmp_path / "t.ckpt"
    result = _run_cli("train", text_file, "--out", out)
    _assert_usage_error(result, r"text\.npz: not a readable NPZ \(zip\) archive")
    assert not out.exists()
