"""Convert raw, legacy, tike and CXI scans and Ptychodus products into canonical NPZ datasets.

``convert_file`` decompresses a ``.bz2`` input to a temporary folder and imports the
file with the importer of its layout. It then casts every array to its canonical dtype,
measuring the precision lost, and records the changes and the normalization in
``metadata_json``. Last, it writes the output atomically and validates it. A product
has no diffraction, so its output still needs ``ptycho-harness simulate``.
"""

from __future__ import annotations

import bz2
import contextlib
import hashlib
import json
import logging
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from contracts.convert.common import (
    ConversionError,
    ConvertOptions,
    ImportedScan,
    PrecisionLoss,
    downcast,
)
from contracts.convert.cxi import import_cxi, is_hdf5
from contracts.convert.legacy import import_legacy
from contracts.convert.product import SIMULATE_COMMAND, import_product, is_product_layout
from contracts.convert.tike import import_tike, is_tike_layout
from contracts.convert.writer import check_output_path, write_npz_atomic
from contracts.product.npz import is_npz_product
from contracts.dataset import DIFFRACTION, OBJECT, PATCHES, PROBE, XCOORDS, YCOORDS
from contracts.errors import InputError
from contracts.npz import NpzArchive
from contracts.validate import FileReport, validate_file

logger = logging.getLogger(__name__)

IMPORTERS: dict[str, Callable[[Path, ConvertOptions], ImportedScan]] = {
    "legacy": import_legacy,
    "tike": import_tike,
    "cxi": import_cxi,
    "product": import_product,
}
# Formats whose output has no diffraction and is finished by ``ptycho-harness simulate``.
NEEDS_SIMULATION = frozenset({"product"})
SOURCE_FORMATS = tuple(IMPORTERS)
# Canonical dtype of each key the conversion casts; other keys are written unchanged.
CANONICAL_DTYPES = {
    DIFFRACTION: np.dtype(np.float32),
    PROBE: np.dtype(np.complex64),
    OBJECT: np.dtype(np.complex64),
    PATCHES: np.dtype(np.complex64),
    XCOORDS: np.dtype(np.float64),
    YCOORDS: np.dtype(np.float64),
}
METADATA = "metadata_json"
_BZIP2_MAGIC = b"BZh"
_ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class ConversionResult:
    """Record of one conversion: the changes, the precision lost, and the output's validation."""

    source: Path
    output: Path
    source_format: str
    changes: tuple[str, ...]
    precision_losses: tuple[PrecisionLoss, ...]
    diffraction_normalization: float | None
    report: FileReport

    @property
    def ok(self) -> bool:
        """True when the output has no error-severity violation; warnings do not count."""
        return self.report.ok

    @property
    def simulate_command(self) -> str | None:
        """The command that adds diffraction to an output without it, or None for a complete dataset."""
        if self.source_format not in NEEDS_SIMULATION:
            return None
        return SIMULATE_COMMAND.format(output=self.output)

    @property
    def ready_for_simulation(self) -> bool:
        """True when simulation is the next step and the missing diffraction is the only error."""
        if self.simulate_command is None:
            return False
        return all(v.rule_id == "DATASET-001" and v.key == DIFFRACTION for v in self.report.errors)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": str(self.source),
            "output": str(self.output),
            "source_format": self.source_format,
            "changes": list(self.changes),
            "precision_losses": [loss.to_dict() for loss in self.precision_losses],
            "diffraction_normalization": self.diffraction_normalization,
            "ok": self.ok,
            "simulate_command": self.simulate_command,
            "ready_for_simulation": self.ready_for_simulation,
            "validation": self.report.to_dict(),
        }


def convert_file(source: str | Path, output: str | Path, options: ConvertOptions | None = None) -> ConversionResult:
    """Convert ``source`` into a canonical NPZ at ``output`` and validate the result.

    The output is written even when it still violates the contract, and then
    ``result.ok`` is False and ``result.report`` lists the violations. The input is
    never written.

    Raises:
        ConversionError: the input cannot be read or its layout is rejected, the output
            is the input or exists without ``options.force``, or the write fails.
    """
    options = options or ConvertOptions()
    source = Path(source)
    output = Path(output)
    if not source.is_file():
        raise ConversionError(f"{source}: file not found" if not source.exists() else f"{source}: not a file")
    check_output_path(source, output, options.force)

    with _readable_copy(source) as readable:
        source_format = options.source_format or detect_format(readable)
        if source_format not in IMPORTERS:
            raise ConversionError(f"unknown input format {source_format!r}; expected one of {list(SOURCE_FORMATS)}")
        logger.info("%s: converting from the %s layout", source, source_format)
        imported = IMPORTERS[source_format](readable, options)

    arrays, losses, cast_changes = cast_to_canonical(imported.arrays)
    changes = imported.changes + tuple(cast_changes)
    metadata = _metadata(source, source_format, imported, changes, losses)
    arrays[METADATA] = np.array(json.dumps(metadata, sort_keys=True))
    write_npz_atomic(output, arrays)
    report = validate_file(output, contract="dataset")
    return ConversionResult(
        source=source,
        output=output,
        source_format=source_format,
        changes=changes,
        precision_losses=tuple(losses),
        diffraction_normalization=imported.diffraction_normalization,
        report=report,
    )


def detect_format(path: Path) -> str:
    """Return the input layout by content.

    An HDF5 file with the root datasets of a product, or a CXI file with probe and object
    images and no patterns, is ``product``. Any other HDF5 file is ``cxi``. An NPZ with the keys of Ptychodus's NPZ product is ``product``, one with
    data/probe/scan ``tike``, any other NPZ ``legacy``.

    Raises:
        ConversionError: the file is neither HDF5 nor a zip archive.
    """
    if is_hdf5(path):
        return "product" if _has_product_names(path) or _is_cxi_product(path) else "cxi"
    with open(path, "rb") as stream:
        magic = stream.read(len(_ZIP_MAGIC))
    if magic != _ZIP_MAGIC:
        raise ConversionError(
            f"{path}: not an NPZ, bzip2-compressed NPZ or CXI (HDF5) file (first bytes {magic!r}); "
            "pass --from if the layout is known"
        )
    try:
        with NpzArchive(path) as archive:
            keys = set(archive.members)
    except InputError as error:
        raise ConversionError(str(error)) from None
    if is_npz_product(keys):
        source_format = "product"
    elif is_tike_layout(keys):
        source_format = "tike"
    else:
        source_format = "legacy"
    logger.info("%s: detected the %s layout from its keys %s", path, source_format, sorted(keys))
    return source_format


def cast_to_canonical(arrays: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], list[PrecisionLoss], list[str]]:
    """Cast each canonical key to its dtype; return the arrays, the losses and the changes."""
    cast_arrays: dict[str, np.ndarray] = {}
    losses: list[PrecisionLoss] = []
    changes: list[str] = []
    for key, values in arrays.items():
        target = CANONICAL_DTYPES.get(key)
        if target is None or values.dtype.hasobject:
            cast_arrays[key] = values
            continue
        if values.dtype.kind not in "biufc" or (target.kind == "f" and values.dtype.kind == "c"):
            # Left for validation to report; a cast here would silently drop data.
            cast_arrays[key] = values
            continue
        cast, loss = downcast(key, values, target)
        cast_arrays[key] = cast
        if loss is not None:
            losses.append(loss)
            changes.append(f"{key}: cast {loss.from_dtype} -> {loss.to_dtype}")
        elif values.dtype.newbyteorder("=") != target:
            changes.append(f"{key}: cast {values.dtype.name} -> {target.name} (exact)")
    return cast_arrays, losses, changes


def _has_product_names(path: Path) -> bool:
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            names = set(handle.keys())
    except OSError:
        return False
    return is_product_layout(names)


def _is_cxi_product(path: Path) -> bool:
    from contracts.convert.cxi import CXI_PRODUCT, read_cxi_kind

    try:
        return read_cxi_kind(path) == CXI_PRODUCT
    except OSError:
        return False


@contextlib.contextmanager
def _readable_copy(source: Path) -> Iterator[Path]:
    """Yield ``source``, or a decompressed temporary copy when it is bzip2-compressed."""
    with open(source, "rb") as stream:
        magic = stream.read(len(_BZIP2_MAGIC))
    if magic != _BZIP2_MAGIC:
        yield source
        return
    with tempfile.TemporaryDirectory(prefix="ptycho-convert-") as folder:
        name = source.name[: -len(".bz2")] if source.name.endswith(".bz2") else source.name + ".decompressed"
        target = Path(folder) / name
        try:
            with bz2.open(source, "rb") as compressed, open(target, "wb") as plain:
                shutil.copyfileobj(compressed, plain, length=2**22)
        except (OSError, EOFError) as error:
            raise ConversionError(f"{source}: cannot decompress the bzip2 file ({error})") from None
        logger.info("%s: decompressed to the temporary file %s", source, target)
        yield target


def _metadata(
    source: Path,
    source_format: str,
    imported: ImportedScan,
    changes: tuple[str, ...],
    losses: list[PrecisionLoss],
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "producer": "ptycho-harness convert",
        "source_file": source.name,
        "source_sha256": _sha256(source),
        "source_format": source_format,
        "changes": list(changes),
        "precision_losses": [loss.to_dict() for loss in losses],
        "diffraction_normalization": imported.diffraction_normalization,
    }
    if imported.diffraction_normalization is not None:
        metadata["diffraction_definition"] = (
            "diffraction = f * sqrt(max(counts, 0)) with f = diffraction_normalization, so that the "
            "mean over patterns of sum(diffraction^2) is (N/2)^2"
        )
    metadata.update(imported.metadata)
    return metadata


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


__all__ = [
    "ConversionError",
    "ConversionResult",
    "ConvertOptions",
    "PrecisionLoss",
    "SOURCE_FORMATS",
    "convert_file",
    "detect_format",
]
