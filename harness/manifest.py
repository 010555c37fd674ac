"""The run manifest: what ran, on what machine and code, and how the run ended.

``collect_environment`` gathers versions, machine and git state without importing torch
or Lightning (versions come from package metadata). ``Manifest`` writes ``manifest.json``
with status ``running`` when a run starts and rewrites it once with ``complete``,
``failed`` or ``interrupted`` and the end time.
"""

from __future__ import annotations

import logging
import os
import platform
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from harness.runfolder import MANIFEST_FILE_NAME, RunFolder

logger = logging.getLogger(__name__)

MANIFEST_SCHEMA_VERSION = 1
STATUS_RUNNING = "running"
STATUS_COMPLETE = "complete"
STATUS_FAILED = "failed"
STATUS_INTERRUPTED = "interrupted"
FINAL_STATUSES = frozenset({STATUS_COMPLETE, STATUS_FAILED, STATUS_INTERRUPTED})

# Distribution names whose versions every manifest records.
RECORDED_PACKAGES = (
    "torch",
    "lightning",
    "numpy",
    "pandera",
    "hypothesis",
    "pytest",
    "pytest-benchmark",
    "ptycho-harness",
)
# Environment variables that set thread counts in torch and the BLAS/OpenMP runtimes.
THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "TORCH_NUM_THREADS",
)
GIT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class GitState:
    """The commit checked out and whether the working tree differs from it.

    ``commit`` is None outside a git work tree, before the first commit, or without
    git; ``dirty`` is None when git could not tell.
    """

    commit: str | None
    dirty: bool | None

    def describe(self) -> str:
        """Return a short form such as ``1a2b3c4d (dirty)`` for tables and messages."""
        commit = self.commit[:10] if self.commit else "no commit"
        state = {True: "dirty", False: "clean", None: "state unknown"}[self.dirty]
        return f"{commit} ({state})"


def utc_now_iso() -> str:
    """Return the current UTC time in ISO 8601 with microseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def git_state(cwd: Path | None = None) -> GitState:
    """Return the git commit and dirty state of the work tree containing ``cwd``."""
    commit = _run_git(["rev-parse", "--verify", "HEAD"], cwd)
    status = _run_git(["status", "--porcelain"], cwd)
    dirty = None if status is None else bool(status.strip())
    return GitState(commit=commit.strip() if commit else None, dirty=dirty)


def _run_git(args: list[str], cwd: Path | None) -> str | None:
    try:
        completed = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        logger.debug("git %s failed: %s", " ".join(args), exc)
        return None
    if completed.returncode != 0:
        logger.debug("git %s exited %d: %s", " ".join(args), completed.returncode, completed.stderr.strip())
        return None
    return completed.stdout


def package_versions(names: Sequence[str] = RECORDED_PACKAGES) -> dict[str, str | None]:
    """Return installed distribution versions by name; None for a missing one."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def cpu_model() -> str | None:
    """Return the CPU model name from /proc/cpuinfo, or platform.processor() elsewhere."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        try:
            for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "Processor", "cpu model"):
                    return value.strip() or None
        except OSError as exc:
            logger.debug("could not read %s: %s", cpuinfo, exc)
    return platform.processor() or None


def collect_environment(cwd: Path | None = None) -> dict[str, Any]:
    """Describe the interpreter, packages, machine, thread settings and git state."""
    try:
        affinity: int | None = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = None
    git = git_state(cwd)
    return {
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "packages": package_versions(),
        "platform": {
            "system": platform.system(),
            "release": platform.release(),
            "machine": platform.machine(),
            "platform": platform.platform(),
            "node": platform.node(),
        },
        "cpu": {
            "model": cpu_model(),
            "logical_cores": os.cpu_count(),
            "usable_cores": affinity,
        },
        "threads": {name: os.environ.get(name) for name in THREAD_ENV_VARS},
        "git": {"commit": git.commit, "dirty": git.dirty},
    }


class RunTerminated(SystemExit):
    """Raised in the main thread when the process receives SIGTERM during a run."""

    def __init__(self, signal_number: int) -> None:
        super().__init__(128 + signal_number)
        self.signal_number = signal_number


class Manifest:
    """The ``manifest.json`` of one run folder, written at start and rewritten at the end.

    Use it as a context manager. Entering writes status ``running``. Leaving writes
    ``complete``, or ``failed`` when an exception escapes, or ``interrupted`` on
    KeyboardInterrupt (SIGINT) or SIGTERM. Call ``finish`` inside the block to end with
    another status, for example ``failed`` when a check failed without an exception.
    While the block runs in the main thread, SIGTERM raises RunTerminated (exit status
    143), so the block's cleanup runs and the manifest status becomes ``interrupted``.
    """

    def __init__(
        self,
        run_folder: RunFolder,
        command: Sequence[str],
        seeds: Mapping[str, int] | None = None,
        environment: Mapping[str, Any] | None = None,
    ) -> None:
        self.run_folder = run_folder
        self.command = list(command)
        self.seeds = dict(seeds or {})
        self.environment = dict(environment) if environment is not None else None
        self.status: str | None = None
        self.started_at: str | None = None
        self.finished_at: str | None = None
        self.details: dict[str, Any] = {}
        self._previous_sigterm_handler: Any = None
        self._handler_installed = False

    @property
    def path(self) -> Path:
        return self.run_folder.path / MANIFEST_FILE_NAME

    def start(self) -> None:
        """Write the manifest with status ``running`` and install the SIGTERM handler."""
        if self.environment is None:
            self.environment = collect_environment()
        self.started_at = utc_now_iso()
        self.status = STATUS_RUNNING
        self._write()
        self._install_sigterm_handler()

    def finish(self, status: str, **details: Any) -> None:
        """Rewrite the manifest with a final ``status``, the end time and ``details``."""
        if status not in FINAL_STATUSES:
            raise ValueError(
                f"invalid manifest status {status!r}: expected one of {sorted(FINAL_STATUSES)}"
            )
        if self.status in FINAL_STATUSES:
            raise RuntimeError(
                f"manifest {self.path} was already finished with status {self.status!r}"
            )
        self.status = status
        self.finished_at = utc_now_iso()
        self.details.update(details)
        self._restore_sigterm_handler()
        self._write()
        logger.info("run %s ended with status %s", self.run_folder.run_id, status)

    def as_dict(self) -> dict[str, Any]:
        """Return the manifest document."""
        return {
            "schema_version": MANIFEST_SCHEMA_VERSION,
            "run_id": self.run_folder.run_id,
            "command": self.command,
            "status": self.status,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "seeds": self.seeds,
            "environment": self.environment,
            **({"details": self.details} if self.details else {}),
        }

    def __enter__(self) -> Manifest:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.status in FINAL_STATUSES:
            self._restore_sigterm_handler()
            return
        if exc is None:
            self.finish(STATUS_COMPLETE)
        elif isinstance(exc, (KeyboardInterrupt, RunTerminated)):
            self.finish(STATUS_INTERRUPTED, reason=type(exc).__name__)
        else:
            self.finish(STATUS_FAILED, error=f"{type(exc).__name__}: {exc}")

    def _write(self) -> None:
        self.run_folder.replace_json(MANIFEST_FILE_NAME, self.as_dict())

    def _install_sigterm_handler(self) -> None:
        try:
            self._previous_sigterm_handler = signal.signal(signal.SIGTERM, _raise_run_terminated)
        except ValueError:
            # signal.signal works only in the main thread of the main interpreter.
            logger.debug("SIGTERM handler not installed: not in the main thread")
            return
        self._handler_installed = True

    def _restore_sigterm_handler(self) -> None:
        if not self._handler_installed:
            return
        signal.signal(signal.SIGTERM, self._previous_sigterm_handler)
        self._handler_installed = False


def _raise_run_terminated(signal_number: int, frame: FrameType | None) -> None:
    raise RunTerminated(signal_number)
