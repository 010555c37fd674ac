"""Array sources and bounded-memory value statistics shared by file and in-memory checks.

An ``ArraySource`` exposes an array's dtype and shape and yields its values as flat
chunks in storage order. Finiteness, range and integrality are then computed chunk by
chunk, whether the values come from a NumPy array, an uncompressed NPZ member or a
compressed stream.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

logger = logging.getLogger(__name__)

# Values are processed in chunks of about this many bytes. The size keeps per-chunk
# overhead small and peak memory flat as files grow. It also lets the min and max passes
# over one chunk mostly hit the CPU cache.
CHUNK_BYTES = 4 * 2**20
# Integrality is first tested on this many leading values of a chunk. Amplitude data
# fails there at once, so the full-chunk test runs only on integer-like data.
_INTEGRALITY_SAMPLE = 4096
# Kinds of dtype whose values the checks read: bool, signed, unsigned, float, complex.
NUMERIC_KINDS = frozenset("biufc")


class ArraySource(Protocol):
    """Metadata of one array and chunked access to its values.

    ``order`` is the storage order of the flat values yielded by ``chunks``: ``"C"``
    or ``"F"`` (Fortran). A flat position converts to an array index with ``unravel``.
    """

    key: str
    dtype: np.dtype
    shape: tuple[int, ...]
    order: Literal["C", "F"]

    def chunks(self, chunk_bytes: int = CHUNK_BYTES) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(flat_start, values)`` pairs, ``values`` 1-D, covering the array once.

        A chunk may be overwritten when the next one is requested; copy what you keep.
        """
        ...

    def load(self) -> np.ndarray:
        """Return the whole array; meant for small arrays such as scan coordinates."""
        ...


def element_count(shape: tuple[int, ...]) -> int:
    count = 1
    for extent in shape:
        count *= int(extent)
    return count


def unravel(source: ArraySource, flat: int) -> tuple[int, ...]:
    """Convert a flat storage position of ``source`` into its array index."""
    if not source.shape:
        return ()
    return tuple(int(i) for i in np.unravel_index(flat, source.shape, order=source.order))


class MemoryArraySource:
    """An ``ArraySource`` over an in-memory array; chunks are slabs along axis 0."""

    order: Literal["C", "F"] = "C"

    def __init__(self, key: str, array: np.ndarray) -> None:
        self.key = key
        self.array = array
        self.dtype = array.dtype
        self.shape = tuple(int(n) for n in array.shape)

    def chunks(self, chunk_bytes: int = CHUNK_BYTES) -> Iterator[tuple[int, np.ndarray]]:
        array = self.array
        if array.ndim == 0:
            yield 0, array.reshape(1)
            return
        row_size = element_count(self.shape[1:])
        rows_per_chunk = max(1, chunk_bytes // max(1, row_size * array.dtype.itemsize))
        for start in range(0, self.shape[0], rows_per_chunk):
            # reshape copies only the slab, and only when the array is not C-contiguous.
            yield start * row_size, array[start : start + rows_per_chunk].reshape(-1)

    def load(self) -> np.ndarray:
        return self.array


@dataclass(frozen=True)
class ValueStats:
    """Statistics of a numeric array, computed in one chunked pass.

    ``min`` and ``max`` cover the finite values only and are None when there are none
    or the array is complex. For complex arrays an element counts as non-finite when
    its real or imaginary part is. ``all_integral`` is True when every finite value is
    a whole number (always True for integer and bool arrays).
    """

    size: int
    nonfinite_count: int
    first_nonfinite: tuple[int, ...] | None
    min: float | None
    max: float | None
    negative_count: int
    first_negative: tuple[int, ...] | None
    all_integral: bool


def compute_stats(source: ArraySource, chunk_bytes: int = CHUNK_BYTES) -> ValueStats | None:
    """Scan ``source`` once in chunks; return None for non-numeric dtypes."""
    kind = source.dtype.kind
    if kind not in NUMERIC_KINDS:
        return None
    accumulator = _StatsAccumulator(source)
    for flat_start, values in source.chunks(chunk_bytes):
        if kind == "c":
            accumulator.add_complex(flat_start, values)
        elif kind == "f":
            accumulator.add_float(flat_start, values)
        else:
            accumulator.add_integer(flat_start, values)
    return accumulator.result()


def find_first(
    source: ArraySource,
    predicate: Callable[[np.ndarray], np.ndarray],
    chunk_bytes: int = CHUNK_BYTES,
) -> tuple[int, ...] | None:
    """Return the index of the first element for which ``predicate`` is True, if any."""
    for flat_start, values in source.chunks(chunk_bytes):
        hits = np.flatnonzero(predicate(values))
        if hits.size:
            return unravel(source, flat_start + int(hits[0]))
    return None


class _StatsAccumulator:
    def __init__(self, source: ArraySource) -> None:
        self.source = source
        self.nonfinite_count = 0
        self.first_nonfinite: tuple[int, ...] | None = None
        self.min: float | None = None
        self.max: float | None = None
        self.negative_count = 0
        self.first_negative: tuple[int, ...] | None = None
        self.all_integral = True

    def add_complex(self, flat_start: int, values: np.ndarray) -> None:
        if values.size == 0:
            return
        components = values.view(np.empty(0, dtype=values.dtype).real.dtype)
        low = components.min()
        high = components.max()
        if np.isfinite(low) and np.isfinite(high):
            return
        bad_elements = ~np.isfinite(components).reshape(-1, 2).all(axis=1)
        self._note_nonfinite(flat_start, bad_elements)

    def add_float(self, flat_start: int, values: np.ndarray) -> None:
        if values.size == 0:
            return
        low = values.min()
        high = values.max()
        # NaN propagates through min and max, so two finite extremes mean all values are finite.
        if not (np.isfinite(low) and np.isfinite(high)):
            finite = np.isfinite(values)
            self._note_nonfinite(flat_start, ~finite)
            values = values[finite]
            flat_positions = np.flatnonzero(finite)
            if values.size == 0:
                return
            low = values.min()
            high = values.max()
        else:
            flat_positions = None
        self._note_range(float(low), float(high))
        if low < 0:
            negative = np.flatnonzero(values < 0)
            if flat_positions is not None:
                negative = flat_positions[negative]
            self._note_negative(flat_start, negative)
        if self.all_integral:
            self.all_integral = _is_integral(values)

    def add_integer(self, flat_start: int, values: np.ndarray) -> None:
        if values.size == 0:
            return
        low = values.min()
        high = values.max()
        self._note_range(float(low), float(high))
        if low < 0:
            self._note_negative(flat_start, np.flatnonzero(values < 0))

    def _note_nonfinite(self, flat_start: int, bad: np.ndarray) -> None:
        positions = np.flatnonzero(bad)
        if positions.size == 0:
            return
        if self.first_nonfinite is None:
            self.first_nonfinite = unravel(self.source, flat_start + int(positions[0]))
        self.nonfinite_count += int(positions.size)

    def _note_negative(self, flat_start: int, positions: np.ndarray) -> None:
        if positions.size == 0:
            return
        if self.first_negative is None:
            self.first_negative = unravel(self.source, flat_start + int(positions[0]))
        self.negative_count += int(positions.size)

    def _note_range(self, low: float, high: float) -> None:
        self.min = low if self.min is None else min(self.min, low)
        self.max = high if self.max is None else max(self.max, high)

    def result(self) -> ValueStats:
        complex_kind = self.source.dtype.kind == "c"
        return ValueStats(
            size=element_count(self.source.shape),
            nonfinite_count=self.nonfinite_count,
            first_nonfinite=self.first_nonfinite,
            min=None if complex_kind else self.min,
            max=None if complex_kind else self.max,
            negative_count=0 if complex_kind else self.negative_count,
            first_negative=None if complex_kind else self.first_negative,
            all_integral=False if complex_kind else self.all_integral,
        )


def _is_integral(values: np.ndarray) -> bool:
    sample = values[:_INTEGRALITY_SAMPLE]
    if not np.array_equal(sample, np.floor(sample)):
        return False
    return bool(np.array_equal(values, np.floor(values)))


class DatasetView:
    """The arrays of one dataset as the checks see them, with statistics cached per key.

    ``label`` names the dataset in violations (a file path or ``"<memory>"``).
    """

    def __init__(self, sources: Mapping[str, ArraySource], label: str) -> None:
        self.sources = dict(sources)
        self.label = label
        self._stats: dict[str, ValueStats | None] = {}

    def __contains__(self, key: str) -> bool:
        return key in self.sources

    def get(self, key: str) -> ArraySource | None:
        return self.sources.get(key)

    def stats(self, key: str) -> ValueStats | None:
        """Return the value statistics of ``key``, or None when absent or not numeric."""
        source = self.sources.get(key)
        if source is None or source.dtype.hasobject:
            return None
        if key not in self._stats:
            logger.debug("scanning values of %s in %s", key, self.label)
            self._stats[key] = compute_stats(source)
        return self._stats[key]
