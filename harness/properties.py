"""Run the contract property suite that ships in ``contracts/suite`` and keep its results.

The suite checks every rule of the catalogue on its valid and minimal violating examples
and on inputs drawn by Hypothesis. Outcomes come from the harness's pytest plugin, not
from the log text.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import IO, Any

from harness.pytest_runner import recording_environment, run_logged
from harness.runfolder import RunFolder

logger = logging.getLogger(__name__)

PROPERTIES_LOG_FILE_NAME = "properties.log"
PROPERTIES_FILE_NAME = "properties.json"
SUITE_INI_NAME = "pytest.ini"


@dataclass(frozen=True)
class PropertyResult:
    """Outcome of one run of the property suite."""

    exit_code: int
    collected: int
    passed: int
    failed: tuple[str, ...]
    log_path: Path

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.collected > 0 and not self.failed


def run_property_suite(
    run_folder: RunFolder, *, suite_dir: Path | None = None, echo: IO[bytes] | None = None
) -> PropertyResult:
    """Run the property suite; write ``properties.log`` and ``properties.json`` into ``run_folder``."""
    with ExitStack() as stack:
        if suite_dir is None:
            suite_dir = stack.enter_context(resources.as_file(resources.files("contracts") / "suite"))
        suite_dir = Path(suite_dir).resolve()
        command = [
            sys.executable, "-m", "pytest",
            "-c", str(suite_dir / SUITE_INI_NAME),
            "--rootdir", str(suite_dir),
            "--confcutdir", str(suite_dir),
            "-q",
            str(suite_dir),
        ]
        temp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ptycho-harness-properties-")))
        outcomes_path = temp / "outcomes.json"
        exit_code = run_logged(
            command, run_folder, PROPERTIES_LOG_FILE_NAME, env=recording_environment(outcomes_path), echo=echo
        )
        outcomes = _read_outcomes(outcomes_path)

    tests = outcomes.get("tests", {}) if outcomes else {}
    passed = sum(1 for test in tests.values() if test.get("outcome") == "passed")
    failed = tuple(sorted(node for node, test in tests.items() if test.get("outcome") in ("failed", "error")))
    document = {
        "exit_code": exit_code,
        "collected": len(tests),
        "passed": passed,
        "failed": list(failed),
        "log": PROPERTIES_LOG_FILE_NAME,
        "outcomes": outcomes,
    }
    run_folder.write_json(PROPERTIES_FILE_NAME, document)
    logger.info("property suite exited %d: %d of %d passed", exit_code, passed, len(tests))
    return PropertyResult(
        exit_code=exit_code,
        collected=len(tests),
        passed=passed,
        failed=failed,
        log_path=run_folder.path / PROPERTIES_LOG_FILE_NAME,
    )


def _read_outcomes(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        logger.warning("no outcome records from the property suite (%s); see %s", error, PROPERTIES_LOG_FILE_NAME)
        return None
