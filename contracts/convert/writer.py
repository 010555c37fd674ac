"""Safe output for conversion: never the input, never an existing file unless forced, atomic.

The NPZ is written to a temporary file next to the output and published with
``os.replace``, so an existing output stays untouched until the new file is complete.
Every zip member gets the same fixed timestamp and mode, so equal arrays give equal bytes.
"""

from __future__ import annotations

import logging
import os
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from contracts.convert.common import ConversionError

logger = logging.getLogger(__name__)

# The earliest date a zip header can store; every member gets it.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def check_output_path(source: Path, output: Path, force: bool) -> None:
    """Reject an output that is the input (by any path or link) or exists without ``force``.

    Raises:
        ConversionError: the output is the input, is a directory, or exists and
            ``force`` is false.
    """
    if output.is_dir():
        raise ConversionError(f"output {output} is a directory; give a file path such as {output / 'converted.npz'}")
    if not output.exists():
        return
    try:
        same = os.path.samefile(source, output)
    except OSError:
        same = False
    if same:
        raise ConversionError(
            f"output {output} is the input file {source}; convert never writes over its input, "
            "so choose another output path"
        )
    if not force:
        raise ConversionError(f"output {output} already exists; choose another path or pass --force to replace it")
    logger.info("replacing the existing output %s (--force)", output)


def write_npz_atomic(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` as a deflate-compressed NPZ at ``path`` through a temporary file.

    Raises:
        ConversionError: the folder cannot be written, or an array has dtype object.
    """
    for key, value in arrays.items():
        if value.dtype.hasobject:
            raise ConversionError(f"array {key!r} has an object dtype, which would need pickle to load")
    try:
        descriptor, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise ConversionError(f"cannot create a file in {path.parent} ({error.strerror or error})") from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            with zipfile.ZipFile(handle, mode="w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
                for key, value in arrays.items():
                    with archive.open(_member_info(f"{key}.npy"), mode="w", force_zip64=True) as member:
                        np.lib.format.write_array(member, np.asarray(value), allow_pickle=False)
        # mkstemp creates the file with mode 0600; give it the mode a plain open() gives.
        os.chmod(temp_name, 0o666 & ~_current_umask())
        os.replace(temp_name, path)
    except OSError as error:
        Path(temp_name).unlink(missing_ok=True)
        raise ConversionError(f"cannot write {path} ({error.strerror or error}); the existing file, if any, is unchanged") from None
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    logger.info("wrote %s", path)


def _member_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
