"""Run pytest in a child process with its output streamed into a log file.

Red/green capture, the benchmark suite, the property suite and the gate all run pytest
this way. The output goes to the terminal as it arrives and into a log in the run folder.
The log is kept also when the run is interrupted.
"""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path
from typing import IO

from harness.pytest_plugin import EVIDENCE_ENV_VAR
from harness.runfolder import RunFolder, create_temp_file, publish_new_file

logger = logging.getLogger(__name__)

CHILD_TERMINATE_TIMEOUT_S = 10.0
READ_CHUNK_BYTES = 65536


def recording_environment(outcomes_path: Path) -> dict[str, str]:
    """Return an environment in which the child's pytest records outcomes to ``outcomes_path``."""
    env = dict(os.environ)
    env[EVIDENCE_ENV_VAR] = str(outcomes_path)
    if env.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        # Entry-point plugins are off, so load the recorder explicitly. With autoload
        # on, naming it again would register it twice and pytest would stop.
        env["PYTEST_ADDOPTS"] = f"{env.get('PYTEST_ADDOPTS', '')} -p harness.pytest_plugin".strip()
    return env


def stream_command(
    command: list[str],
    log: IO[bytes],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    echo: IO[bytes] | None = None,
) -> int:
    """Run ``command`` with stdout and stderr copied to ``log`` (and ``echo``); return its exit status.

    An interruption (KeyboardInterrupt, SIGTERM raised as an exception) stops the child
    before it propagates.
    """
    logger.info("running %s in %s", command, cwd or Path.cwd())
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert process.stdout is not None
    try:
        while chunk := process.stdout.read1(READ_CHUNK_BYTES):
            log.write(chunk)
            if echo is not None:
                echo.write(chunk)
                echo.flush()
        return process.wait()
    except BaseException:
        stop_child(process)
        raise


def run_logged(
    command: list[str],
    folder: RunFolder,
    log_name: str,
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    echo: IO[bytes] | None = None,
) -> int:
    """Run ``command`` with its output kept as ``log_name`` in ``folder``; return its exit status.

    The log is published (never over an existing file) also when the run is interrupted.
    """
    descriptor, temp_log = create_temp_file(folder.path, log_name)
    try:
        with os.fdopen(descriptor, "wb") as log:
            return stream_command(command, log, cwd=cwd, env=env, echo=echo)
    finally:
        publish_new_file(temp_log, folder.path / log_name)
        logger.info("wrote %s", folder.path / log_name)


def stop_child(process: subprocess.Popen[bytes]) -> None:
    """Terminate ``process``, and kill it if it ignores SIGTERM for a while."""
    if process.poll() is not None:
        return
    logger.info("stopping pid %d", process.pid)
    process.terminate()
    try:
        process.wait(timeout=CHILD_TERMINATE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        logger.warning("pid %d ignored SIGTERM for %.0f s; killing it", process.pid, CHILD_TERMINATE_TIMEOUT_S)
        process.kill()
        process.wait()
