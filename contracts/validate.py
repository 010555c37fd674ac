"""Validate files against the contracts and collect every violation in a ``FileReport``."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


from contracts import dataset, raw
from contracts.arrays import DatasetView
from contracts.errors import InputError
from contracts.npz import NpzArchive
from contracts import product
from contracts.product import npz as product_npz
from contracts.rules import Severity, Violation, count_by_severity, rules_of_family, run_rules

logger = logging.getLogger(__name__)

# Contract names accepted by ``validate_file`` (and ``--contract``) and their rule family.
CONTRACTS: dict[str, str] = {"dataset": dataset.FAMILY, "raw": raw.FAMILY}
CONTRACTS["product"] = product.FAMILY


@dataclass(frozen=True)
class FileReport:
    """The result of validating one file: every violation and how many rules ran."""

    path: str
    family: str
    violations: tuple[Violation, ...]
    rules_checked: int
    # The PRODUCT profile the file was checked against ("written" or "ptychodus").
    profile: str | None = None

    @property
    def errors(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.severity is Severity.WARNING)

    @property
    def ok(self) -> bool:
        """True when no error-severity violation was found; warnings do not count."""
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        counts = count_by_severity(self.violations)
        return {
            "path": self.path,
            "family": self.family,
            "ok": self.ok,
            "rules_checked": self.rules_checked,
            **({"profile": self.profile} if self.profile is not None else {}),
            "errors": counts[Severity.ERROR],
            "warnings": counts[Severity.WARNING],
            "violations": [v.to_dict() for v in self.violations],
        }


@dataclass(frozen=True)
class UnreadableFile:
    """A file that could not be read at all, with the reason as a plain sentence."""

    path: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "error": self.message}


def validate_file(
    path: str | os.PathLike[str], contract: str | None = None, profile: str | None = None
) -> FileReport:
    """Check one file against a contract and return every violation found.

    ``contract`` names the contract (see ``CONTRACTS``); None chooses it from the
    file's content: an HDF5 file is a PRODUCT, an NPZ is judged by its keys.
    ``profile`` forces a PRODUCT profile ("written" or "ptychodus") and is ignored for
    other families. Headers are read first; values are scanned in bounded-memory
    chunks and object arrays are never loaded.

    Raises:
        InputError: the file cannot be read (missing, empty, not an NPZ, truncated,
            corrupt header, data shorter than its header declares). Also raised for a
            format that no contract covers: a bare ``.npy`` array, a MATLAB MAT-file, a
            compressed file, a CXI file (with its near-field or far-field verdict) or, unless
            ``contract`` is given, a Ptychodus NPZ product.
        ValueError: ``contract`` is not a known contract name, or ``profile`` not a
            known profile.
    """
    path = Path(path)
    family = _choose_family(path, contract)
    _reject_other_formats(path)
    # --- PRODUCT: HDF5 product files, by signature or by --contract product ---
    if family is None and product.has_hdf5_signature(path):
        _reject_cxi(path)
    if family == product.FAMILY or (family is None and product.has_hdf5_signature(path)):
        return _validate_product(path, profile)
    # --- end PRODUCT ---
    with NpzArchive(path) as archive:
        view = DatasetView({key: archive.source(key) for key in archive.members}, str(path))
        if family is None:
            _reject_npz_product(path, list(archive.members))
            family = _detect_npz_family(path, view)
        violations, rules_checked = run_rules(rules_of_family(family), view, str(path))
    report = FileReport(path=str(path), family=family, violations=tuple(violations), rules_checked=rules_checked)
    logger.info(
        "%s: %d rules of %s checked, %d errors, %d warnings",
        path, rules_checked, family, len(report.errors), len(report.warnings),
    )
    return report


def _choose_family(path: Path, contract: str | None) -> str | None:
    """Return the family that ``contract`` names, or None when the content decides."""
    if contract is None:
        return None
    try:
        return CONTRACTS[contract.lower()]
    except KeyError:
        known = ", ".join(sorted(CONTRACTS))
        raise ValueError(f"unknown contract {contract!r}; expected one of: {known}") from None


# --- Formats without a contract: recognised by their first bytes, rejected with a plain message ---

_NPY_MAGIC = b"\x93NUMPY"
_MATLAB_PREFIX = b"MATLAB "
# Signatures of whole-file compressors: bzip2, gzip and xz.
_COMPRESSED = {b"BZh": "bzip2", b"\x1f\x8b": "gzip", b"\xfd7zXZ\x00": "xz"}
# convert decompresses bzip2 only; the others need the user's tool first.
_DECOMPRESS_COMMANDS = {"gzip": "gunzip -k", "xz": "xz -dk"}


def _reject_other_formats(path: Path) -> None:
    """Raise InputError for a bare .npy array, a MAT-file or a compressed file, naming the fix."""
    try:
        with open(path, "rb") as stream:
            head = stream.read(128)
    except OSError:
        return  # the NPZ reader reports missing and unreadable files
    if head.startswith(_NPY_MAGIC):
        raise InputError(_bare_npy_message(path))
    if head.startswith(_MATLAB_PREFIX):
        version = head[len(_MATLAB_PREFIX) : len(_MATLAB_PREFIX) + 3].decode("ascii", "replace")
        raise InputError(
            f"{path}: a MATLAB {version} MAT-file, which is not supported: the contracts cover NPZ datasets "
            "and HDF5 product files, and a MAT-file's variables have no agreed names or units. Export the "
            "arrays to an NPZ (diffraction, probeGuess, xcoords, ycoords; for example with scipy.io.loadmat "
            "and np.savez), then validate that"
        )
    for signature, name in _COMPRESSED.items():
        if not head.startswith(signature):
            continue
        if name == "bzip2":
            fix = (
                "Run `ptycho-harness convert IN OUT`, which decompresses into a temporary folder and writes a "
                "canonical dataset, or decompress it first and validate the result"
            )
        else:
            fix = f"Decompress it first ({_DECOMPRESS_COMMANDS[name]} IN), then validate or convert the result"
        raise InputError(f"{path}: a {name}-compressed file; validate reads uncompressed NPZ and HDF5 files. {fix}")


def _bare_npy_message(path: Path) -> str:
    from numpy.lib import format as npy_format

    described = "a bare .npy array"
    try:
        with open(path, "rb") as stream:
            version = npy_format.read_magic(stream)
            reader = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
            shape, _, dtype = reader(stream)
        described = f"a bare .npy array ({dtype}, shape {shape})"
    except (ValueError, OSError):
        pass
    return (
        f"{path}: not an NPZ dataset: {described} has no keys, so it cannot say which array is the "
        "diffraction, the probe or the positions. Save it with its companions into an NPZ: "
        "np.savez(OUT, diffraction=..., probeGuess=..., xcoords=..., ycoords=...), converting counts to "
        "amplitudes (or run `ptycho-harness convert` on an NPZ with the legacy key diff3d)"
    )


def _reject_cxi(path: Path) -> None:
    """Raise InputError for a CXI file: the near-field reason when it is near-field, else the convert command."""
    from contracts.convert import cxi

    try:
        kind = cxi.read_cxi_kind(path)
        verdict = cxi.read_cxi_verdict(path) if kind is not None else None
    except OSError:
        return  # the product reader reports unreadable HDF5 files
    if verdict is None:
        return
    if verdict.near_field:
        raise InputError(f"{verdict.message}. validate rejects it because no contract covers near-field data")
    if kind == cxi.CXI_PRODUCT:
        raise InputError(
            f"{path}: a CXI product (probe image, object image and positions in metres, no diffraction), as "
            "Ptychodus's CXI product writer stores it, not a dataset. Run `ptycho-harness convert IN OUT --from "
            "product` to import it, then `ptycho-harness simulate OUT DATA --nphotons P --seed S` to make a dataset"
        )
    if kind == cxi.CXI_PATTERNS_ONLY:
        raise InputError(
            f"{path}: a CXI file with diffraction patterns but no sample translations, as Ptychodus's CXI "
            "diffraction writer stores it, not a dataset. Add the positions in metres as an (n, 3) dataset at "
            f"{cxi.TRANSLATION_PATHS[0]}, then run `ptycho-harness convert IN OUT --from cxi`"
        )
    raise InputError(
        f"{path}: a CXI file, not a product file or NPZ dataset ({verdict.message.removeprefix(f'{path}: ')}). "
        "Run `ptycho-harness convert IN OUT --from cxi` to import the far-field scan as a canonical dataset, "
        "then validate OUT"
    )


def _reject_npz_product(path: Path, keys: list[str]) -> None:
    """Raise InputError for a Ptychodus NPZ product, naming the command that imports it."""
    if not product_npz.is_npz_product(keys):
        return
    raise InputError(
        f"{path}: a Ptychodus NPZ product (probe, object and positions in metres, no diffraction), not a "
        f"dataset: it has {product_npz.describe_npz_product(keys)}. Run `ptycho-harness convert IN OUT "
        "--from product` to import it, then `ptycho-harness simulate OUT DATA --nphotons P --seed S` to make "
        "a dataset"
    )


# --- end of formats without a contract ---------------------------------------------


# --- RAW: choosing between the canonical and the raw NPZ layout by content ---------


def _detect_npz_family(path: Path, view: DatasetView) -> str:
    """Judge an NPZ as RAW when its headers show a raw-layout trait, else as DATASET."""
    traits = raw.raw_traits(view)
    if traits:
        logger.info("%s: checking against the raw contract because of: %s", path, "; ".join(traits))
        return raw.FAMILY
    logger.info("%s: checking against the dataset contract (no raw-layout trait found)", path)
    return dataset.FAMILY


# --- end RAW ---------------------------------------------------------------------


# --- PRODUCT: HDF5 product files -----------------------------------------------------


def _validate_product(path: Path, profile: str | None) -> FileReport:
    result = product.check_product_file(path, profile)
    report = FileReport(
        path=str(path),
        family=product.FAMILY,
        violations=result.violations,
        rules_checked=result.rules_checked,
        profile=result.profile,
    )
    logger.info(
        "%s: %d rules of %s (%s profile) checked, %d errors, %d warnings",
        path, result.rules_checked, product.FAMILY, result.profile, len(report.errors), len(report.warnings),
    )
    return report


# --- end PRODUCT ---------------------------------------------------------------------


__all__ = ["CONTRACTS", "FileReport", "InputError", "UnreadableFile", "validate_file"]
