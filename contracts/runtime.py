"""Shared machinery of the in-memory families (GROUPED, BATCH, RECON, PHYSICS).

These families check arrays that exist only while the pipeline runs: NumPy arrays or
torch tensors passed between stages. Their checks read shapes, dtypes and devices from
the objects themselves, so this module never imports torch. Values are copied to NumPy
only by the checks that need them. Each family runs its rules on a ``RuntimeView``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from contracts.rules import Finding, Violation, rules_of_family, run_rules

logger = logging.getLogger(__name__)

# torch dtype names (``str(torch.float32)`` minus the prefix) that have a NumPy equivalent.
_TORCH_TO_NUMPY = {
    "float16": "float16",
    "float32": "float32",
    "float64": "float64",
    "complex64": "complex64",
    "complex128": "complex128",
    "int8": "int8",
    "int16": "int16",
    "int32": "int32",
    "int64": "int64",
    "uint8": "uint8",
    "bool": "bool",
}


def is_tensor(value: object) -> bool:
    """Tell whether ``value`` is a torch tensor, without importing torch."""
    return type(value).__module__.startswith("torch") and hasattr(value, "dtype") and hasattr(value, "device")


def dtype_name(value: object) -> str:
    """Return the dtype of an array or tensor as a bare name: ``float32``, ``complex64``."""
    if is_tensor(value):
        return str(value.dtype).removeprefix("torch.")  # type: ignore[attr-defined]
    dtype = np.asarray(value).dtype
    return dtype.newbyteorder("=").name if dtype.names is None else str(dtype)


def numpy_dtype(value: object) -> np.dtype | None:
    """Return the NumPy dtype of an array or tensor; None for a torch dtype NumPy lacks (bfloat16)."""
    if is_tensor(value):
        name = _TORCH_TO_NUMPY.get(dtype_name(value))
        return np.dtype(name) if name is not None else None
    return np.asarray(value).dtype.newbyteorder("=")


def shape_of(value: object) -> tuple[int, ...]:
    return tuple(int(n) for n in getattr(value, "shape", np.shape(value)))


def device_of(value: object) -> str:
    """Return the device of a tensor as a string (``cpu``, ``cuda:0``, ``meta``); NumPy arrays are ``numpy``."""
    if is_tensor(value):
        return str(value.device)  # type: ignore[attr-defined]
    return "numpy"


def to_numpy(value: object) -> np.ndarray:
    """Return the values as a NumPy array, copying a tensor to the CPU (detached) when needed."""
    if is_tensor(value):
        tensor = value.detach()  # type: ignore[attr-defined]
        if str(tensor.device) == "meta":
            raise ValueError("a tensor on the meta device has no values to check")
        return tensor.cpu().resolve_conj().numpy()
    return np.asarray(value)


def is_float(value: object) -> bool:
    dtype = numpy_dtype(value)
    return dtype is not None and dtype.kind == "f"


def is_integer(value: object) -> bool:
    dtype = numpy_dtype(value)
    return dtype is not None and dtype.kind in "iu"


@dataclass
class RuntimeView:
    """The arrays of one stage as the checks of a family see them.

    ``arrays`` maps keys to NumPy arrays or torch tensors; ``params`` contains scalar
    settings that the rules need (the expected device, the gridsize, photon counts).
    ``label`` names the data in violations. ``cache`` lets checks share a result that
    several rules need, such as a recomputed reference.
    """

    arrays: dict[str, Any]
    params: dict[str, Any]
    label: str
    cache: dict[str, Any]

    def __contains__(self, key: str) -> bool:
        return key in self.arrays

    def get(self, key: str) -> Any:
        return self.arrays.get(key)

    def numpy(self, key: str) -> np.ndarray:
        """Return the values of ``key`` as NumPy, converted once per view."""
        cache_key = f"numpy:{key}"
        if cache_key not in self.cache:
            self.cache[cache_key] = to_numpy(self.arrays[key])
        return self.cache[cache_key]


def make_view(arrays: Mapping[str, Any], params: Mapping[str, Any] | None, label: str) -> RuntimeView:
    """Split a family's input into arrays and parameters.

    Entries of ``arrays`` that are plain Python scalars or strings count as parameters,
    so that a rule example (one mapping) can carry both.
    """
    array_entries: dict[str, Any] = {}
    param_entries: dict[str, Any] = dict(params or {})
    for key, value in arrays.items():
        if isinstance(value, (str, int, float, bool)) or value is None:
            param_entries.setdefault(key, value)
        else:
            array_entries[key] = value
    return RuntimeView(arrays=array_entries, params=param_entries, label=label, cache={})


def check_family(family: str, arrays: Mapping[str, Any], params: Mapping[str, Any] | None, source: str) -> list[Violation]:
    """Run every rule of ``family`` on in-memory arrays and return all violations."""
    view = make_view(arrays, params, source)
    violations, _ = run_rules(rules_of_family(family), view, source)
    return violations


def run_family(family: str, view: RuntimeView) -> tuple[list[Violation], int]:
    return run_rules(rules_of_family(family), view, view.label)


def first_index(mask: np.ndarray) -> tuple[int, ...] | None:
    """Return the index of the first True element of ``mask``, or None."""
    hits = np.argwhere(mask)
    if hits.size == 0:
        return None
    return tuple(int(i) for i in hits[0])


def nonfinite_finding(view: RuntimeView, key: str, fix: str) -> list[Finding]:
    """Report NaN or infinite values of ``key`` (either part of a complex value)."""
    if key not in view:
        return []
    values = view.numpy(key)
    if values.dtype.kind not in "fc":
        return []
    bad = ~np.isfinite(values)
    count = int(bad.sum())
    if count == 0:
        return []
    return [
        Finding(
            key=key,
            seen=f"{count} of {values.size} values are NaN or infinite",
            expected="finite values only",
            fix=fix,
            index=first_index(bad),
        )
    ]


def replace(arrays: Mapping[str, Any], key: str, value: Any) -> dict[str, Any]:
    changed = dict(arrays)
    changed[key] = value
    return changed


def without(arrays: Mapping[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in arrays.items() if k != key}
