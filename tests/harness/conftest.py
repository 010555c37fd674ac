"""Fixtures for harness tests: a throwaway pytest project to run red/green captures on."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest


class SampleProject:
    """A folder with its own pytest.ini, so that pytest runs there ignore this repository."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")

    def write(self, name: str, source: str) -> Path:
        path = self.root / name
        path.write_text(textwrap.dedent(source))
        return path


@pytest.fixture
def sample_project(tmp_path: Path) -> SampleProject:
    root = tmp_path / "project"
    root.mkdir()
    return SampleProject(root)

