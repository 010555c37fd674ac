"""Byte-reproducible, atomic NPZ writing.

``numpy.savez`` stamps each zip member with the current time, so two runs with the same
arrays give different bytes. The writer here fixes every member's date and attributes and
publishes the file with ``os.replace`` so that readers never see a half-written file.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

# The earliest date a zip header can store; every member gets it.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


class NpzReadError(ValueError):
    """A file is not a readable NPZ archive: missing, empty, a folder, not a zip, or truncated."""


def check_npz_archive(path: Path) -> None:
    """Parse the zip directory and every ``.npy`` header of ``path`` without reading array data.

    This catches the files that ``numpy.load`` reports in misleading words: an empty file
    raises EOFError, and a text file raises the ValueError about pickled data.

    Raises:
        NpzReadError: ``path`` is missing, empty, a folder, not a zip archive, or truncated.
    """
    from contracts.errors import InputError
    from contracts.npz import NpzArchive

    try:
        with NpzArchive(path):
            pass
    except InputError as error:
        raise NpzReadError(str(error)) from None


def write_npz(path: Path, arrays: Mapping[str, np.ndarray], *, overwrite: bool = False) -> Path:
    """Write ``arrays`` as a deflate-compressed NPZ, byte for byte the same for the same input.

    Members are written in the order of ``arrays``. Object arrays are rejected because
    they would need pickle to load.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is false.
        IsADirectoryError: ``path`` is a folder.
        TypeError: an array has dtype object.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"output {path} is a folder; expected a file path ending in .npz")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; choose another output path")
    for key, value in arrays.items():
        if np.asarray(value).dtype == object:
            raise TypeError(f"array {key!r} has dtype object, which needs pickle to load")

    descriptor, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            with zipfile.ZipFile(handle, mode="w", compression=zipfile.ZIP_DEFLATED) as archive:
                for key, value in arrays.items():
                    archive.writestr(_member_info(f"{key}.npy"), _npy_bytes(np.asarray(value)))
        # mkstemp creates the file 0600; give it the mode a plain open() would have.
        os.chmod(temp_name, 0o666 & ~_current_umask())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    logger.info("wrote %s", path)
    return path


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _member_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()
