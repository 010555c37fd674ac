"""The command line as a user meets it: help, aliases, usage errors."""

from __future__ import annotations

import subprocess
import sys


def run_module(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, timeout=120)


def test_cli_help_lists_subcommands():
    result = run_module("--help")
    assert result.returncode == 0, result.stderr
    for command in ["run", "validate", "convert", "simulate", "train", "infer", "tdd", "bench", "gate", "history", "report"]:
        assert command in result.stdout


def test_cli_unknown_subcommand_is_usage_error():
    result = run_module("no-such-command")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_cli_missing_subcommand_is_usage_error():
    result = run_module()
    assert result.returncode == 2


def test_cli_import_does_not_load_torch():
    code = "import sys, harness.cli; harness.cli.build_parser(); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "False", result.stderr
