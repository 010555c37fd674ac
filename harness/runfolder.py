"""Per-run report folders: naming, creation, lookup and never-overwrite file writes.

A run folder is ``<reports_root>/<run-id>/``, and the run ID is the run's UTC start time
``YYYY-MM-DDTHHMMSSZ``. When that name is taken, the next free suffix of ``-2``, ``-3``,
... is appended. Folders are created with an exclusive ``mkdir``, so two runs that start in the
same second, in threads or in separate processes, always get distinct folders.

Every file is written atomically (a temporary file in the same folder, then a rename)
and never replaces an existing file. The exception is ``manifest.json``, whose status
changes as the run ends, and append-only JSON lists such as ``evidence.json``, which
gain entries but never lose or change one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

RUN_ID_TIME_FORMAT = "%Y-%m-%dT%H%M%SZ"
RUN_ID_PATTERN = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{6}Z)(?:-([1-9][0-9]*))?$")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$")
MAX_NAME_LENGTH = 128
MANIFEST_FILE_NAME = "manifest.json"
# Files that replace_json may rewrite; every other file is written once.
REPLACEABLE_FILES = frozenset({MANIFEST_FILE_NAME})

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows has no fcntl
    fcntl = None  # type: ignore[assignment]


class InvalidNameError(ValueError):
    """A focus, label, run ID or file name that is unsafe as a single path component."""


def validate_name(name: str, kind: str = "name") -> str:
    """Return ``name`` if it is safe as one path component, else raise InvalidNameError.

    Allowed: letters, digits, ``.``, ``_`` and ``-``, not starting with ``.``, at most
    128 characters. This rejects ``..``, absolute paths, path separators, spaces and
    control characters.
    """
    if not isinstance(name, str) or not name:
        raise InvalidNameError(f"invalid {kind} {name!r}: it is empty; give a non-empty name")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidNameError(
            f"invalid {kind} {name[:20]!r}...: it has {len(name)} characters, "
            f"the maximum is {MAX_NAME_LENGTH}; use a shorter name"
        )
    if "/" in name or "\\" in name or os.sep in name:
        raise InvalidNameError(
            f"invalid {kind} {name!r}: it contains a path separator; "
            "give a single folder name such as 'stitch-offsets'"
        )
    if name.startswith("."):
        raise InvalidNameError(
            f"invalid {kind} {name!r}: it starts with '.', which would name a hidden "
            "entry or a parent folder; start with a letter, digit, '_' or '-'"
        )
    if not NAME_PATTERN.match(name):
        odd = sorted({char for char in name if not re.match(r"[A-Za-z0-9._-]", char)})
        raise InvalidNameError(
            f"invalid {kind} {name!r}: characters {''.join(odd)!r} are not allowed; "
            "use only letters, digits, '.', '_' and '-'"
        )
    return name


def new_run_id(now: datetime | None = None) -> str:
    """Return the run ID for ``now`` (default: the current time): UTC ``YYYY-MM-DDTHHMMSSZ``.

    A naive ``now`` is taken to be UTC already.
    """
    if now is None:
        now = datetime.now(timezone.utc)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    return now.astimezone(timezone.utc).strftime(RUN_ID_TIME_FORMAT)


def run_id_sort_key(run_id: str) -> tuple[str, int]:
    """Return a key that orders run IDs by start time, then by their ``-N`` suffix."""
    match = RUN_ID_PATTERN.match(run_id)
    if match is None:
        raise InvalidNameError(
            f"invalid run ID {run_id!r}: expected YYYY-MM-DDTHHMMSSZ with an optional -N suffix"
        )
    return match.group(1), int(match.group(2) or 1)


@dataclass(frozen=True)
class RunFolder:
    """One run's report folder, or a focus subfolder of it (then ``focus`` is set)."""

    path: Path
    run_id: str
    focus: str | None = None

    def subfolder(self, focus: str) -> RunFolder:
        """Return the ``focus`` subfolder of this run, creating it if needed."""
        validate_name(focus, "focus")
        if self.focus is not None:
            raise ValueError(
                f"run folder {self.path} is already the focus {self.focus!r}; "
                "call subfolder() on the run folder itself"
            )
        path = self.path / focus
        path.mkdir(exist_ok=True)
        return RunFolder(path=path, run_id=self.run_id, focus=focus)

    def file_path(self, name: str) -> Path:
        """Return the path of file ``name`` in this folder after checking the name."""
        return self.path / validate_name(name, "file name")

    def read_json(self, name: str) -> Any:
        """Return the parsed contents of the JSON file ``name`` in this folder."""
        return json.loads(self.file_path(name).read_text(encoding="utf-8"))

    def write_text(self, name: str, text: str) -> Path:
        """Write a new UTF-8 text file; raise FileExistsError if ``name`` exists."""
        return self.write_bytes(name, text.encode("utf-8"))

    def write_json(self, name: str, document: Any) -> Path:
        """Write a new JSON file; raise FileExistsError if ``name`` exists."""
        return self.write_bytes(name, _json_bytes(document))

    def write_bytes(self, name: str, data: bytes) -> Path:
        """Write a new file atomically; raise FileExistsError if ``name`` exists."""
        target = self.file_path(name)
        temp = _write_temp(self.path, name, data)
        publish_new_file(temp, target)
        logger.info("wrote %s", target)
        return target

    def replace_json(self, name: str, document: Any) -> Path:
        """Atomically write or rewrite ``name``, which must be one of REPLACEABLE_FILES."""
        if name not in REPLACEABLE_FILES:
            allowed = ", ".join(sorted(REPLACEABLE_FILES))
            raise ValueError(
                f"{name!r} may not be rewritten: run-folder files are written once "
                f"(only {allowed} changes); use write_json for a new file"
            )
        target = self.file_path(name)
        temp = _write_temp(self.path, name, _json_bytes(document))
        os.replace(temp, target)
        logger.info("wrote %s", target)
        return target

    def append_json_entry(self, name: str, entry: Any) -> Path:
        """Append ``entry`` to the JSON list in ``name`` (created if missing), atomically.

        Earlier entries are kept as they are. A lock on the folder serializes concurrent
        appends on POSIX systems.
        """
        target = self.file_path(name)
        with _folder_lock(self.path):
            entries: list[Any] = []
            if target.exists():
                entries = json.loads(target.read_text(encoding="utf-8"))
                if not isinstance(entries, list):
                    raise ValueError(
                        f"invalid {target}: it contains a JSON {type(entries).__name__}, expected a "
                        "list; move the file away to start a new list"
                    )
            entries.append(entry)
            temp = _write_temp(self.path, name, _json_bytes(entries))
            os.replace(temp, target)
        logger.info("wrote %s", target)
        return target


def publish_new_file(temp: Path, target: Path) -> None:
    """Move ``temp`` to ``target`` unless ``target`` exists (then raise FileExistsError).

    A hard link makes the check and the move one atomic step. On file systems without
    hard links the check and the rename are two steps.
    """
    try:
        os.link(temp, target)
    except FileExistsError:
        temp.unlink(missing_ok=True)
        raise FileExistsError(
            f"{target} already exists and run-folder files are never overwritten; "
            "choose another name or another run folder"
        ) from None
    except OSError:
        # NOTE: without hard links, a file created between this check and the
        # rename would be replaced.
        if target.exists():
            temp.unlink(missing_ok=True)
            raise FileExistsError(
                f"{target} already exists and run-folder files are never overwritten; "
                "choose another name or another run folder"
            ) from None
        os.replace(temp, target)
        return
    temp.unlink()


def create_run_folder(reports_root: Path, now: datetime | None = None) -> RunFolder:
    """Create a new run folder under ``reports_root`` named by the start time ``now``."""
    reports_root = Path(reports_root)
    reports_root.mkdir(parents=True, exist_ok=True)
    base = new_run_id(now)
    suffix = 1
    while True:
        run_id = base if suffix == 1 else f"{base}-{suffix}"
        path = reports_root / run_id
        try:
            path.mkdir()
        except FileExistsError:
            suffix += 1
            continue
        logger.info("created run folder %s", path)
        return RunFolder(path=path, run_id=run_id)


def open_or_create_run_folder(reports_root: Path, run_id: str) -> tuple[RunFolder, bool]:
    """Return the run folder ``run_id``, creating it if missing, and whether it was created.

    Evidence plans fix the run ID up front, so the first capture of a plan creates the
    folder under that name instead of a name taken from the current time.
    """
    validate_name(run_id, "run ID")
    run_id_sort_key(run_id)
    reports_root = Path(reports_root)
    reports_root.mkdir(parents=True, exist_ok=True)
    path = reports_root / run_id
    try:
        path.mkdir()
    except FileExistsError:
        if not path.is_dir():
            raise FileExistsError(f"{path} exists and is not a folder; remove it or choose another run ID") from None
        return RunFolder(path=path, run_id=run_id), False
    logger.info("created run folder %s", path)
    return RunFolder(path=path, run_id=run_id), True


def open_run_folder(reports_root: Path, run_id: str) -> RunFolder:
    """Return the existing run folder ``run_id``; raise FileNotFoundError if it is missing."""
    validate_name(run_id, "run ID")
    path = Path(reports_root) / run_id
    if not path.is_dir():
        raise FileNotFoundError(
            f"no run folder {run_id!r} under {reports_root}; check the run ID "
            "(the folder names under the reports root) or the --reports folder"
        )
    return RunFolder(path=path, run_id=run_id)


def list_run_folders(reports_root: Path) -> list[RunFolder]:
    """Return the run folders under ``reports_root``, oldest first.

    Only folders named like run IDs count; other entries are ignored.
    """
    reports_root = Path(reports_root)
    if not reports_root.is_dir():
        return []
    folders = [
        RunFolder(path=entry, run_id=entry.name)
        for entry in reports_root.iterdir()
        if entry.is_dir() and RUN_ID_PATTERN.match(entry.name)
    ]
    return sorted(folders, key=lambda folder: run_id_sort_key(folder.run_id))


def latest_run_folder(reports_root: Path, focus: str | None = None) -> RunFolder | None:
    """Return the newest run folder, or the newest with a ``focus`` subfolder; None if none."""
    if focus is not None:
        validate_name(focus, "focus")
    for folder in reversed(list_run_folders(reports_root)):
        if focus is None or (folder.path / focus).is_dir():
            return folder
    return None


def _json_bytes(document: Any) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=False, default=str) + "\n").encode("utf-8")


def create_temp_file(folder: Path, name: str) -> tuple[int, Path]:
    """Create a hidden temporary file for ``name`` in ``folder``; return its descriptor and path.

    Unlike tempfile.mkstemp (mode 0600), the file gets the usual permissions that the
    umask allows, so published run-folder files are readable like any other output.
    """
    for _ in range(100):
        path = Path(folder) / f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        return descriptor, path
    raise FileExistsError(f"could not create a temporary file for {name!r} in {folder}")


def _write_temp(folder: Path, name: str, data: bytes) -> Path:
    descriptor, temp = create_temp_file(folder, name)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    if fcntl is None:  # pragma: no cover
        # NOTE: without fcntl, concurrent appends to one JSON list can lose an entry.
        yield
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)
