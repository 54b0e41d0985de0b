"""Run both expressions of a fix on the same synthetic operands and compare what they do: the result's
shape, dtype and values, the gradient with respect to every operand, and whether each raises."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

from einlint.verify.allowlist import compile_checked
from einlint.verify.expressions import ExpressionPair
from einlint.verify.inputs import InputCase, make_inputs
from einlint.verify.runtime import exact_float32, require_torch

# Largest error relative to the largest magnitude in the original's result (and gradient) that still
# counts as equal: a few units of rounding for the dtype, summed over a contraction.
TOLERANCES = {"float32": 1e-5, "float64": 1e-12, "bfloat16": 1e-2, "float16": 5e-3}

MATCH, MISMATCH, SKIPPED, BOTH_RAISE = "match", "mismatch", "skipped", "both raise"
# The context autocast checks run in, and the tolerance there: bfloat16 keeps 8 bits of mantissa.
AUTOCAST_CONTEXT = "CPU autocast (bfloat16)"
AUTOCAST_TOLERANCE = 2e-2
# How torch's allocators word a failed allocation: an expression that hits one has not raised on its
# own account, the machine ran out, so the pair is not verifiable rather than "not equivalent".
_ALLOCATION_FAILURES = ("can't allocate memory", "out of memory", "not enough memory")


class ResourceExhausted(Exception):
    """An allocation failed while running an expression."""


@dataclass(frozen=True)
class CaseOutcome:
    case: str
    dtype: str
    status: str  # match, mismatch, skipped (a variant the original rejects), both raise
    detail: str = ""
    max_error: float | None = None  # of the values, relative to the original's largest magnitude
    grad_error: float | None = None  # the same for the gradients, the largest over the operands
    # Whether the original's and the rewrite's results are contiguous.
    contiguous: tuple[bool, bool] | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> CaseOutcome:
        contiguous = data.get("contiguous")
        return cls(**{**data, "contiguous": tuple(contiguous) if contiguous is not None else None})


def compile_pair(pair: ExpressionPair) -> tuple[Callable, Callable]:
    """Both expressions as functions of their operands, compiled by the allowlist module, which checks
    them again and runs them with no builtins and only ``torch`` in scope."""
    torch = require_torch()
    return (
        compile_checked(pair.original_code, pair.placeholders, torch),
        compile_checked(pair.rewritten_code, pair.placeholders, torch),
    )


def check_case(original: Callable, rewritten: Callable, case: InputCase, dtype: str, device: str, seed: int, sizes_assumed: bool = False) -> CaseOutcome:
    """One input case. ``sizes_assumed``: the fix assumes matched sizes are equal, so where the rewrite
    raises on a broadcasting variant the original accepted, the assumption failed loudly, as it should."""
    torch = require_torch()
    with exact_float32():
        inputs = make_inputs(case, dtype, device, seed)
        expected, expected_error = _call(original, inputs)
        actual, actual_error = _call(rewritten, inputs)
        if expected_error and actual_error:
            return CaseOutcome(case.name, dtype, BOTH_RAISE, f"original: {expected_error}; rewrite: {actual_error}")
        if expected_error:
            if case.optional:
                return CaseOutcome(case.name, dtype, SKIPPED, f"the original rejects these shapes: {expected_error}")
            return CaseOutcome(case.name, dtype, MISMATCH, f"the original raises ({expected_error}) where the rewrite does not")
        if actual_error:
            if case.optional and sizes_assumed:
                return CaseOutcome(case.name, dtype, SKIPPED, f"broadcast sizes, which the fix assumes away: {actual_error}")
            return CaseOutcome(case.name, dtype, MISMATCH, f"the rewrite raises ({actual_error}) where the original does not")
        if not isinstance(expected, torch.Tensor) or not isinstance(actual, torch.Tensor):
            return CaseOutcome(case.name, dtype, MISMATCH, "an expression does not return a tensor")
        contiguous = (expected.is_contiguous(), actual.is_contiguous())
        if expected.shape != actual.shape:
            return CaseOutcome(case.name, dtype, MISMATCH, f"shape {tuple(actual.shape)} instead of {tuple(expected.shape)}", contiguous=contiguous)
        if expected.dtype != actual.dtype:
            return CaseOutcome(case.name, dtype, MISMATCH, f"dtype {actual.dtype} instead of {expected.dtype}", contiguous=contiguous)
        tolerance = TOLERANCES[dtype]
        error = relative_error(actual, expected)
        if not error <= tolerance:
            return CaseOutcome(case.name, dtype, MISMATCH, f"values differ (error {error:.2g} > {tolerance:g})", error, contiguous=contiguous)
        grad_error, problem = _gradient_error(expected, actual, inputs, tolerance, seed)
        if problem:
            return CaseOutcome(case.name, dtype, MISMATCH, problem, error, grad_error, contiguous)
        return CaseOutcome(case.name, dtype, MATCH, "", error, grad_error, contiguous)


def _call(function: Callable, inputs: list) -> tuple[object, str]:
    try:
        return function(*inputs), ""
    except MemoryError as error:
        raise ResourceExhausted(_one_line(error)) from None
    except Exception as error:  # noqa: BLE001 - raising is an outcome to compare, not a failure
        if is_allocation_failure(error):
            raise ResourceExhausted(_one_line(error)) from None
        return None, _one_line(error)


def is_allocation_failure(error: BaseException) -> bool:
    if isinstance(error, (MemoryError, ResourceExhausted)):
        return True
    return isinstance(error, RuntimeError) and any(words in str(error).lower() for words in _ALLOCATION_FAILURES)


def check_autocast(original: Callable, rewritten: Callable, case: InputCase, seed: int) -> CaseOutcome:
    """Both expressions on float32 operands under CPU autocast to bfloat16: the result's dtype must be
    the same and its values agree within bfloat16's precision (an einsum autocasts where an elementwise
    product and a sum do not). Gradients are not compared here."""
    torch = require_torch()
    with exact_float32(), torch.no_grad():
        inputs = make_inputs(case, "float32", "cpu", seed)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            expected, expected_error = _call(original, inputs)
            actual, actual_error = _call(rewritten, inputs)
    name = f"{case.name} under {AUTOCAST_CONTEXT}"
    if expected_error or actual_error:
        if expected_error and actual_error:
            return CaseOutcome(name, "float32", BOTH_RAISE, f"original: {expected_error}; rewrite: {actual_error}")
        which = "original" if expected_error else "rewrite"
        return CaseOutcome(name, "float32", MISMATCH, f"only the {which} raises ({expected_error or actual_error})")
    if not isinstance(expected, torch.Tensor) or not isinstance(actual, torch.Tensor):
        return CaseOutcome(name, "float32", MISMATCH, "an expression does not return a tensor")
    if expected.shape != actual.shape:
        return CaseOutcome(name, "float32", MISMATCH, f"shape {tuple(actual.shape)} instead of {tuple(expected.shape)}")
    if expected.dtype != actual.dtype:
        detail = f"the rewrite's result is {actual.dtype} where the original's is {expected.dtype}"
        return CaseOutcome(name, "float32", MISMATCH, detail)
    error = relative_error(actual, expected)
    if not error <= AUTOCAST_TOLERANCE:
        return CaseOutcome(name, "float32", MISMATCH, f"values differ (error {error:.2g} > {AUTOCAST_TOLERANCE:g})", error)
    return CaseOutcome(name, "float32", MATCH, "", error)


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:200]


def relative_error(actual, expected) -> float:
    """The largest absolute difference over the largest magnitude of ``expected`` (absolute when that
    is zero); NaN and infinity count as an infinite error."""
    torch = require_torch()
    if expected.numel() == 0:
        return 0.0
    expected = expected.detach().to(torch.float64)
    actual = actual.detach().to(torch.float64)
    scale = expected.abs().max().item()
    difference = (actual - expected).abs().max().item()
    if math.isnan(difference) or math.isinf(difference):
        return math.inf
    return difference / scale if scale > 0 else difference


def _gradient_error(expected, actual, inputs: list, tolerance: float, seed: int) -> tuple[float | None, str]:
    torch = require_torch()
    if not (expected.dtype.is_floating_point and expected.requires_grad):
        return None, ""
    if not actual.requires_grad:
        return None, "no gradient flows through the rewrite"
    generator = torch.Generator().manual_seed(seed + 1)
    upstream = torch.randn(tuple(expected.shape), generator=generator, dtype=torch.float64).to(expected)
    try:
        expected_grads = torch.autograd.grad(expected, inputs, upstream, allow_unused=True)
        actual_grads = torch.autograd.grad(actual, inputs, upstream, allow_unused=True)
    except Exception as error:  # noqa: BLE001
        return None, f"the backward pass raises ({_one_line(error)})"
    worst = 0.0
    for index, (want, got) in enumerate(zip(expected_grads, actual_grads)):
        want = torch.zeros_like(inputs[index]) if want is None else want
        got = torch.zeros_like(inputs[index]) if got is None else got
        gradient_error = relative_error(got, want)
        worst = max(worst, gradient_error)
        if not gradient_error <= tolerance:
            return worst, f"the gradient of operand x{index} differs (error {gradient_error:.2g} > {tolerance:g})"
    return worst, ""
