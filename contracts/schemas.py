"""pandera schemas of the runtime arrays, and the bridge that turns their failures into findings.

Which rules live where, and why:

- Named axes, fixed axis lengths, dtypes and element-wise value ranges of one array
  (GROUPED layouts and dtypes, BATCH dtypes and layouts, RECON amplitude and phase) are
  pandera ``DataArraySchema`` objects (``pandera.xarray``, pandera 0.35). A rule's check
  validates the part of its key's schema that states the rule, so the schema is the
  single statement of the rule. ``array_schema`` returns the whole schema of a key for
  reuse, and ``schemas_yaml`` its YAML form.
- Relations between arrays (lengths that agree, positions that match neighbour indices,
  a canvas equal to its normalized patch sum, the forward model) are written by hand in
  the family modules, because a schema describes one array at a time.
- Torch tensors are never copied for a dtype or layout check: a zero-stride NumPy array
  of the same dtype and shape replaces them in the check. bfloat16, which NumPy lacks, is
  reported by hand.
- pandera 0.35 has no Hypothesis strategies for xarray schemas (``strategy()`` raises
  ``NotImplementedError``), so the strategies of these families are in
  ``contracts.runtime_strategies``. Table schemas (``contracts.tables``) do have them.
- Finiteness of complex arrays is checked by hand: pandera's comparison checks do not
  order complex values.

``pandera.xarray`` takes about 0.7 s to import, so it is imported on first use; file
validation never imports it.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from contracts.rules import Finding
from contracts.runtime import first_index, numpy_dtype, shape_of, to_numpy

if TYPE_CHECKING:
    from pandera.api.xarray.container import DataArraySchema

logger = logging.getLogger(__name__)

LAYOUT, DTYPE, VALUES = "layout", "dtype", "values"
PARTS = (LAYOUT, DTYPE, VALUES)


@dataclass(frozen=True)
class ArraySpec:
    """The statement of one array's schema: named axes, fixed lengths, dtype and value range.

    ``shape`` gives a length per axis, None where any length is allowed. ``minimum``
    and ``value_range`` bound every element; ``finite`` forbids NaN and infinities.
    """

    family: str
    key: str
    dims: tuple[str, ...]
    shape: tuple[int | None, ...] | None = None
    dtype: str | None = None
    minimum: float | None = None
    value_range: tuple[float, float] | None = None
    finite: bool = False


SPECS: dict[tuple[str, str], ArraySpec] = {}


def add_specs(*specs: ArraySpec) -> None:
    for spec in specs:
        SPECS[(spec.family, spec.key)] = spec


def array_schema(family: str, key: str, parts: tuple[str, ...] = PARTS) -> DataArraySchema:
    """Return the pandera schema of ``key`` in ``family``, limited to ``parts`` (layout, dtype, values)."""
    return _build_schema(SPECS[(family, key)], tuple(parts))


def family_schemas(family: str) -> dict[str, DataArraySchema]:
    """Return the whole schema of every array of ``family`` that has one."""
    return {key: array_schema(family, key) for (name, key) in SPECS if name == family}


def schemas_yaml(family: str) -> str:
    """Return the schemas of ``family`` as YAML, one document per array, keyed by the array name."""
    import pandera.xarray as px

    documents = []
    for key, schema in family_schemas(family).items():
        documents.append(f"# {family} {key}\n{px.to_yaml(schema)}")
    return "---\n".join(documents)


@functools.lru_cache(maxsize=None)
def _build_schema(spec: ArraySpec, parts: tuple[str, ...]) -> DataArraySchema:
    import pandera.xarray as px

    options: dict[str, Any] = {"name": spec.key, "nullable": True}
    if LAYOUT in parts:
        options["dims"] = spec.dims
        if spec.shape is not None:
            options["shape"] = spec.shape
    if DTYPE in parts and spec.dtype is not None:
        options["dtype"] = np.dtype(spec.dtype).type
    if VALUES in parts:
        checks = []
        if spec.finite:
            options["nullable"] = False
            checks += [px.Check.gt(-np.inf), px.Check.lt(np.inf)]
        if spec.minimum is not None:
            checks.append(px.Check.ge(spec.minimum))
        if spec.value_range is not None:
            checks.append(px.Check.in_range(*spec.value_range))
        options["checks"] = checks
    return px.DataArraySchema(**options)


def schema_findings(family: str, key: str, value: object, part: str, expected: str, fix: str) -> list[Finding]:
    """Validate ``value`` against one part of its key's schema; one finding when it fails.

    The finding's ``seen`` joins pandera's messages; for the values part ``index`` is
    the first offending element.
    """
    spec = SPECS[(family, key)]
    shape = shape_of(value)
    dtype = numpy_dtype(value)
    if dtype is None:
        if part != DTYPE:
            return []
        return [Finding(key=key, seen=f"dtype {_dtype_text(value)} (no NumPy equivalent)", expected=expected, fix=fix)]
    if part == VALUES:
        if dtype.kind == "c":
            # pandera's comparison checks do not order complex values; see the module docstring.
            return []
        data = to_numpy(value)
    else:
        data = np.lib.stride_tricks.as_strided(np.zeros(1, dtype=dtype), shape=shape, strides=(0,) * len(shape))
    failed = _validate(spec, (part,), data)
    if not failed:
        return []
    if part == LAYOUT:
        seen = f"shape {shape} ({'; '.join(failed)})"
    elif part == DTYPE:
        seen = f"dtype {_dtype_text(value)}"
    else:
        bad = _value_failures(spec, data)
        seen = f"{int(bad.sum())} of {data.size} values fail {', '.join(failed)}"
        return [Finding(key=key, seen=seen, expected=expected, fix=fix, index=first_index(bad))]
    return [Finding(key=key, seen=seen, expected=expected, fix=fix)]


def _validate(spec: ArraySpec, parts: tuple[str, ...], data: np.ndarray) -> list[str]:
    """Return pandera's message per failed layout part, or the name per failed value check."""
    import pandera.xarray as px
    import xarray as xr

    dims = spec.dims if data.ndim == len(spec.dims) else tuple(f"axis_{i}" for i in range(data.ndim))
    try:
        _build_schema(spec, parts).validate(xr.DataArray(data, dims=dims, name=spec.key), lazy=True)
    except px.errors.SchemaErrors as errors:
        return [_describe(error, parts) for error in errors.schema_errors]
    return []


def _describe(error: Exception, parts: tuple[str, ...]) -> str:
    check = getattr(error, "check", None)
    if VALUES in parts:
        name = getattr(check, "name", None) or str(check)
        value = getattr(getattr(check, "statistics", None) or {}, "get", lambda *_: None)("value")
        if name == "nullable":
            return "not NaN"
        return f"{name}({value})" if value is not None else name
    return str(error.args[0] if error.args else error)


def _value_failures(spec: ArraySpec, data: np.ndarray) -> np.ndarray:
    bad = np.zeros(data.shape, dtype=bool)
    if spec.finite:
        bad |= ~np.isfinite(data)
    with np.errstate(invalid="ignore"):
        if spec.minimum is not None:
            bad |= data < spec.minimum
        if spec.value_range is not None:
            bad |= (data < spec.value_range[0]) | (data > spec.value_range[1])
    return bad


def _dtype_text(value: object) -> str:
    from contracts.runtime import dtype_name

    return dtype_name(value)
