"""The BATCH family: torch tensors at the inference stage boundaries.

A batch entering the network is ``X`` (B, C, N, N) float32 amplitudes, channels first,
with its scan ``positions`` float32 (B, ...) and the ``probe`` (N, N) complex64; the
network's ``output`` is (B, C, N, N) complex64. N is 64, 128 or 256. Every tensor sits on
the expected device. The checks read only shapes, dtypes and devices, never values, so a
guard costs no copy and no device synchronisation. Dtypes and layouts go through the
pandera schemas of ``contracts.schemas``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from contracts.rules import Finding, Severity, Violation, register, rule_builder
from contracts.runtime import RuntimeView, check_family, device_of, replace, shape_of
from contracts.schemas import DTYPE, LAYOUT, ArraySpec, add_specs, schema_findings

logger = logging.getLogger(__name__)

FAMILY = "BATCH"

INPUT = "X"
POSITIONS = "positions"
PROBE = "probe"
OUTPUT = "output"
EXPECTED_DEVICE = "expected_device"
TENSOR_KEYS = (INPUT, POSITIONS, PROBE, OUTPUT)
SUPPORTED_PATCH_PX = (64, 128, 256)

add_specs(
    ArraySpec(FAMILY, INPUT, ("batch", "channel", "row", "col"), shape=(None, None, None, None), dtype="float32"),
    ArraySpec(FAMILY, POSITIONS, ("batch",), dtype="float32"),
    ArraySpec(FAMILY, PROBE, ("row", "col"), shape=(None, None), dtype="complex64"),
    ArraySpec(FAMILY, OUTPUT, ("batch", "channel", "row", "col"), shape=(None, None, None, None), dtype="complex64"),
)


def check_batch_tensors(
    tensors: Mapping[str, Any], device: str | None = None, source: str = "<memory>"
) -> list[Violation]:
    """Check the tensors of one inference batch against every BATCH rule.

    ``tensors`` contains any of ``X``, ``positions``, ``probe`` and ``output``; absent
    keys are skipped, so a guard before the network can omit ``output``. ``device``
    (``"cpu"``, ``"cuda:0"``) is where every tensor must be; None skips that rule.
    """
    params = {EXPECTED_DEVICE: device} if device is not None else None
    return check_family(FAMILY, tensors, params, source)


def _input_shape(view: RuntimeView) -> tuple[int, int, int, int] | None:
    """Return X's (B, C, N, N) when X has a valid channel-first layout."""
    value = view.get(INPUT)
    if value is None:
        return None
    shape = shape_of(value)
    if not _is_channel_first(shape):
        return None
    return shape  # type: ignore[return-value]


def _is_channel_first(shape: tuple[int, ...]) -> bool:
    return (
        len(shape) == 4 and 0 not in shape and shape[2] == shape[3] and math.isqrt(shape[1]) ** 2 == shape[1]
    )


# ---------------------------------------------------------------------------
# Section 6.1: network input X.


def check_input_layout(view: RuntimeView) -> list[Finding]:
    value = view.get(INPUT)
    if value is None:
        return []
    expected = "(B, C, N, N) channels first, C = gridsize^2"
    found = schema_findings(FAMILY, INPUT, value, LAYOUT, expected, "store X as (B, C, N, N)")
    if found:
        return found
    shape = shape_of(value)
    if _is_channel_first(shape):
        return []
    if shape[1] == shape[2] and math.isqrt(shape[3]) ** 2 == shape[3] and shape[3] != shape[2]:
        return [Finding(key=INPUT, seen=f"shape {shape}: channels last (B, N, N, C)", expected=expected,
                        fix="permute it: X = X.permute(0, 3, 1, 2).contiguous()")]
    return [Finding(key=INPUT, seen=f"shape {shape}", expected=expected,
                    fix="stack square N x N patterns, gridsize^2 per sample, as (B, C, N, N)")]


def check_input_dtype(view: RuntimeView) -> list[Finding]:
    value = view.get(INPUT)
    if value is None:
        return []
    return schema_findings(FAMILY, INPUT, value, DTYPE, "dtype float32", "cast it: X = X.to(torch.float32)")


def check_patch_size(view: RuntimeView) -> list[Finding]:
    shape = _input_shape(view)
    if shape is None or shape[2] in SUPPORTED_PATCH_PX:
        return []
    return [Finding(key=INPUT, seen=f"N = {shape[2]}", expected="N in {64, 128, 256}",
                    fix="crop or resample the patterns to 64, 128 or 256 pixels, and the probe with them")]


# ---------------------------------------------------------------------------
# Section 6.2: positions.


def check_positions_dtype(view: RuntimeView) -> list[Finding]:
    value = view.get(POSITIONS)
    if value is None:
        return []
    return schema_findings(FAMILY, POSITIONS, value, DTYPE, "dtype float32",
                           "cast it: positions = positions.to(torch.float32)")


def check_batch_sizes(view: RuntimeView) -> list[Finding]:
    sizes = {}
    for key in (INPUT, POSITIONS, OUTPUT):
        value = view.get(key)
        if value is not None and len(shape_of(value)) >= 1:
            sizes[key] = shape_of(value)[0]
    if len(set(sizes.values())) <= 1:
        return []
    reference_key, reference = next(iter(sizes.items()))
    listing = ", ".join(f"{key} {size}" for key, size in sizes.items())
    return [
        Finding(key=key, seen=f"B = {size} ({listing})", expected=f"B = {reference}, as in {reference_key}",
                fix="take positions and outputs from the same batch as X")
        for key, size in sizes.items() if size != reference
    ]


# ---------------------------------------------------------------------------
# Section 6.3: probe and output.


def check_probe(view: RuntimeView) -> list[Finding]:
    value = view.get(PROBE)
    if value is None:
        return []
    expected = "(N, N) complex64, N as in X"
    found = schema_findings(FAMILY, PROBE, value, DTYPE, expected, "cast it: probe = probe.to(torch.complex64)")
    if found:
        return found
    shape = shape_of(value)
    input_shape = _input_shape(view)
    size = input_shape[2] if input_shape is not None else None
    if len(shape) != 2 or shape[0] != shape[1] or (size is not None and shape[0] != size):
        return [Finding(key=PROBE, seen=f"shape {shape}", expected=expected,
                        fix="use one (N, N) probe of the pattern size; squeeze leading length-1 axes")]
    return []


def check_output(view: RuntimeView) -> list[Finding]:
    value = view.get(OUTPUT)
    if value is None:
        return []
    expected = "complex64 with the shape (B, C, N, N) of X"
    found = schema_findings(FAMILY, OUTPUT, value, DTYPE, expected,
                            "return torch.polar(amplitude, phase) in float32, which is complex64")
    if found:
        return found
    input_shape = _input_shape(view)
    shape = shape_of(value)
    if input_shape is not None and shape[1:] != input_shape[1:]:
        return [Finding(key=OUTPUT, seen=f"shape {shape}", expected=f"{expected}: (B, {', '.join(map(str, input_shape[1:]))})",
                        fix="return one complex patch per input channel, channels first")]
    return []


# ---------------------------------------------------------------------------
# Section 6.4: device.


def check_device(view: RuntimeView) -> list[Finding]:
    expected_device = view.params.get(EXPECTED_DEVICE)
    if expected_device is None:
        return []
    findings = []
    for key in TENSOR_KEYS:
        value = view.get(key)
        if value is None:
            continue
        device = device_of(value)
        if _same_device(device, str(expected_device)):
            continue
        fix = f"move it: {key} = {key}.to({str(expected_device)!r})"
        if device == "numpy":
            fix = f"make it a tensor: {key} = torch.from_numpy({key}).to({str(expected_device)!r})"
        findings.append(Finding(key=key, seen=f"device {device}", expected=f"device {expected_device}", fix=fix))
    return findings


def _same_device(device: str, expected: str) -> bool:
    """Compare devices. An expected device without an index (``cuda``) matches every index (``cuda:0``)."""
    if device == expected:
        return True
    return ":" not in expected and device.split(":")[0] == expected


# ---------------------------------------------------------------------------
# Examples.


def make_valid_batch(batch_size: int = 2, gridsize: int = 1, patch_px: int = 64, seed: int = 0) -> dict[str, Any]:
    """Build CPU tensors of one batch that pass every BATCH rule, with ``expected_device`` "cpu"."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    channels = gridsize * gridsize
    shape = (batch_size, channels, patch_px, patch_px)
    probe = torch.polar(torch.ones(patch_px, patch_px), torch.zeros(patch_px, patch_px))
    output = torch.polar(torch.rand(shape, generator=generator), torch.rand(shape, generator=generator) - 0.5)
    return {
        INPUT: torch.rand(shape, generator=generator),
        POSITIONS: torch.rand((batch_size, 2), generator=generator) * 100,
        PROBE: probe,
        OUTPUT: output,
        EXPECTED_DEVICE: "cpu",
    }


def _crop_all(arrays: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    size = 32
    changed = dict(arrays)
    changed[INPUT] = arrays[INPUT][..., :size, :size].contiguous()
    changed[PROBE] = arrays[PROBE][:size, :size].contiguous()
    changed[OUTPUT] = arrays[OUTPUT][..., :size, :size].contiguous()
    return changed


def _to_meta(arrays: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    key = TENSOR_KEYS[int(rng.integers(len(TENSOR_KEYS)))]
    return replace(arrays, key, arrays[key].to("meta"))


_rule = rule_builder(FAMILY, make_valid_batch)


def _torch_dtype(name: str) -> Any:
    import torch

    return getattr(torch, name)


BATCH_RULES = (
    _rule(1, Severity.ERROR, "6.1", "X is (B, C, N, N) channels first",
          "X has four non-empty axes (B, C, N, N): square frames, C = gridsize^2 channels before them. "
          "Channels last (B, N, N, C) is reported with the permute that fixes it.",
          check_input_layout, lambda a, rng: replace(a, INPUT, a[INPUT].permute(0, 2, 3, 1))),
    _rule(2, Severity.ERROR, "6.1", "X is float32",
          "X has dtype float32.",
          check_input_dtype, lambda a, rng: replace(a, INPUT, a[INPUT].to(_torch_dtype("float64")))),
    _rule(3, Severity.ERROR, "6.1", "N is 64, 128 or 256",
          "The frame size N of X is 64, 128 or 256.",
          check_patch_size, _crop_all),
    _rule(4, Severity.ERROR, "6.2", "positions are float32",
          "positions has dtype float32.",
          check_positions_dtype, lambda a, rng: replace(a, POSITIONS, a[POSITIONS].to(_torch_dtype("float64")))),
    _rule(5, Severity.ERROR, "6.2", "batch sizes agree",
          "X, positions and output have the same leading axis B.",
          check_batch_sizes, lambda a, rng: replace(a, POSITIONS, a[POSITIONS][:-1])),
    _rule(6, Severity.ERROR, "6.3", "probe is (N, N) complex64",
          "probe has dtype complex64 and shape (N, N) with the N of X.",
          check_probe, lambda a, rng: replace(a, PROBE, a[PROBE].to(_torch_dtype("complex128")))),
    _rule(7, Severity.ERROR, "6.3", "output is complex64 (B, C, N, N)",
          "output has dtype complex64 and the shape of X.",
          check_output, lambda a, rng: replace(a, OUTPUT, a[OUTPUT].to(_torch_dtype("complex128")))),
    _rule(8, Severity.ERROR, "6.4", "tensors on the expected device",
          "With an expected device given, X, positions, probe and output are torch tensors on it.",
          check_device, _to_meta),
)

register(BATCH_RULES)
