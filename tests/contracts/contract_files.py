"""Helpers for the contracts tests: NPZ files written by NumPy and archive members made by hand."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format


def save_npz(path: Path, arrays: Mapping[str, np.ndarray], compressed: bool = False) -> Path:
    """Write ``arrays`` with np.savez or np.savez_compressed and return the path."""
    if compressed:
        np.savez_compressed(path, **arrays)
    else:
        np.savez(path, **arrays)
    return path


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    npy_format.write_array(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def raw_npy(header: str | bytes, payload: bytes, version: tuple[int, int] = (1, 0)) -> bytes:
    """Build a .npy member by hand from a header literal and raw data bytes."""
    text = header.encode("latin1") if isinstance(header, str) else header
    length = len(text)
    if version[0] == 1:
        prefix = b"\x93NUMPY" + bytes(version) + length.to_bytes(2, "little")
    else:
        prefix = b"\x93NUMPY" + bytes(version) + length.to_bytes(4, "little")
    return prefix + text + payload


def write_members(
    path: Path, members: Mapping[str, bytes], compression: int = zipfile.ZIP_STORED
) -> Path:
    """Write a zip archive whose members hold the given bytes."""
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path
