"""Header-first reading of HDF5 product files: links, attributes and chunked dataset values.

``open_product`` opens a file read-only and builds a ``ProductView``: the root
attributes (strings decoded whether stored as variable- or fixed-length), every root
dataset's dtype, shape and attributes, and every external or dangling soft link found
anywhere in the file. External links are recorded and never followed. Dataset values are
read only through ``H5ArraySource.chunks``, in slabs of bounded size. A file that
h5py cannot open (not HDF5, empty, truncated) raises ``InputError``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

import h5py
import numpy as np

from contracts.arrays import CHUNK_BYTES, DatasetView, element_count
from contracts.errors import InputError

logger = logging.getLogger(__name__)

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# The HDF5 superblock sits at byte 0 or, after a user block, at 512, 1024, 2048, ...
_FIRST_USER_BLOCK_OFFSET = 512
# Group nesting deeper than this is not searched for links.
_MAX_LINK_DEPTH = 16

AttributeKind = Literal["string", "integer", "float", "bool", "other"]


@dataclass(frozen=True)
class AttributeValue:
    """One HDF5 attribute as read.

    ``kind`` classifies a scalar value: ``"string"`` (``text`` then contains it, decoded
    from bytes when stored fixed-length), ``"integer"``, ``"float"``, ``"bool"`` (an HDF5
    enum that h5py maps to numpy.bool_) or ``"other"`` (arrays, complex numbers, empty
    values, bytes that are not UTF-8). ``number`` is the value of an integer or float.
    """

    name: str
    kind: AttributeKind
    description: str
    text: str | None = None
    number: float | None = None
    flag: bool | None = None
    stored_as: str = ""
    array: np.ndarray | None = None


@dataclass(frozen=True)
class LinkRecord:
    """An external link, or a soft link whose target does not exist.

    ``path`` is the link's own path in the file; ``target_file`` is None for soft links.
    """

    path: str
    kind: Literal["external", "dangling soft"]
    target_file: str | None
    target_path: str


class H5ArraySource:
    """An ``ArraySource`` over one HDF5 dataset; values come in C order, in bounded slabs."""

    order: Literal["C", "F"] = "C"

    def __init__(self, key: str, dataset: h5py.Dataset, label: str) -> None:
        self.key = key
        self.dataset = dataset
        self.label = label
        self.dtype = dataset.dtype
        self.shape = tuple(int(n) for n in dataset.shape)

    def chunks(self, chunk_bytes: int = CHUNK_BYTES) -> Iterator[tuple[int, np.ndarray]]:
        if self.dtype.hasobject:
            raise ValueError(f"{self.key} contains variable-length values, which are not scanned")
        if element_count(self.shape) == 0:
            return
        if not self.shape:
            yield 0, self._read(()).reshape(1)
            return
        yield from self._slabs(chunk_bytes)

    def load(self) -> np.ndarray:
        return self._read(())

    def _slabs(self, chunk_bytes: int) -> Iterator[tuple[int, np.ndarray]]:
        # Cut along the outermost axis whose full extent no longer fits in one chunk,
        # iterating over every index of the axes before it.
        itemsize = max(1, self.dtype.itemsize)
        shape = self.shape
        cut_axis = 0
        row_elements = element_count(shape[1:])
        for axis in range(len(shape) - 1, -1, -1):
            row_elements = element_count(shape[axis + 1 :])
            if row_elements * shape[axis] * itemsize > chunk_bytes:
                cut_axis = axis
                break
        else:
            yield 0, self._read(()).reshape(-1)
            return
        block = max(1, chunk_bytes // (row_elements * itemsize))
        for outer in np.ndindex(*shape[:cut_axis]):
            for start in range(0, shape[cut_axis], block):
                stop = min(start + block, shape[cut_axis])
                selection = tuple(outer) + (slice(start, stop),)
                flat_start = int(np.ravel_multi_index(tuple(outer) + (start,), shape[: cut_axis + 1])) * row_elements
                yield flat_start, self._read(selection).reshape(-1)

    def _read(self, selection: tuple[Any, ...]) -> np.ndarray:
        try:
            return np.asarray(self.dataset[selection])
        except OSError as error:
            raise InputError(
                f"{self.label}: cannot read dataset {self.key!r} ({error}); the file is truncated or corrupt"
            ) from None


@dataclass(frozen=True)
class DatasetInfo:
    """A root dataset: its values as an array source and its attributes."""

    source: H5ArraySource
    attributes: Mapping[str, AttributeValue]


class ProductView:
    """One product file as the PRODUCT checks see it.

    ``attributes`` are the root attributes. ``datasets`` are the root members that are
    datasets (hard or resolvable soft links) and ``groups`` the names of root groups.
    ``links`` lists every external or dangling soft link in the file, and
    ``linked_names`` the root names that are such links. ``profile`` is the profile the checks apply; it is
    set by ``contracts.product.validate`` before the rules run.
    """

    def __init__(
        self,
        label: str,
        attributes: Mapping[str, AttributeValue],
        datasets: Mapping[str, DatasetInfo],
        groups: frozenset[str],
        links: tuple[LinkRecord, ...],
    ) -> None:
        self.label = label
        self.attributes = dict(attributes)
        self.datasets = dict(datasets)
        self.groups = groups
        self.links = links
        self.linked_names = frozenset(link.path.lstrip("/") for link in links if link.path.count("/") == 1)
        self.arrays = DatasetView({name: info.source for name, info in self.datasets.items()}, label)
        self.profile = "written"
        self.detected_from = ""

    def has_member(self, name: str) -> bool:
        return name in self.datasets or name in self.groups or name in self.linked_names

    def dataset_attributes(self, name: str) -> Mapping[str, AttributeValue]:
        info = self.datasets.get(name)
        return {} if info is None else info.attributes


def has_hdf5_signature(path: str | os.PathLike[str]) -> bool:
    """Return True when the file carries the HDF5 format signature (at 0, 512, 1024, ...)."""
    try:
        with open(path, "rb") as stream:
            return _signature_at_known_offsets(stream)
    except OSError:
        return False


def _signature_at_known_offsets(stream: IO[bytes]) -> bool:
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    offset = 0
    while offset + len(HDF5_SIGNATURE) <= size:
        stream.seek(offset)
        if stream.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE:
            return True
        offset = _FIRST_USER_BLOCK_OFFSET if offset == 0 else offset * 2
    return False


@contextmanager
def open_product(path: str | os.PathLike[str]) -> Iterator[ProductView]:
    """Open an HDF5 product file read-only and yield its ``ProductView``.

    Raises:
        InputError: the file is missing, empty, a directory, or not a readable HDF5 file.
    """
    path = Path(path)
    _check_readable(path)
    try:
        h5_file = h5py.File(path, "r")
    except OSError as error:
        raise InputError(
            f"{path}: not a readable HDF5 file ({_first_line(error)}); the file is not HDF5 or is truncated"
        ) from None
    with h5_file:
        yield read_view(h5_file, str(path))


def read_view(h5_file: h5py.File, label: str) -> ProductView:
    """Build the ``ProductView`` of an open file: metadata only, no dataset values."""
    try:
        attributes = read_attributes(h5_file.attrs)
        datasets: dict[str, DatasetInfo] = {}
        groups: set[str] = set()
        for name in h5_file:
            link = h5_file.get(name, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                continue
            member = h5_file.get(name)
            if isinstance(member, h5py.Dataset):
                datasets[name] = DatasetInfo(H5ArraySource(name, member, label), read_attributes(member.attrs))
            elif isinstance(member, h5py.Group):
                groups.add(name)
        links = tuple(find_links(h5_file))
    except (OSError, RuntimeError) as error:
        raise InputError(f"{label}: cannot read the HDF5 metadata ({_first_line(error)}); the file is corrupt") from None
    return ProductView(label, attributes, datasets, frozenset(groups), links)


def read_attributes(attrs: h5py.AttributeManager) -> dict[str, AttributeValue]:
    values = {}
    for name in attrs:
        try:
            raw = attrs[name]
        except (OSError, TypeError, ValueError) as error:
            values[name] = AttributeValue(name, "other", f"an attribute h5py cannot read ({_first_line(error)})")
            continue
        values[name] = classify_attribute(name, raw)
    return values


def classify_attribute(name: str, raw: Any) -> AttributeValue:
    """Classify one attribute value as returned by h5py."""
    if isinstance(raw, h5py.Empty):
        return AttributeValue(name, "other", "an empty (null dataspace) attribute")
    if isinstance(raw, str):
        return AttributeValue(name, "string", f"string {raw!r}", text=raw, stored_as="variable-length string")
    if isinstance(raw, (bytes, np.bytes_)):
        try:
            text = bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            return AttributeValue(name, "other", f"bytes {bytes(raw)[:32]!r} that are not UTF-8 text")
        return AttributeValue(name, "string", f"string {text!r}", text=text, stored_as="fixed-length string")
    array = np.asarray(raw)
    if array.ndim != 0:
        return AttributeValue(
            name, "other", f"an array of shape {array.shape} and dtype {array.dtype}", array=array
        )
    value = array[()]
    kind = array.dtype.kind
    if kind == "b":
        return AttributeValue(name, "bool", f"boolean {bool(value)}", flag=bool(value), stored_as="bool")
    if kind in "iu":
        return AttributeValue(name, "integer", f"{array.dtype.name} {int(value)}", number=float(value), stored_as=array.dtype.name)
    if kind == "f":
        return AttributeValue(name, "float", f"{array.dtype.name} {float(value):.6g}", number=float(value), stored_as=array.dtype.name)
    if kind == "O" and isinstance(value, (str, bytes)):
        return classify_attribute(name, value)
    return AttributeValue(name, "other", f"a {array.dtype} value {value!r:.60}")


def find_links(group: h5py.Group, depth: int = 0) -> Iterator[LinkRecord]:
    """Yield every external link and dangling soft link under ``group``, following neither."""
    for name in group:
        link = group.get(name, getlink=True)
        path = f"{group.name.rstrip('/')}/{name}"
        if isinstance(link, h5py.ExternalLink):
            yield LinkRecord(path, "external", link.filename, link.path)
        elif isinstance(link, h5py.SoftLink):
            if group.get(link.path, getlink=True) is None or group.get(name) is None:
                yield LinkRecord(path, "dangling soft", None, link.path)
        elif depth < _MAX_LINK_DEPTH:
            member = group.get(name)
            if isinstance(member, h5py.Group):
                yield from find_links(member, depth + 1)


def _check_readable(path: Path) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except OSError as error:
        raise InputError(f"{path}: cannot read the file ({error.strerror or error})") from None
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected an HDF5 product file")
    if size == 0:
        raise InputError(f"{path}: the file is empty (0 bytes), expected an HDF5 product file")


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]
