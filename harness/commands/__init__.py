"""Subcommands of ``ptycho-harness``; each module exposes ``register(subparsers)``.

A handler receives the parsed arguments and returns the exit status.
"""

from __future__ import annotations

from importlib import import_module

_NAMES = ["run", "validate", "convert", "simulate", "train", "infer", "tdd", "bench", "gate", "history", "report"]

COMMAND_MODULES = [import_module(f"harness.commands.{name}") for name in _NAMES]
